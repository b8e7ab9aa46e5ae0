"""The record of one service: what the operator asked for and what it runs now.

Stored as ZEROXL_HOME/services/NAME/service.json, versioned (`schema`) and migrated on read, always
written atomically. The running implementation's command and needs are copied from the verified feed
when it is selected, so that starting a service never needs the network or the feed again.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from zeroxl.errors import NotFoundError
from zeroxl.host.names import SERVICE_NAME, check_service_name
from zeroxl.host.needs import ServiceNeeds
from zeroxl.state import atomic
from zeroxl.state.schema import SCHEMA, check, damaged, migrate
from zeroxl.state.selected import Selected
from zeroxl.state.transition import Transition

# Where `0xl boot` puts a service whose order the operator did not set: lower numbers start first.
DEFAULT_START_ORDER = 50


def now() -> float:
    return round(time.time(), 3)


@dataclass(frozen=True)
class Disk:
    name: str
    size: int
    kind: str  # "file" | "lvm"
    location: str  # a file path, or VG/LV

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Disk:
        return cls(name=d["name"], size=int(d["size"]), kind=d["kind"], location=d["location"])


@dataclass(frozen=True)
class Readiness:
    """How an update decides that the new version is healthy."""

    settle: float = 3.0  # seconds it must stay up
    log: str | None = None  # a regex a log line must match
    tcp: str | None = None  # HOST:PORT that must accept a connection
    timeout: float = 30.0


@dataclass(frozen=True)
class Service:
    name: str
    feed: str
    backend: str
    target: str
    channel: str = "stable"
    versions: str | None = None
    args: dict[str, str] = field(default_factory=dict)
    memory: int | None = None
    networks: tuple[str, ...] = ()  # the bridge of each network the feed declares, in order
    macs: tuple[str, ...] = ()  # the MAC of each network's vif, chosen at `add` (zeroxl.host.macs)
    disks: tuple[Disk, ...] = ()
    restart: str = "on-failure"  # restart policy: always, on-failure or never (zeroxl.host.policy, docs/restart.md)
    current: Selected | None = None
    desired: str = "stopped"  # what the operator last asked: "running" or "stopped"
    ready: Readiness = field(default_factory=Readiness)
    latest: dict[str, Any] | None = None  # newest version on the channel at the last check
    transition: Transition | None = None  # a change of version under way (state/transition.py)
    created: float = field(default_factory=now)
    updated: float = field(default_factory=now)
    # `0xl boot` starts the services it may (`enabled`, `0xl disable`), lowest start_order first (app.boot).
    enabled: bool = True
    start_order: int = DEFAULT_START_ORDER
    # The system user a unix service runs as when 0xl runs as root (None: as 0xl; backends/unix/users.py).
    user: str | None = None

    @property
    def needs(self) -> ServiceNeeds:
        """What the version it runs needs from the host (nothing, without a version)."""
        return self.current.needs if self.current is not None else ServiceNeeds()

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "name": self.name,
            "feed": self.feed,
            "backend": self.backend,
            "target": self.target,
            "channel": self.channel,
            "versions": self.versions,
            "args": dict(self.args),
            "memory": self.memory,
            "networks": list(self.networks),
            "macs": list(self.macs),
            "disks": [d.to_json() for d in self.disks],
            "restart": self.restart,
            "current": self.current.to_json() if self.current else None,
            "desired": self.desired,
            "ready": asdict(self.ready),
            "latest": self.latest,
            "transition": self.transition.to_json() if self.transition else None,
            "created": self.created,
            "updated": self.updated,
            "enabled": self.enabled,
            "start_order": self.start_order,
            "user": self.user,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Service:
        d = migrate(d)
        return cls(
            name=d["name"],
            feed=d["feed"],
            backend=d["backend"],
            target=d["target"],
            channel=d.get("channel", "stable"),
            versions=d.get("versions"),
            args=dict(d.get("args") or {}),
            memory=d.get("memory"),
            networks=tuple(d.get("networks") or ()),
            macs=tuple(d.get("macs") or ()),
            disks=tuple(Disk.from_json(x) for x in d.get("disks") or ()),
            # "no" is what 0xl called "never" before `always` came.
            restart={"no": "never"}.get(d.get("restart", "on-failure"), d.get("restart", "on-failure")),
            current=Selected.from_json(d["current"]) if d.get("current") else None,
            desired=d.get("desired", "stopped"),
            ready=Readiness(**(d.get("ready") or {})),
            latest=d.get("latest"),
            transition=Transition.from_json(d["transition"]) if d.get("transition") else None,
            created=float(d.get("created", 0)),
            updated=float(d.get("updated", 0)),
            enabled=bool(d.get("enabled", True)),
            start_order=int(d.get("start_order", DEFAULT_START_ORDER)),
            user=d.get("user"),
        )


class Records:
    """Service records under ZEROXL_HOME/services, one directory per service."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def dir(self, name: str) -> Path:
        return self.root / name

    def path(self, name: str) -> Path:
        return self.root / name / "service.json"

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def load(self, name: str) -> Service:
        check_service_name(name)
        path = self.path(name)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no service named {name!r}", hint="see `0xl list`") from None
        except OSError as e:
            raise damaged(name, str(path), e) from e
        try:
            return Service.from_json(check(json.loads(raw), name))
        except (ValueError, KeyError, TypeError, AttributeError) as e:  # whatever a record of another shape raises
            raise damaged(name, str(path), e) from e

    def save(self, svc: Service) -> None:
        atomic.write_json(self.path(svc.name), svc.to_json())

    def change(self, svc: Service, **changes: Any) -> Service:
        """SVC with CHANGES, updated now: saved, and returned."""
        svc = replace(svc, updated=now(), **changes)
        self.save(svc)
        return svc

    def names(self) -> list[str]:
        try:
            entries = sorted(p.name for p in self.root.iterdir() if (p / "service.json").is_file())
        except FileNotFoundError:
            return []
        return [n for n in entries if SERVICE_NAME.fits(n)]

    def unrecorded(self) -> list[str]:
        """Names with a directory but no record: what a killed `add` (or an older 0xl's destroy) left."""
        try:
            dirs = sorted(p.name for p in self.root.iterdir() if p.is_dir() and not (p / "service.json").exists())
        except FileNotFoundError:
            return []
        return [n for n in dirs if SERVICE_NAME.fits(n)]

    def bury(self, name: str) -> None:
        """Take NAME's directory away in one step: rename it to a tombstone, for `clear_buried` to delete.

        Deleting the directory file by file could be cut short by a crash, and what was left (a history
        without its record, say) would be inherited by the next service of that name. A tombstone's name
        (`.NAME.destroyed-…`) is no service name, so nothing lists it or reads it.
        """
        tomb = self.root / f".{name}.destroyed-{os.urandom(4).hex()}"
        try:
            self.dir(name).rename(tomb)
        except FileNotFoundError:
            return
        atomic.fsync_dir(self.root)

    def clear_buried(self) -> None:
        """Delete the tombstones that `bury` left, including those of a 0xl killed before it deleted them."""
        try:
            tombs = [p for p in self.root.iterdir() if p.name.startswith(".") and ".destroyed-" in p.name]
        except FileNotFoundError:
            return
        for tomb in tombs:
            shutil.rmtree(tomb, ignore_errors=True)  # two commands may clear the same one at once
