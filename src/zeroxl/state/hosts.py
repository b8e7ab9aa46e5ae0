"""The hosts 0xl manages from this machine (docs/fleet.md): ZEROXL_HOME/hosts.json, written atomically.

Each host is a NAME and the libvirt URI that reaches it (`qemu+ssh://root@kvm1/system`, `xen+ssh://…`,
`qemu+tls://…`). The host `local` is always there and is this machine, with whatever backend it has: it
is not in the file, and cannot be added or removed. One host is the default of the service commands
(`local` unless `host add --default` said otherwise); `--host NAME` and ZEROXL_HOST choose another.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from zeroxl.errors import ConfigError, ConflictError, NotFoundError, StateError, UsageError
from zeroxl.host.names import SERVICE_NAME
from zeroxl.state import atomic

LOCAL = "local"
AUTO = "auto"  # `add --host auto`: placement chooses the host (app.fleet)
FILE = "hosts.json"
ENV = "ZEROXL_HOST"
# libvirt's drivers that 0xl's libvirt backend can drive; a transport (+ssh, +tls, +tcp, +unix, +ext) may follow.
_DRIVERS = ("qemu", "xen")
_TRANSPORTS = ("", "ssh", "libssh2", "libssh", "tls", "tcp", "unix", "ext")


@dataclass(frozen=True)
class Host:
    name: str
    uri: str  # "" for the host local: this machine, as config.toml configures it
    pool: str | None = None  # the host's storage pool for disks and boot volumes; None: 0xl's own


def check_name(name: str) -> str:
    if not SERVICE_NAME.fits(name):
        raise UsageError(f"{name!r} is not a host name: {SERVICE_NAME.text}")
    return name


def check_uri(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    driver, _, transport = scheme.partition("+")
    if not sep or driver not in _DRIVERS or transport not in _TRANSPORTS or "/" not in rest:
        raise UsageError(
            f"{uri!r} is not a libvirt URI 0xl can use",
            hint="for instance qemu+ssh://root@kvm1/system, xen+ssh://root@dom0/, qemu+tls://kvm2/system",
        )
    if any(c.isspace() or not c.isprintable() for c in uri):
        raise UsageError(f"{uri!r} is not a libvirt URI 0xl can use: it holds blanks or control characters")
    return uri


class Hosts:
    """The registry of hosts in one ZEROXL_HOME."""

    def __init__(self, home_root: Path) -> None:
        self.path = home_root / FILE

    def _read(self) -> dict[str, object]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"default": LOCAL, "hosts": {}}
        except (OSError, ValueError) as e:
            raise StateError(f"cannot read {self.path}: {e}") from None
        if not isinstance(data, dict) or not isinstance(data.get("hosts"), dict):
            raise StateError(f"{self.path} is not a registry of hosts 0xl wrote")
        return data

    def _write(self, data: dict[str, object]) -> None:
        atomic.write_text(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")

    def all(self) -> list[Host]:
        """Every host, `local` first, then by name."""
        hosts = self._hosts(self._read())
        return [Host(LOCAL, ""), *(Host(n, str(v["uri"]), v.get("pool")) for n, v in sorted(hosts.items()))]

    def default(self) -> str:
        return str(self._read().get("default") or LOCAL)

    def get(self, name: str) -> Host:
        for host in self.all():
            if host.name == name:
                return host
        raise NotFoundError(f"no host {name}", hint="0xl host list shows the hosts; 0xl host add NAME URI adds one")

    def _hosts(self, data: dict[str, object]) -> dict[str, dict[str, str]]:
        hosts = data["hosts"]
        if not isinstance(hosts, dict):
            raise StateError(f"{self.path} is not a registry of hosts 0xl wrote")
        return hosts

    def add(self, name: str, uri: str, *, pool: str | None = None, default: bool = False) -> Host:
        check_name(name)
        check_uri(uri)
        if name == LOCAL:
            raise UsageError("the host local is this machine: it cannot be added", hint="give the host another name")
        if name == AUTO:
            raise UsageError(
                "`--host auto` asks 0xl to choose a host: no host may be named auto", hint="give the host another name"
            )
        data = self._read()
        hosts = self._hosts(data)
        if name in hosts:
            raise ConflictError(
                f"there is a host {name} already ({hosts[name]['uri']})", hint=f"0xl host remove {name} first"
            )
        if pool is not None and (not pool or any(c.isspace() or not c.isprintable() or c == "/" for c in pool)):
            raise UsageError(f"{pool!r} is not a storage pool name")
        hosts[name] = {"uri": uri, **({"pool": pool} if pool else {})}
        if default:
            data["default"] = name
        self._write(data)
        return Host(name, uri, pool)

    def remove(self, name: str) -> Host:
        if name == LOCAL:
            raise UsageError("the host local is this machine: it cannot be removed")
        data = self._read()
        hosts = self._hosts(data)
        if name not in hosts:
            raise NotFoundError(f"no host {name}", hint="0xl host list shows the hosts")
        host = Host(name, str(hosts.pop(name)["uri"]))
        if data.get("default") == name:
            data["default"] = LOCAL
        self._write(data)
        return host


def check_policy_hosts(home_root: Path, named: Iterable[str]) -> None:
    """Refuse a [hosts.NAME.policy] of config.toml whose NAME is no host here: a misspelt host's limits
    would otherwise be no limits (ConfigError, with the closest host's name)."""
    known = [h.name for h in Hosts(home_root).all()]
    for name in named:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            raise ConfigError(
                f"config.toml: [hosts.{name}.policy] names no host",
                hint=f"did you mean [hosts.{close[0]}.policy]?"
                if close
                else f"the hosts are {', '.join(known)} (0xl host list); 0xl host add {name} URI adds it",
            )
