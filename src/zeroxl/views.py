"""What `0xl list` and `0xl status` show, read straight from the records and the system.

This is the read-only path and the one run most often (scripts poll `0xl list --json`), so it imports
only json and the unix backend's state reader; a service on another backend asks that backend.
"""

from __future__ import annotations

import json
import os
import re
import time

from zeroxl.errors import NotFoundError, StateError
from zeroxl.state.schema import migrate

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from typing import Any

_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")


# Paths are plain strings here: pathlib's object creation was most of the cost of listing 1,000 services.


def load_record(services: os.PathLike[str] | str, name: str) -> dict[str, Any]:
    path = f"{services}/{name}/service.json"
    try:
        with open(path, "rb") as f:  # noqa: PTH123
            return migrate(json.load(f))
    except FileNotFoundError:
        raise NotFoundError(f"no service named {name!r}", hint="see `0xl list`") from None
    except ValueError as e:
        raise StateError(f"the record of service {name} ({path}) cannot be read: {e}") from e


def names(services: os.PathLike[str] | str) -> list[str]:
    try:
        with os.scandir(services) as it:
            entries = sorted(e.name for e in it if e.is_dir() and _NAME.fullmatch(e.name))
    except FileNotFoundError:
        return []
    return [n for n in entries if os.path.isfile(f"{services}/{n}/service.json")]  # noqa: PTH113


def runtime(home: os.PathLike[str] | str, rec: dict[str, Any]) -> dict[str, Any]:
    """The service's runtime status as its backend reports it; a failing backend says so instead."""
    try:
        if rec["backend"] == "unix":
            from zeroxl.backends import unixstate

            return unixstate.runtime(f"{home}/services/{rec['name']}", rec.get("desired", "stopped"))
        from dataclasses import asdict
        from pathlib import Path

        from zeroxl.backends.base import BackendContext, get_backend
        from zeroxl.config import load
        from zeroxl.paths import Home
        from zeroxl.state.service import Service

        h = Home(Path(home))
        backend = get_backend(rec["backend"], BackendContext(h, load(h.config_file)))
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
        "disks": rec.get("disks", []),
        "networks": networks_json(rec),
        "args": rec.get("args", {}),
        "latest": rec.get("latest"),
    }
    if rt.get("extra"):
        out["runtime"] = rt["extra"]
    if rec.get("transition"):
        out["transition"] = transition_json(rec["transition"])
    return out


def networks_json(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """Each network as the feed names it (mirage's "0" included), with its bridge and MAC."""
    names = ((rec.get("current") or {}).get("needs") or {}).get("networks") or []
    bridges, macs = rec.get("networks") or [], rec.get("macs") or []
    return [
        {"name": name, "bridge": bridge, "mac": mac} for name, bridge, mac in zip(names, bridges, macs, strict=False)
    ]


def transition_json(t: dict[str, Any]) -> dict[str, Any]:
    """A change of version under way (state/transition.py), and whether the 0xl doing it still lives."""
    from zeroxl.backends.procinfo import Identity, alive

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


def list_services(home: os.PathLike[str] | str) -> list[dict[str, Any]]:
    views = []
    services = f"{home}/services"
    for name in names(services):
        try:
            rec = load_record(services, name)
        except NotFoundError:  # destroyed while we were listing
            continue
        views.append(service_json(rec, runtime(home, rec)))
    return views


def status(home: os.PathLike[str] | str, name: str) -> dict[str, Any]:
    from zeroxl.state.service import check_name

    check_name(name)
    rec = load_record(f"{home}/services", name)
    return service_json(rec, runtime(home, rec))
