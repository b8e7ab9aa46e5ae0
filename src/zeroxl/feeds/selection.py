"""Choosing the implementation a service runs: target, channel, version range, newest first.

A pure function of the feed and the requirements; the error, when nothing fits, says why each
implementation was passed over so that the user can tell a wrong channel from a wrong target.
"""

from __future__ import annotations

import enum
import platform
from dataclasses import dataclass

from zeroxl.errors import SelectionError
from zeroxl.feeds.model import Arch, Feed, Implementation, Stability
from zeroxl.feeds.store import usable_retrieval
from zeroxl.feeds.versions import VersionRange

# CPUs whose code an x86_64 host also runs, as 0install ranks them.
_COMPATIBLE_CPUS = {
    "x86_64": ("x86_64", "i686", "i586", "i486", "i386"),
    "aarch64": ("aarch64",),
    "armv7l": ("armv7l", "armv6l"),
}
# Operating systems whose programs run on a Linux host (0install's POSIX covers them all).
_UNIX_OSES = ("Linux", "POSIX")


class Channel(enum.StrEnum):
    STABLE = "stable"
    TESTING = "testing"

    def accepts(self, stability: Stability) -> bool:
        if stability in (Stability.STABLE, Stability.PREFERRED):
            return True
        return self is Channel.TESTING and stability is Stability.TESTING


@dataclass(frozen=True)
class Target:
    """What the host runs: `Linux-x86_64` processes, or `Xen-x86_64` VM images.

    A VM target only takes implementations that name it explicitly: one with no arch, or `POSIX-*`,
    would match any OS in 0install's rules, and a program is not a kernel.
    """

    os: str
    cpu: str
    vm: bool = False

    @classmethod
    def parse(cls, text: str) -> Target:
        arch = Arch.parse(text)
        if not arch.explicit or arch.os is None or arch.cpu is None:
            raise ValueError(f"invalid target {text!r}: expected OS-CPU, e.g. Linux-x86_64")
        return cls(arch.os, arch.cpu, vm=arch.os not in _UNIX_OSES)

    def matches(self, arch: Arch) -> bool:
        if self.vm:
            return arch.os == self.os and arch.cpu == self.cpu
        os_ok = arch.os is None or arch.os == self.os or (self.os == "Linux" and arch.os in _UNIX_OSES)
        cpu_ok = arch.cpu is None or arch.cpu in _COMPATIBLE_CPUS.get(self.cpu, (self.cpu,))
        return os_ok and cpu_ok

    def __str__(self) -> str:
        return f"{self.os}-{self.cpu}"


def host_cpu() -> str:
    machine = platform.machine()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


@dataclass(frozen=True)
class Requirements:
    target: Target
    channel: Channel = Channel.STABLE
    versions: VersionRange | None = None


def _rejection(impl: Implementation, req: Requirements) -> str | None:
    if not req.target.matches(impl.arch):
        return f"built for {impl.arch}"
    if not req.channel.accepts(impl.stability):
        return f"{impl.stability}, not on the {req.channel} channel"
    if req.versions is not None and not req.versions.contains(impl.version):
        return f"not in version range {req.versions}"
    if impl.sha256new is None:
        return "no sha256new digest (0xl verifies only sha256new)"
    if usable_retrieval(impl) is None:
        return "no archive or file that 0xl can unpack"
    return None


def candidates(feed: Feed, req: Requirements) -> list[Implementation]:
    """Every implementation that fits, best first: newest version, then the more stable."""
    fit = [impl for impl in feed.implementations if _rejection(impl, req) is None]
    return sorted(fit, key=lambda i: (i.version, i.stability), reverse=True)


def select(feed: Feed, req: Requirements) -> Implementation:
    best = candidates(feed, req)
    if best:
        return best[0]
    reasons = [f"  {impl.version} ({impl.arch}): {_rejection(impl, req)}" for impl in feed.implementations]
    what = f"for {req.target} on the {req.channel} channel"
    if req.versions is not None:
        what += f" in version range {req.versions}"
    detail = "\n".join(reasons) if reasons else "  the feed lists no implementations"
    raise SelectionError(f"no implementation of {feed.url} {what}:\n{detail}", hint=_what_would_fit(feed, req))


# The backend that runs each target OS (backends.target_for says the reverse; feeds cannot import it).
_BACKEND_OF_OS = {"Xen": "xen", "Linux": "unix"}


def _what_would_fit(feed: Feed, req: Requirements) -> str:
    """What the operator could change for an implementation to fit: only what was not given already, and
    only what one of the feed's implementations would then fit (an option already given is not suggested)."""
    tries = []
    on_target = [impl for impl in feed.implementations if req.target.matches(impl.arch)]
    if req.channel != Channel.TESTING and any(
        Channel.TESTING.accepts(impl.stability) and not req.channel.accepts(impl.stability) for impl in on_target
    ):
        tries.append("--channel testing")
    if req.versions is not None and any(not req.versions.contains(impl.version) for impl in on_target):
        tries.append("another --version range")
    others = sorted(
        {impl.arch.os for impl in feed.implementations if not req.target.matches(impl.arch) and impl.arch.os}
    )
    backends = sorted({_BACKEND_OF_OS[os] for os in others if os in _BACKEND_OF_OS})
    if backends:
        tries.append(
            " or ".join(f"--backend {b}" for b in backends) + f" (the feed has builds for {', '.join(others)})"
        )
    elif others:
        tries.append(f"a host that runs {', '.join(others)}: the feed has no build for {req.target}")
    if not tries:
        return "the publisher has to publish a build that fits (0xl feed check shows the feed as hosts see it)"
    return "try " + ", or ".join(tries)
