"""Where 0xl keeps its state: everything lives under one directory, ZEROXL_HOME.

Default: /var/lib/0xl as root, else $XDG_DATA_HOME/0xl (~/.local/share/0xl). Nothing here touches the
disk; the callers create what they need.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_home() -> Path:
    env = os.environ.get("ZEROXL_HOME")
    if env:
        return Path(env).absolute()
    if os.geteuid() == 0:
        return Path("/var/lib/0xl")
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "0xl"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def from_env(cls) -> Home:
        return cls(default_home())

    @property
    def config_file(self) -> Path:
        return self.root / "config.toml"

    @property
    def gnupg(self) -> Path:
        return self.root / "gnupg"

    @property
    def trustdb(self) -> Path:
        return self.root / "trustdb.xml"

    @property
    def feeds(self) -> Path:
        """Verified feeds as last fetched, for replay protection and offline use."""
        return self.root / "feeds"

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def services(self) -> Path:
        return self.root / "services"

    @property
    def disks(self) -> Path:
        """Sparse files backing disks when no volume group is configured."""
        return self.root / "disks"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def tmp(self) -> Path:
        """Scratch space on the same file system as the store, so that renames are atomic."""
        return self.root / "tmp"

    def service_dir(self, name: str) -> Path:
        return self.services / name
