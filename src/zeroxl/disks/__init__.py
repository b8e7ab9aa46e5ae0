"""Disks of services: LVM volumes when a volume group is configured, else sparse files."""

from __future__ import annotations

from zeroxl.disks.base import DiskProvider
from zeroxl.disks.file import FileDisks
from zeroxl.disks.lvm import LvmDisks
from zeroxl.host.config import Config
from zeroxl.host.paths import Home


def provider(home: Home, config: Config) -> DiskProvider:
    if config.volume_group:
        return LvmDisks(config.volume_group)
    return FileDisks(home.disks)


def all_providers(home: Home, config: Config) -> list[DiskProvider]:
    """Where kept disks may be: the file disks always, and the volume group if one is configured."""
    providers: list[DiskProvider] = [FileDisks(home.disks)]
    if config.volume_group:
        providers.insert(0, provider(home, config))
    return providers
