"""What `0xl list`, `0xl status` and `0xl history` show, read straight from the records and the system.

This is the read-only path and the one run most often (scripts poll `0xl list --json`), so it takes
ZEROXL_HOME's path rather than a Context, and imports at the top only what `0xl list` needs: the records'
format and the unix backend's state reader. What else a view needs (another backend, the configuration,
the feed cache, the history) is imported where it is used.
"""

from __future__ import annotations

import os
import time

from zeroxl.errors import NotFoundError, StateError
from zeroxl.host.names import SERVICE_NAME, check_service_name
from zeroxl.state import fastjson
from zeroxl.state.schema import DAMAGED, check, damaged

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from typing import Any

    from zeroxl.host.config import Config
    from zeroxl.state.history import Entry
    from zeroxl.state.selected import Selected

# Paths are plain strings here: pathlib's object creation was most of the cost of listing 1,000 services.


def load_record(services: os.PathLike[str] | str, name: str) -> dict[str, Any]:
    path = f"{services}/{name}/service.json"
    try:
        return check(fastjson.load(path), name)
    except FileNotFoundError:
        raise NotFoundError(f"no service named {name!r}", hint="see `0xl list`") from None
    except (OSError, ValueError) as e:
        raise damaged(name, path, e) from e


def names(services: os.PathLike[str] | str) -> list[str]:
    try:
        with os.scandir(services) as it:
            entries = sorted(e.name for e in it if e.is_dir() and SERVICE_NAME.fits(e.name))
    except FileNotFoundError:
        return []
    return [n for n in entries if os.path.isfile(f"{services}/{n}/service.json")]  # noqa: PTH113


def _runtime(home: os.PathLike[str] | str, rec: dict[str, Any], config: Config | None = None) -> dict[str, Any]:
    """The service's runtime status as its backend reports it; a failing backend says so instead."""
    try:
        if rec["backend"] == "unix":
            from zeroxl.backends.unix import runtime

            return runtime.status(f"{home}/services/{rec['name']}", rec.get("desired", "stopped"))
        from dataclasses import asdict
        from pathlib import Path

        from zeroxl.backends import get_backend
        from zeroxl.backends.base import BackendContext
        from zeroxl.host.config import load
        from zeroxl.host.paths import Home, HostHome
        from zeroxl.state.service import Service

        p = Path(home)
        # A remote host's records are at MAIN/hosts/NAME (host.paths.HostHome): its backend must know it is
        # remote (its console is in the host's pool; a domain gone from the host is "missing").
        h = HostHome(p.parent.parent, p.name) if config is not None and p.parent.name == "hosts" else Home(p)
        backend = get_backend(rec["backend"], BackendContext(h, config or load(h.config_file)))
        return asdict(backend.status(Service.from_json(rec)))
    except Exception as e:  # a broken backend must not hide the other services from `list`
        return {"state": "failed", "detail": f"status unavailable: {e}"}


def service_json(rec: dict[str, Any], rt: dict[str, Any]) -> dict[str, Any]:
    current = rec.get("current") or {}
    started = rt.get("started")
    out = {
        "name": rec["name"],
        "state": rt["state"],
        "version": current.get("version"),
        "backend": rec["backend"],
        "feed": rec["feed"],
        "channel": rec.get("channel", "stable"),
        "versions": rec.get("versions"),
        "target": rec.get("target"),
        "pid": rt.get("pid"),
        "started": started,
        "uptime": round(time.time() - started, 1) if started and rt["state"] == "running" else None,
        "restarts": rt.get("restarts", 0),
        "last_exit": rt.get("last_exit"),
        "detail": rt.get("detail", ""),
        "disks": disks_json(rec),
        "networks": networks_json(rec),
        "args": rec.get("args", {}),
        "latest": rec.get("latest"),
        "resources": rt.get("resources"),
        "restart": {"no": "never"}.get(rec.get("restart", "on-failure"), rec.get("restart", "on-failure")),
        "enabled": rec.get("enabled", True),
        "start_order": rec.get("start_order", 50),
        "user": rec.get("user"),
    }
    if rt.get("extra"):
        out["runtime"] = rt["extra"]
    if rec.get("transition"):
        out["transition"] = transition_json(rec["transition"])
    return out


def disks_json(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """Each disk as recorded, with `used`: the bytes a file disk (sparse) takes on its filesystem, which
    grow as the service writes; None for an LVM volume, allocated whole when it was made."""
    disks = rec.get("disks", [])
    return [{**d, "used": _allocated(d["location"]) if d.get("kind") == "file" else None} for d in disks]


def _allocated(path: str) -> int | None:
    try:
        return os.stat(path).st_blocks * 512  # noqa: PTH116 - st_blocks counts 512-byte units
    except OSError:
        return None


def networks_json(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """Each network as the feed names it (mirage's "0" included), with its bridge and MAC."""
    names = ((rec.get("current") or {}).get("needs") or {}).get("networks") or []
    bridges, macs = rec.get("networks") or [], rec.get("macs") or []
    return [
        {"name": name, "bridge": bridge, "mac": mac} for name, bridge, mac in zip(names, bridges, macs, strict=False)
    ]


def transition_json(t: dict[str, Any]) -> dict[str, Any]:
    """A change of version under way (state/transition.py), and whether the 0xl doing it still lives."""
    from zeroxl.host.procinfo import Identity, alive

    owner = t.get("owner") or {}
    try:
        live = alive(Identity.from_json(owner))
    except (KeyError, ValueError):
        live = False
    return {
        "action": t["action"],
        "phase": t["phase"],
        "from": t["from"]["version"],
        "to": t["to"]["version"],
        "started": t["started"],
        "pid": owner.get("pid"),
        "live": live,
    }


def damaged_json(name: str, error: StateError) -> dict[str, Any]:
    """What list and status show for a service whose record cannot be read: the fields of any service
    (for scripts that read them), what is wrong, and what to do."""
    return {
        "name": name,
        "state": DAMAGED,
        "version": None,
        "backend": None,
        "feed": None,
        "channel": None,
        "versions": None,
        "target": None,
        "pid": None,
        "started": None,
        "uptime": None,
        "restarts": 0,
        "last_exit": None,
        "detail": error.message,
        "hint": error.hint,
        "disks": [],
        "networks": [],
        "args": {},
        "latest": None,
        "resources": None,
        "restart": None,
        "enabled": None,
        "start_order": None,
        "user": None,
    }


def _view(home: os.PathLike[str] | str, name: str, config: Config | None = None) -> dict[str, Any]:
    """NAME as list and status show it; a damaged record is shown as such, and affects nothing else."""
    services = f"{home}/services"
    try:
        rec = load_record(services, name)
    except StateError as e:
        return damaged_json(name, e)
    try:
        return service_json(rec, _runtime(home, rec, config))
    except (KeyError, TypeError, AttributeError, ValueError) as e:  # a field of another shape than 0xl writes
        return damaged_json(name, damaged(name, f"{services}/{name}/service.json", e))


def list_services(home: os.PathLike[str] | str, config: Config | None = None) -> list[dict[str, Any]]:
    views = []
    for name in names(f"{home}/services"):
        try:
            views.append(_view(home, name, config))
        except NotFoundError:  # destroyed while we were listing
            continue
    return views


def status(
    home: os.PathLike[str] | str, name: str, *, config: Config | None = None, main: os.PathLike[str] | None = None
) -> dict[str, Any]:
    """NAME's status; for a host other than local (docs/fleet.md), HOME is its records', CONFIG reaches it,
    and MAIN is the operator machine's ZEROXL_HOME, where the feeds are."""
    check_service_name(name)
    out = _view(home, name, config)
    if out["state"] != DAMAGED:
        out["feed_signature"] = feed_signature(main or home, out["feed"])
    return out


def feed_signature(home: os.PathLike[str] | str, url: str) -> dict[str, Any] | None:
    """When the copy of the feed 0xl last verified was signed, how long ago, and what to warn about it
    (feeds.trust.signature_warning): a feed that stops changing may be held back by a server. None if
    0xl has no copy (a local feed is fetched afresh each time, and cached too)."""
    from pathlib import Path

    from zeroxl.feeds.cache import FeedCache
    from zeroxl.feeds.trust import signature_warning
    from zeroxl.host.config import load
    from zeroxl.host.paths import Home

    h = Home(Path(home))
    try:
        cached = FeedCache(h.feeds).load(url)
    except StateError as e:
        return {"signed": None, "expires": None, "age": None, "warning": e.message}
    if cached is None:
        return None
    now = time.time()
    warning = signature_warning(cached.signed, cached.expires, now=now, limits=load(h.config_file).signatures)
    return {"signed": cached.signed, "expires": cached.expires, "age": round(now - cached.signed), "warning": warning}


def history(home: os.PathLike[str] | str, name: str) -> list[Entry]:
    """Every change of NAME's version, oldest first (NotFoundError for a service that does not exist)."""
    from pathlib import Path

    from zeroxl.host.paths import Home
    from zeroxl.state.history import History
    from zeroxl.state.service import Records

    records = Records(Home(Path(home)).services)
    records.load(name)  # NotFoundError for an unknown service
    return History(records.dir(name)).entries()


def entry_json(e: Entry) -> dict[str, Any]:
    """One change of version as `0xl history --json` and the web page show it."""
    return {
        "time": e.time,
        "action": e.action,
        "from": _ref(e.from_),
        "to": _ref(e.to),
        "outcome": e.outcome,
        "message": e.message,
    }


def _ref(s: Selected | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"version": s.version, "digest": s.digest, "id": s.id, "arch": s.arch, "stability": s.stability}


def log_tail(path: os.PathLike[str] | str, lines: int) -> tuple[bytes, int, int]:
    """The last LINES lines of the log file PATH, the offset after them, and the file's inode (0 if
    missing)."""
    from collections import deque

    try:
        with open(path, "rb") as f:  # noqa: PTH123
            st = os.fstat(f.fileno())
            last = deque(f, maxlen=lines) if lines > 0 else deque()
            return b"".join(last), f.tell(), st.st_ino
    except FileNotFoundError:
        return b"", 0, 0
