"""The host's configuration and policy: ZEROXL_HOME/config.toml, typed and validated on load.

Every key is optional. A file that does not parse, a value of the wrong type, or a key or table 0xl
does not know (a typo: `max_disk_sise`) is an error naming the key (ConfigError), and the known one it
is closest to: a policy that silently falls back to "no limit" would be worse than none.

    [policy]
    max_memory = 1024            # MiB per service
    max_total_memory = 4096      # MiB for all services together
    max_disk_size = "20G"
    bridges = ["xenbr0"]         # bridges a service may be attached to

    [hosts.kvm1.policy]          # the host kvm1's policy (docs/fleet.md): each key given here replaces
    max_total_memory = 16384     # [policy]'s on that host; the others are [policy]'s. `local` is this machine

    [disks]
    volume_group = "vg0"         # disks are LVM volumes there; without it, sparse files

    [trust]
    key_info_server = "https://keys.example.org"   # hints about unknown keys; none by default
    max_clock_skew = "5m"        # refuse signatures dated further ahead of this host's clock
    max_signature_age = "60d"    # refuse feeds signed longer ago (freeze attacks); no limit by default
    warn_signature_age = "90d"   # status and update --check warn about feeds signed longer ago

    [store]
    keep = 3                     # implementations kept per service for rollback
    max_unpacked_size = "8G"     # what one archive may unpack to (files' bytes), against decompression bombs
    max_unpack_ratio = 100       # ... and at most this many times the archive's size (at least 1 MiB)

    [unix]
    stop_timeout = 10            # seconds between SIGTERM and SIGKILL (0: SIGKILL at once)
    restart_limit = 5            # restarts within restart_window before the service is failed (0: none)
    restart_window = 60          # seconds (more than 0)

    [libvirt]                    # the libvirt backend (docs/libvirt.md)
    uri = "qemu:///system"       # the hypervisor libvirt drives (the default; xen:///system works too)
    domain_type = "qemu"         # kvm or qemu (software CPU); default kvm where the CPU has vmx or svm
    pool = "0xl"                 # the storage pool of disks; the default "0xl" is made under ZEROXL_HOME
    stop_timeout = 10            # seconds a domain gets to power off before it is destroyed

    [fetch]                      # feeds, keys and archives (docs/publishing.md#behind-an-http-proxy)
    proxy = "http://proxy.lan:3128"   # every http(s) fetch goes through it; "" for none. Without
                                 # this key: https_proxy, http_proxy, all_proxy from the environment
    no_proxy = ["mirror.lan", "10.0.0.0/8"]   # hosts and networks reached directly

    [mirrors]                    # origin prefix = mirror location (feeds.mirrors, check_mirrors)
    "https://example.org/feeds/" = "http://mirror.lan/example/"
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from zeroxl.errors import ConfigError
from zeroxl.host.proxies import check_proxy, split_no_proxy
from zeroxl.host.units import parse_duration, parse_size


@dataclass(frozen=True)
class Policy:
    max_memory: int | None = None
    max_total_memory: int | None = None
    max_disk_size: int | None = None
    bridges: tuple[str, ...] | None = None


@dataclass(frozen=True)
class UnixSettings:
    stop_timeout: float = 10.0
    restart_limit: int = 5
    restart_window: float = 60.0


@dataclass(frozen=True)
class LibvirtSettings:
    """[libvirt]: where the libvirt backend's domains and disks live (backends.libvirt; docs/libvirt.md)."""

    configured: bool = False  # whether config.toml has a [libvirt] table (`0xl disk list` asks libvirt then)
    uri: str = "qemu:///system"
    domain_type: str | None = None  # None: kvm where the CPU can, else qemu
    pool: str | None = None  # None: the pool "0xl", a directory under ZEROXL_HOME made when first needed
    stop_timeout: float = 10.0


LIBVIRT_DOMAIN_TYPES = ("kvm", "qemu")


def is_xen_uri(uri: str) -> bool:
    """Whether the libvirt URI names libvirt's Xen driver (xen:///system, xen+ssh://host/system, …)."""
    return uri.partition(":")[0].partition("+")[0].lower() == "xen"


def _libvirt_settings(data: dict[str, Any]) -> LibvirtSettings:
    if "libvirt" not in data:
        return LibvirtSettings()
    table = _table(data, "libvirt")
    uri = _get(table, "uri", str, "libvirt")
    domain_type = _get(table, "domain_type", str, "libvirt")
    pool = _get(table, "pool", str, "libvirt")
    stop_timeout = _get(table, "stop_timeout", (int, float), "libvirt")
    if uri is not None and ("://" not in uri or any(c.isspace() or not c.isprintable() for c in uri)):
        raise ConfigError(f"config.toml: [libvirt] uri {uri!r} is not a libvirt URI", hint="e.g. qemu:///system")
    if domain_type is not None and domain_type not in LIBVIRT_DOMAIN_TYPES:
        raise ConfigError(
            f"config.toml: [libvirt] domain_type must be one of {', '.join(LIBVIRT_DOMAIN_TYPES)}, not {domain_type!r}"
        )
    if pool is not None and not (
        0 < len(pool) <= 64 and all(c.isascii() and (c.isalnum() or c in "_.-") for c in pool)
    ):
        raise ConfigError(
            f"config.toml: [libvirt] pool {pool!r} is not a pool name", hint="letters, digits, '_', '.' and '-'"
        )
    if stop_timeout is not None and not 0 <= stop_timeout < math.inf:
        raise ConfigError(f"config.toml: [libvirt] stop_timeout must be 0 or more seconds (it is {stop_timeout})")
    defaults = LibvirtSettings()
    return LibvirtSettings(
        configured=True,
        uri=uri or defaults.uri,
        domain_type=domain_type,
        pool=pool,
        stop_timeout=float(defaults.stop_timeout if stop_timeout is None else stop_timeout),
    )


@dataclass(frozen=True)
class SignatureLimits:
    """[trust] limits on when a feed was signed (feeds.trust.check_signature; docs/updates.md)."""

    max_clock_skew: int = 300  # seconds a signature may be dated ahead of this host's clock
    max_age: int | None = None  # seconds; a feed signed longer ago is refused (None: no limit)
    warn_age: int = 90 * 86400  # seconds; status and update --check warn about older signatures


def signature_limits(trust: dict[str, Any]) -> SignatureLimits:
    """The [trust] durations: a string with a unit ("5m", "30d") or a whole number of seconds."""

    def duration(key: str) -> int | None:
        value = _get(trust, key, (str, int), "trust")
        if value is None:
            return None
        if isinstance(value, int):
            if value < 0:
                raise ConfigError(f"config.toml: [trust] {key} must not be negative")
            return value
        return parse_duration(value, what=f"[trust] {key}", error=ConfigError)

    defaults = SignatureLimits()
    skew, max_age, warn = duration("max_clock_skew"), duration("max_signature_age"), duration("warn_signature_age")
    return SignatureLimits(
        max_clock_skew=defaults.max_clock_skew if skew is None else skew,
        max_age=max_age or None,
        warn_age=defaults.warn_age if warn is None else warn,
    )


@dataclass(frozen=True)
class Config:
    policy: Policy = field(default_factory=Policy)
    volume_group: str | None = None
    key_info_server: str | None = None
    keep: int = 3
    # Unpacking limits (feeds.extract.ExtractLimits, which holds the defaults); None: the default.
    max_unpacked_size: int | None = None
    max_unpack_ratio: int | None = None
    unix: UnixSettings = field(default_factory=UnixSettings)
    mirrors: dict[str, str] = field(default_factory=dict)
    signatures: SignatureLimits = field(default_factory=SignatureLimits)
    libvirt: LibvirtSettings = field(default_factory=LibvirtSettings)
    # [fetch] proxy, checked (host.proxies.check_proxy); None: the environment decides, "": no proxy.
    proxy: str | None = None
    no_proxy: tuple[str, ...] = ()
    # [hosts.NAME.policy]: each host's policy, [policy] with the keys that host's table gives replaced.
    host_policies: dict[str, Policy] = field(default_factory=dict)

    def policy_of(self, host: str) -> Policy:
        """The policy on the host named HOST (state.hosts): its own table's, else [policy]."""
        return self.host_policies.get(host, self.policy)


def _get(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = table.get(key)
    if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
        raise ConfigError(f"config.toml: [{where}] {key} has the wrong type ({type(value).__name__})")
    return value


def _size(value: str | int | None, key: str) -> int | None:
    return parse_size(str(value), what=key, error=ConfigError) if value is not None else None


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"config.toml: [{name}] must be a table")
    return table


def _unix_settings(unix: dict[str, Any]) -> UnixSettings:
    """[unix], each value checked: 0 means what it says (no grace before SIGKILL, no restart), never the default."""
    defaults = UnixSettings()
    stop_timeout = _get(unix, "stop_timeout", (int, float), "unix")
    restart_limit = _get(unix, "restart_limit", int, "unix")
    restart_window = _get(unix, "restart_window", (int, float), "unix")
    # Written as ranges that nan (TOML has it, and inf) fails: every comparison with nan is false.
    if stop_timeout is not None and not 0 <= stop_timeout < math.inf:
        raise ConfigError(
            f"config.toml: [unix] stop_timeout must be 0 or more seconds (it is {stop_timeout})",
            hint="the seconds a service has between SIGTERM and SIGKILL when it is stopped; 0 kills it at once",
        )
    if restart_limit is not None and restart_limit < 0:
        raise ConfigError(
            f"config.toml: [unix] restart_limit must be 0 or more (it is {restart_limit})",
            hint="how many times a failing service is restarted within restart_window; 0: never",
        )
    if restart_window is not None and not 0 < restart_window < math.inf:
        raise ConfigError(
            f"config.toml: [unix] restart_window must be more than 0 seconds (it is {restart_window})",
            hint="the seconds within which more than restart_limit failures mark a service failed",
        )
    return UnixSettings(
        stop_timeout=float(defaults.stop_timeout if stop_timeout is None else stop_timeout),
        restart_limit=defaults.restart_limit if restart_limit is None else restart_limit,
        restart_window=float(defaults.restart_window if restart_window is None else restart_window),
    )


_REMOTE = ("http://", "https://")


def check_mirrors(table: dict[str, str]) -> dict[str, str]:
    """The `[mirrors]` table of config.toml, checked: origin prefix -> mirror location.

    Both sides must end with `/`, so that `https://example.org` cannot also match
    `https://example.org.evil.net/`; a local location is an absolute directory (or a file:// URL).
    """
    checked: dict[str, str] = {}
    for origin, given in table.items():
        where = f"config.toml: [mirrors] {origin!r}"
        location = given
        parts = urlsplit(origin)
        if not origin.startswith(_REMOTE) or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(f"{where}: the origin must be an http(s) URL prefix, e.g. 'https://example.org/feeds/'")
        if not origin.endswith("/"):
            raise ConfigError(f"{where}: the origin must end with '/'", hint=f"write {origin + '/'!r}")
        if location.startswith("file://"):
            location = unquote(urlsplit(location).path)
        if location.startswith(_REMOTE):
            if not urlsplit(location).netloc:
                raise ConfigError(f"{where}: the mirror {location!r} has no host")
        elif not location.startswith("/"):
            raise ConfigError(f"{where}: the mirror must be an http(s) URL or an absolute directory, not {location!r}")
        if not location.endswith("/"):
            raise ConfigError(f"{where}: the mirror location must end with '/'", hint=f"write {location + '/'!r}")
        checked[origin] = location
    return checked


def _fetch_settings(fetch: dict[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    proxy = _get(fetch, "proxy", str, "fetch")
    no_proxy = _get(fetch, "no_proxy", (list, str), "fetch")
    if isinstance(no_proxy, list) and not all(isinstance(e, str) for e in no_proxy):
        raise ConfigError("config.toml: [fetch] no_proxy must be a list of host names, addresses or networks")
    if no_proxy is not None and proxy is None:
        raise ConfigError(
            "config.toml: [fetch] no_proxy is set without [fetch] proxy",
            hint="set both, or neither and let https_proxy/no_proxy in the environment decide",
        )
    entries = split_no_proxy(no_proxy) if isinstance(no_proxy, str) else tuple(e.strip() for e in no_proxy or ())
    return (check_proxy(proxy, "config.toml: [fetch] proxy") if proxy else proxy), entries


# Every table and key config.toml may hold ([mirrors] maps any origin prefix, so its keys are free).
KNOWN: dict[str, frozenset[str] | None] = {
    "policy": frozenset({"max_memory", "max_total_memory", "max_disk_size", "bridges"}),
    "disks": frozenset({"volume_group"}),
    "trust": frozenset({"key_info_server", "max_clock_skew", "max_signature_age", "warn_signature_age"}),
    "store": frozenset({"keep", "max_unpacked_size", "max_unpack_ratio"}),
    "unix": frozenset({"stop_timeout", "restart_limit", "restart_window"}),
    "libvirt": frozenset({"uri", "domain_type", "pool", "stop_timeout"}),
    "fetch": frozenset({"proxy", "no_proxy"}),
    "mirrors": None,
    "hosts": None,  # one table per host, each holding only [hosts.NAME.policy] (HOST_KEYS): _check_hosts
}
HOST_KEYS = frozenset({"policy"})


def _unknown(what: str, name: str, known: Iterable[str], shown: str = "{}") -> ConfigError:
    """NAME is not one of KNOWN; SHOWN says how to write a name in the message ("[{}]" for a table)."""
    import difflib

    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {shown.format(close[0])}?" if close else "known: " + ", ".join(shown.format(k) for k in known)
    return ConfigError(f"config.toml: unknown {what} {shown.format(name)}", hint=hint)


def check_known(data: dict[str, Any]) -> None:
    """Refuse a table or key 0xl does not know: a misspelt limit would otherwise be no limit."""
    for name, table in data.items():
        if name not in KNOWN:
            raise _unknown("table", name, KNOWN, "[{}]")
        keys = KNOWN[name]
        if name == "hosts" and isinstance(table, dict):
            _check_hosts(table)
        if keys is None or not isinstance(table, dict):
            continue
        for key in table:
            if key not in keys:
                raise _unknown("key", key, keys, f"[{name}] {{}}")


def _check_hosts(hosts: dict[str, Any]) -> None:
    """[hosts.NAME] holds [hosts.NAME.policy] only, whose keys are [policy]'s. Whether NAME is a host is
    the registry's to say (state.hosts.check_policy_hosts), not this file's."""
    policy_keys = KNOWN["policy"] or frozenset()
    for host, table in hosts.items():
        if not isinstance(table, dict):
            raise ConfigError(f"config.toml: [hosts.{host}] must be a table", hint=f"write [hosts.{host}.policy]")
        for key, value in table.items():
            if key not in HOST_KEYS:
                raise _unknown("table", key, HOST_KEYS, f"[hosts.{host}.{{}}]")
            if not isinstance(value, dict):
                raise ConfigError(f"config.toml: [hosts.{host}.{key}] must be a table")
            for inner in value:
                if inner not in policy_keys:
                    raise _unknown("key", inner, policy_keys, f"[hosts.{host}.policy] {{}}")


def _policy(pol: dict[str, Any], where: str, base: Policy) -> Policy:
    """The policy table POL (at [WHERE]) over BASE: each key POL gives replaces BASE's."""
    size = _get(pol, "max_disk_size", (str, int), where)
    bridges = _get(pol, "bridges", list, where)
    if bridges is not None and not all(isinstance(b, str) for b in bridges):
        raise ConfigError(f"config.toml: [{where}] bridges must be a list of names")
    memory, total = _get(pol, "max_memory", int, where), _get(pol, "max_total_memory", int, where)
    return Policy(
        max_memory=base.max_memory if memory is None else memory,
        max_total_memory=base.max_total_memory if total is None else total,
        max_disk_size=base.max_disk_size if size is None else _size(size, f"[{where}] max_disk_size"),
        bridges=base.bridges if bridges is None else tuple(bridges),
    )


def _host_policies(data: dict[str, Any], base: Policy) -> dict[str, Policy]:
    hosts = _table(data, "hosts")
    return {host: _policy(table.get("policy", {}), f"hosts.{host}.policy", base) for host, table in hosts.items()}


def load(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Config()
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from e
    check_known(data)
    policy = _policy(_table(data, "policy"), "policy", Policy())
    disks = _table(data, "disks")
    trust = _table(data, "trust")
    store = _table(data, "store")
    unix = _table(data, "unix")
    mirrors = _table(data, "mirrors")
    proxy, no_proxy = _fetch_settings(_table(data, "fetch"))
    if not all(isinstance(v, str) for v in mirrors.values()):
        raise ConfigError("config.toml: [mirrors] maps an origin prefix to a mirror location (strings)")
    keep = _get(store, "keep", int, "store")
    if keep is not None and keep < 1:
        raise ConfigError("config.toml: [store] keep must be at least 1")
    unpacked = _get(store, "max_unpacked_size", (str, int), "store")
    ratio = _get(store, "max_unpack_ratio", int, "store")
    if ratio is not None and ratio < 1:
        raise ConfigError("config.toml: [store] max_unpack_ratio must be at least 1")
    return Config(
        policy=policy,
        volume_group=_get(disks, "volume_group", str, "disks"),
        key_info_server=_get(trust, "key_info_server", str, "trust"),
        keep=keep if keep is not None else 3,
        max_unpacked_size=_size(unpacked, "[store] max_unpacked_size"),
        max_unpack_ratio=ratio,
        unix=_unix_settings(unix),
        mirrors=check_mirrors(mirrors),
        signatures=signature_limits(trust),
        libvirt=_libvirt_settings(data),
        proxy=proxy,
        no_proxy=no_proxy,
        host_policies=_host_policies(data, policy),
    )
