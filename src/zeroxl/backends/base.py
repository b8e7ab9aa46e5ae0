"""The one small interface every backend implements, and what it reports. It names no backend: each is a
package of its own (backends/unix, backends/xen), chosen by name in backends/__init__.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from zeroxl.host.config import Config
from zeroxl.host.paths import Home
from zeroxl.state.service import Service


@dataclass(frozen=True)
class RuntimeStatus:
    state: str  # RUNNING, STOPPED or FAILED (backends.states)
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
    # Where this run's output begins in the file log_path gives, when the backend noted it as it started
    # the run (libvirt: the console's size on the host just before the domain was created). A health check
    # reads from there: never a line of an earlier run, whatever a copy of the log said meanwhile.
    log_start: int | None = None


@dataclass(frozen=True)
class BackendContext:
    home: Home
    config: Config


class Backend(Protocol):
    name: str
    # Whether the backend writes a VM configuration (xl.cfg, domain XML) that `0xl config` can show.
    has_vm_config: bool

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

    def check_state(self, svc: Service) -> None:
        """Raise StateError, saying what to do, if what the backend keeps of SVC cannot be read (`0xl doctor`)."""

    def vm_config(self, svc: Service, impl_dir: Path) -> str:
        """The VM configuration starting SVC from IMPL_DIR would write, after every check (only if
        `has_vm_config`). Reads only: nothing is written or started."""
