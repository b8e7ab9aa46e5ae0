"""Where 0xl keeps its state: everything lives under one directory, ZEROXL_HOME.

Default: /var/lib/0xl as root, else $XDG_DATA_HOME/0xl (~/.local/share/0xl). Nothing here touches the
disk; the callers create what they need.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # `0xl list` reaches this module and does without typing and pathlib
if TYPE_CHECKING:
    from pathlib import Path


def home_dir() -> str:
    """ZEROXL_HOME as a string (without importing pathlib)."""
    env = os.environ.get("ZEROXL_HOME")
    if env:
        return os.path.abspath(env)  # noqa: PTH100
    if os.geteuid() == 0:
        return "/var/lib/0xl"
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")  # noqa: PTH111
    return f"{xdg}/0xl"


def default_home() -> Path:
    from pathlib import Path

    return Path(home_dir())


class Home:
    """The paths under one ZEROXL_HOME (a plain class: `0xl list` must not pay for dataclasses)."""

    __slots__ = ("root",)

    def __init__(self, root: Path) -> None:
        self.root = root

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Home) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    def __repr__(self) -> str:
        return f"Home({self.root!r})"

    @classmethod
    def from_env(cls) -> Home:
        return cls(default_home())

    @property
    def config_file(self) -> Path:
        return self.root / "config.toml"

    @property
    def host_id(self) -> Path:
        """The host's random value that MACs are derived from (zeroxl.state.hostid)."""
        return self.root / "host-id"

    @property
    def operator_id(self) -> Path:
        """This ZEROXL_HOME's random id, the owner written into the domains it defines (docs/fleet.md)."""
        return self.root / "operator-id"

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


class HostHome(Home):
    """The paths of a host other than `local` (docs/fleet.md): its records, locks and libvirt notes under
    ZEROXL_HOME/hosts/NAME; the configuration, trust, feeds and store are the operator machine's, shared."""

    __slots__ = ("main",)

    def __init__(self, main: Path, host: str) -> None:
        super().__init__(main / "hosts" / host)
        self.main = main

    @property
    def config_file(self) -> Path:
        return self.main / "config.toml"

    @property
    def host_id(self) -> Path:
        return self.main / "host-id"

    @property
    def operator_id(self) -> Path:
        return self.main / "operator-id"

    @property
    def gnupg(self) -> Path:
        return self.main / "gnupg"

    @property
    def trustdb(self) -> Path:
        return self.main / "trustdb.xml"

    @property
    def feeds(self) -> Path:
        return self.main / "feeds"

    @property
    def store(self) -> Path:
        return self.main / "store"

    @property
    def tmp(self) -> Path:
        return self.main / "tmp"

    @property
    def locks(self) -> Path:
        # The operator machine's: the store's lock must be the one `0xl gc` takes, whatever the host.
        return self.main / "locks"


def record_dirs(root: Path) -> list[Path]:
    """The directories of service records in the ZEROXL_HOME at ROOT: the host local's, then every other
    host's (docs/fleet.md)."""
    hosts = root / "hosts"
    others = sorted(p / "services" for p in hosts.iterdir() if (p / "services").is_dir()) if hosts.is_dir() else []
    return [root / "services", *others]
