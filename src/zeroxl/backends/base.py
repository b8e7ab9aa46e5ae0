"""The one small interface every backend implements, and the status it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from zeroxl.backends.states import FAILED, RUNNING, STOPPED
from zeroxl.config import Config
from zeroxl.paths import Home
from zeroxl.state.service import Service

__all__ = ["FAILED", "RUNNING", "STOPPED", "Backend", "BackendContext", "RuntimeStatus", "get_backend"]


@dataclass(frozen=True)
class RuntimeStatus:
    state: str  # RUNNING, STOPPED or FAILED
    pid: int | None = None
    started: float | None = None  # seconds since the epoch
    restarts: int = 0
    last_exit: str | None = None  # "0", "1", "signal 9"
    detail: str = ""  # why it failed, in a few words
    # Backend-specific facts (domid, memory, cpu time); "restarting": True when the state is FAILED but
    # the backend will run the service again by itself (a unix program in restart back-off).
    extra: dict[str, Any] = field(default_factory=dict)
    # What it uses while it runs, alike for every backend: cpu_seconds (since it started), memory_bytes,
    # and the backend's unit of work (processes, vcpus). None when nothing runs.
    resources: dict[str, Any] | None = None


@dataclass(frozen=True)
class BackendContext:
    home: Home
    config: Config


class Backend(Protocol):
    name: str

    def check(self, svc: Service, impl_dir: Path) -> None:
        """Refuse, before anything is created, what this backend cannot run or the policy forbids."""

    def start(self, svc: Service, impl_dir: Path) -> None:
        """Start the service's current implementation from IMPL_DIR; return once it runs."""

    def stop(self, svc: Service, *, timeout: float | None = None) -> None:
        """Stop gracefully, then by force after TIMEOUT; return once nothing of it runs."""

    def status(self, svc: Service) -> RuntimeStatus:
        """What runs now, read from the system (never only from 0xl's own records)."""

    def log_path(self, svc: Service) -> Path:
        """The file holding the service's output (the process log or the domain console)."""

    def cleanup(self, svc: Service) -> None:
        """Remove what the backend keeps for a destroyed service (not its disks)."""


def backend_names() -> tuple[str, ...]:
    return ("unix", "xen")


def get_backend(name: str, ctx: BackendContext) -> Backend:
    # Imported on demand: `0xl list` must not pay for backends it does not use.
    if name == "unix":
        from zeroxl.backends.unix import UnixBackend

        return UnixBackend(ctx)
    if name == "xen":
        from zeroxl.backends.xen import XenBackend

        return XenBackend(ctx)
    from zeroxl.errors import UsageError

    raise UsageError(f"unknown backend {name!r}", hint=f"choose one of: {', '.join(backend_names())}")


def xen_available() -> bool:
    """True on a Xen dom0 with `xl` installed: the hypervisor's control domain flag is set."""
    import shutil

    try:
        caps = Path("/proc/xen/capabilities").read_text()
    except OSError:
        return False
    return "control_d" in caps and shutil.which("xl") is not None


def target_for(backend: str) -> str:
    """The implementation target (OS-CPU) a backend runs on this host."""
    from zeroxl.feeds.select import host_cpu

    return f"{'Xen' if backend == 'xen' else 'Linux'}-{host_cpu()}"
