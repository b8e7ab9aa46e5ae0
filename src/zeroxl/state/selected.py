"""The implementation a service runs or ran, as its record, its journal and its history keep it: enough
to start it without the feed (its command, and what it needs from the host, copied from the verified feed
when it was selected)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from zeroxl.host.needs import BlockDevice, BootArg, ServiceNeeds


def needs_to_json(n: ServiceNeeds) -> dict[str, Any]:
    return asdict(n)


def needs_from_json(d: dict[str, Any]) -> ServiceNeeds:
    return ServiceNeeds(
        memory_min=d.get("memory_min"),
        memory=d.get("memory"),
        # A block without "vdev" (records of 0xl before it was read from feeds) gets mirage's rule, as a feed
        # without it does.
        blocks=tuple(BlockDevice(b["name"], int(b["min_size"]), b.get("vdev")) for b in d.get("blocks", [])),
        networks=tuple(d.get("networks", [])),
        args=tuple(
            BootArg(a["name"], a["pattern"], bool(a.get("required")), a.get("default")) for a in d.get("args", [])
        ),
        xen_type=d.get("xen_type", "pvh"),
        ramdisk=d.get("ramdisk"),
    )


@dataclass(frozen=True)
class Selected:
    """The implementation a service runs (or ran): enough to start it without the feed."""

    id: str
    version: str
    digest: str  # store directory name, sha256new_...
    arch: str
    stability: str
    command_path: str | None
    command_args: tuple[str, ...] = ()
    needs: ServiceNeeds = field(default_factory=ServiceNeeds)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "digest": self.digest,
            "arch": self.arch,
            "stability": self.stability,
            "command": {"path": self.command_path, "args": list(self.command_args)},
            "needs": needs_to_json(self.needs),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Selected:
        cmd = d.get("command") or {}
        return cls(
            id=d["id"],
            version=d["version"],
            digest=d["digest"],
            arch=d["arch"],
            stability=d.get("stability", "stable"),
            command_path=cmd.get("path"),
            command_args=tuple(cmd.get("args", ())),
            needs=needs_from_json(d.get("needs") or {}),
        )
