"""The libvirt backend's storage volumes as a DiskProvider, for `add`, `destroy --delete-disks` and
`0xl disk`: backends/libvirt/volumes.py makes and finds them, this gives them disks.base's shape (backends
and disks do not import each other)."""

from __future__ import annotations

from zeroxl.backends.libvirt.volumes import Volumes
from zeroxl.disks.base import DiskProvider, KeptDisk
from zeroxl.host.config import Config
from zeroxl.host.paths import Home


class LibvirtVolumes(Volumes):
    def list(self) -> list[KeptDisk]:
        return [KeptDisk(service, disk) for service, disk in self.list_owned()]


def libvirt_volumes(home: Home, config: Config) -> DiskProvider:
    return LibvirtVolumes(home.root / "libvirt", config.libvirt)
