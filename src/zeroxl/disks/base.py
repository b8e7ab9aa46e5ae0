"""Disks: the data of a service, created by 0xl and never touched by update, rollback or plain destroy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from zeroxl.state.service import Disk

DEFAULT_DISK = "data"


@dataclass(frozen=True)
class KeptDisk:
    """A disk found on the host that belongs to SERVICE (which may no longer exist)."""

    service: str
    disk: Disk


class DiskProvider(Protocol):
    kind: str

    def create(self, service: str, name: str, size: int) -> Disk:
        """Create a new, empty disk; refuse if one of that name exists already."""

    def find(self, service: str, name: str) -> Disk | None:
        """The disk of that service and name, if it exists (kept from an earlier service of the name)."""

    def delete(self, disk: Disk) -> None:
        """Delete a disk that 0xl created."""

    def list(self) -> list[KeptDisk]:
        """Every disk of this kind that 0xl created, whether its service still exists or not."""
