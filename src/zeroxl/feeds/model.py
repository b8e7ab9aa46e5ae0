"""What a parsed feed is: typed values only, never raw XML.

Everything here was read by `feeds.parse` from a feed whose signature was already verified; the
values that can reach a VM config or a command line (`ServiceNeeds`) were validated there too.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from zeroxl.feeds.versions import Version
from zeroxl.host.needs import ServiceNeeds

FEED_NS = "http://zero-install.sourceforge.net/2004/injector/interface"
# The namespace of what a service needs from its host (docs/feed-service-needs.md); 0install ignores it.
NEEDS_NS = "urn:x-0xl:service:1"


class Stability(enum.IntEnum):
    """0install's stability levels; a higher value is preferred."""

    INSECURE = 0
    BUGGY = 1
    DEVELOPER = 2
    TESTING = 3
    STABLE = 4
    PACKAGED = 5  # a distribution package; 0xl never selects these but must parse them
    PREFERRED = 6

    @classmethod
    def parse(cls, text: str) -> Stability:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown stability {text!r}") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Arch:
    """An implementation's target, `OS-CPU`; None stands for `*` (any)."""

    os: str | None
    cpu: str | None

    @classmethod
    def parse(cls, text: str | None) -> Arch:
        if text is None or text == "*-*":
            return cls(None, None)
        os_part, sep, cpu_part = text.partition("-")
        if not sep or not os_part or not cpu_part:
            raise ValueError(f"invalid arch {text!r}: expected OS-CPU, e.g. Linux-x86_64")
        return cls(None if os_part == "*" else os_part, None if cpu_part == "*" else cpu_part)

    @property
    def explicit(self) -> bool:
        return self.os is not None and self.cpu is not None

    def __str__(self) -> str:
        return f"{self.os or '*'}-{self.cpu or '*'}"


@dataclass(frozen=True)
class Archive:
    href: str
    size: int
    extract: str | None = None
    dest: str | None = None
    type: str | None = None
    start_offset: int = 0


@dataclass(frozen=True)
class FileSource:
    """A single file (0install's `<file>`), placed at `dest` inside the implementation."""

    href: str
    size: int
    dest: str
    executable: bool = False


@dataclass(frozen=True)
class RenameStep:
    source: str
    dest: str


@dataclass(frozen=True)
class RemoveStep:
    path: str


Step = Archive | FileSource | RenameStep | RemoveStep


@dataclass(frozen=True)
class Recipe:
    steps: tuple[Step, ...]


Retrieval = Archive | FileSource | Recipe


@dataclass(frozen=True)
class Command:
    name: str
    path: str | None
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Implementation:
    id: str
    version: Version
    arch: Arch
    stability: Stability
    digests: dict[str, str]
    retrievals: tuple[Retrieval, ...]
    commands: dict[str, Command]
    released: str | None = None
    license: str | None = None
    needs: ServiceNeeds = field(default_factory=ServiceNeeds)

    @property
    def sha256new(self) -> str | None:
        return self.digests.get("sha256new")

    @property
    def store_name(self) -> str:
        """The store directory name, `sha256new_<BASE32>`: only digests 0xl can verify are stored."""
        digest = self.sha256new
        if digest is None:
            raise ValueError(f"implementation {self.id} has no sha256new digest")
        return f"sha256new_{digest}"


@dataclass(frozen=True)
class Feed:
    url: str
    name: str
    summary: str
    implementations: tuple[Implementation, ...]
    description: str | None = None
    homepage: str | None = None
