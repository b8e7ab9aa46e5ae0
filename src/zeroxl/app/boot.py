"""`0xl boot`: bring the host's services back after it started, as `0xl.service` does at boot; and
`0xl enable`/`disable`, which say whether boot may start a service.

First every change a killed 0xl (or the host's end) left half done is finished, as `0xl doctor` does;
then every service whose operator last asked it to run (`desired` running), that boot may start
(`enabled`) and that does not run is started, lowest `start_order` first (ties by name), one after
the other, whatever backend it is on. A service that fails to start is reported and the others still
start. A service stopped by hand (`0xl stop`) stays stopped: its desired state is stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from zeroxl.app import doctor, journal, lifecycle, session
from zeroxl.app.context import Context
from zeroxl.errors import ZeroxlError
from zeroxl.state.schema import DamagedRecord
from zeroxl.state.service import Service

# What boot did with a service (BootResult.outcome).
STARTED = "started"  # it did not run, and now does
RUNNING_ALREADY = "running"  # it ran already (started by hand, or a backend that restarted it)
LEFT_STOPPED = "stopped"  # the operator stopped it: boot leaves it so
DISABLED = "disabled"  # it should run, but `0xl disable` keeps boot from starting it
FAILED = "failed"  # it should have started and did not (or its record cannot be read)


@dataclass(frozen=True)
class BootResult:
    name: str
    outcome: str
    start_order: int | None = None
    backend: str | None = None
    error: ZeroxlError | None = None


@dataclass(frozen=True)
class BootReport:
    recovered: tuple[str, ...]  # what finishing interrupted changes did (doctor's report)
    services: tuple[BootResult, ...]  # in the order boot took them

    @property
    def failures(self) -> tuple[BootResult, ...]:
        return tuple(r for r in self.services if r.outcome == FAILED)


def boot(ctx: Context, *, wait: float = 0.0) -> BootReport:
    """Finish interrupted changes, then start what should run, in start order."""
    recovered, unreadable = doctor.doctor(ctx, wait=wait)
    broken = dict(unreadable)
    results: list[BootResult] = []
    services: list[Service] = []
    for name in ctx.records.names():
        try:
            services.append(ctx.records.load(name))
        except DamagedRecord as e:
            results.append(BootResult(name, FAILED, error=broken.get(name, e)))
        except ZeroxlError as e:
            results.append(BootResult(name, FAILED, error=e))
    for svc in sorted(services, key=lambda s: (s.start_order, s.name)):
        results.append(_boot_one(ctx, svc, wait=wait, error=broken.get(svc.name)))
    return BootReport(tuple(recovered), tuple(results))


def _boot_one(ctx: Context, svc: Service, *, wait: float, error: ZeroxlError | None) -> BootResult:
    def result(outcome: str, e: ZeroxlError | None = None) -> BootResult:
        return BootResult(svc.name, outcome, svc.start_order, svc.backend, e)

    if svc.desired != "running":
        return result(LEFT_STOPPED)
    if not svc.enabled:
        return result(DISABLED)
    if error is not None:  # doctor could not make sense of what the backend keeps of it
        return result(FAILED, error)
    try:
        _, started = lifecycle.run(ctx, svc.name, wait=wait)
    except ZeroxlError as e:
        return result(FAILED, e)
    return result(STARTED if started else RUNNING_ALREADY)


def set_enabled(ctx: Context, name: str, *, enabled: bool, wait: float = 0.0) -> tuple[Service, bool]:
    """Let `0xl boot` start NAME (ENABLED) or not; returns the record and whether that changed. What
    runs now is left as it is."""
    with session.service_lock(ctx, name, wait=wait):
        journal.recover(ctx, name)
        svc = ctx.records.load(name)
        if svc.enabled == enabled:
            return svc, False
        return ctx.records.change(svc, enabled=enabled), True
