"""The version journal: replacing the version a service runs so that it always ends up running one whole
version, and finishing or undoing a replacement that a killed 0xl left half done.

For a running service: record the change as a journal in the service's record (phase SWAP, see
state/transition.py), stop the old version, start the new one, check its health; then record the new
version (phase DONE), add the history entry, drop the journal. If the new version fails to start or
fails its health check, the journal turns to ROLLBACK and the old version is started again; the
history shows the failed update and the automatic rollback, and the caller gets RolledBackError.

Every step is safe to repeat, so a 0xl killed anywhere is finished by whoever holds the service's lock
next and calls `recover`: the guardian this module starts for the time of each replacement (app.guardian)
at once, else the next command on the service or `0xl doctor`. An interrupted SWAP is undone (the old
version runs again and the history says the update was interrupted); a ROLLBACK is finished; a DONE only
gets its history entry. A stopped service is updated in the record alone, through the same DONE step.
Disks are never touched.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zeroxl import proc, testhooks
from zeroxl.app import health, reconcile
from zeroxl.app.context import Context
from zeroxl.app.implementations import impl_dir
from zeroxl.backends.states import RUNNING
from zeroxl.errors import BackendError, RolledBackError, ZeroxlError
from zeroxl.host.paths import Home, HostHome
from zeroxl.host.procinfo import identity
from zeroxl.state.history import Entry, History
from zeroxl.state.private import create_file
from zeroxl.state.selected import Selected
from zeroxl.state.service import Readiness, Service, now
from zeroxl.state.transition import DONE, ROLLBACK, SWAP, Transition


@dataclass(frozen=True)
class Replaced:
    svc: Service  # the record afterwards
    restarted: bool  # False: the service was not running, only its record changed
    message: str  # how it went, as the history says it


def _owner() -> dict[str, Any]:
    me = identity(os.getpid())
    return me.to_json() if me else {"pid": os.getpid()}


def replace_version(
    ctx: Context, svc: Service, to: Selected, to_dir: Path, *, action: str, ready: Readiness
) -> Replaced:
    """Make TO (stored at TO_DIR, already checked to fit SVC) the version SVC runs.

    The caller holds the service's lock. Raises RolledBackError when TO failed its health check and
    the version that ran before runs again.
    """
    if svc.current is None or svc.transition is not None:
        raise ValueError(f"{svc.name}: replace_version needs a current version and no change under way")
    backend = ctx.backend(svc.backend)
    runtime = backend.status(svc)
    # What runs decides, not `desired`: a run killed before it recorded `desired` leaves a process that
    # an update must replace, or the old version would go on running under a record of the new one.
    # A service its backend is about to restart (a unix program in back-off) is replaced like a running
    # one too: left alone, the backend would bring the old version back behind the new record.
    if runtime.state != RUNNING and not runtime.extra.get("restarting"):
        message = f"{svc.name} is not running: {to.version} runs when it is started"
        svc = _done(ctx, svc, _journal(svc, to, action, phase=DONE, guardian=None, message=message))
        svc = _finish_done(ctx, svc)
        reconcile.note(ctx, svc)  # a domain 0xl keeps defined while stopped says the version it will run
        return Replaced(svc, restarted=False, message=message)
    with _guardian(ctx.home) as guardian:
        return _swap(ctx, svc, to, to_dir, action=action, ready=ready, guardian=guardian)


def _swap(
    ctx: Context, svc: Service, to: Selected, to_dir: Path, *, action: str, ready: Readiness, guardian: int
) -> Replaced:
    """Replace what runs of SVC with TO, watched by GUARDIAN."""
    backend = ctx.backend(svc.backend)
    t = _journal(svc, to, action, phase=SWAP, guardian=guardian)
    svc = ctx.records.change(svc, transition=t, desired="running")  # it runs, and will run one version or the other
    new = replace(svc, current=to)
    try:
        backend.stop(svc)
        testhooks.pause("stopped")
        offset, inode = health.log_mark(backend.log_path(new))
        try:
            backend.start(new, to_dir)
        except BackendError as e:
            result = health.Health(False, f"it did not start: {e.message}", 0.0)
        else:
            testhooks.pause("started")
            result = health.check(backend, new, ready, log_offset=offset, log_inode=inode)
    except ZeroxlError as e:  # the backend could not stop the old version, say: the update failed
        result = health.Health(False, e.message, 0.0)
    except BaseException:
        # Ctrl-C, or a failure of 0xl itself: the old version goes back before the error is shown.
        _roll_back(
            ctx, svc, outcome="interrupted", reason="0xl was interrupted while replacing the version", ready=ready
        )
        raise
    if result.ok:
        svc = _done(ctx, svc, replace(t, message=result.reason))
        return Replaced(_finish_done(ctx, svc), restarted=True, message=result.reason)
    old = t.from_.version
    _, restart_error = _roll_back(ctx, svc, outcome="failed", reason=result.reason, ready=ready)
    if restart_error is not None:
        raise BackendError(
            f"{svc.name}: {to.version} failed its health check ({result.reason}), and {old}, "
            f"which ran before, did not start again: {restart_error.message}",
            hint=f"see 0xl logs {svc.name} and 0xl history {svc.name}",
        )
    raise RolledBackError(
        f"{svc.name}: {to.version} failed its health check: {result.reason}; rolled back to {old}, which runs again",
        hint=f"see 0xl logs {svc.name} and 0xl history {svc.name}",
    )


def _journal(
    svc: Service, to: Selected, action: str, *, phase: str, guardian: int | None, message: str = ""
) -> Transition:
    if svc.current is None:
        raise ValueError(f"{svc.name} has no current version to replace")
    return Transition(
        action=action,
        phase=phase,
        from_=svc.current,
        to=to,
        started=now(),
        owner=_owner(),
        guardian=guardian,
        message=message,
    )


def _done(ctx: Context, svc: Service, t: Transition) -> Service:
    """Record T's new version as the current one: the change has happened, only its history is missing."""
    t = replace(t, phase=DONE, decided=now())
    svc = ctx.records.change(svc, current=t.to, transition=t)
    testhooks.pause("done")
    return svc


def _recorded(ctx: Context, svc: Service, t: Transition) -> bool:
    """True if T's history entries were written (they are newer than its decision, and written at once)."""
    decided = t.decided or t.started
    return any(
        e.time >= decided and e.action == t.action and e.to is not None and e.to.digest == t.to.digest
        for e in History(ctx.records.dir(svc.name)).entries()[-2:]
    )


def _finish_done(ctx: Context, svc: Service) -> Service:
    t = svc.transition
    if t is None or t.phase != DONE:
        raise ValueError(f"{svc.name}: no finished change to record")
    if not _recorded(ctx, svc, t):
        History(ctx.records.dir(svc.name)).append(
            Entry(time=now(), action=t.action, to=t.to, from_=t.from_, outcome="ok", message=t.message)
        )
    testhooks.pause("recorded")
    return ctx.records.change(svc, transition=None)


def _roll_back(
    ctx: Context, svc: Service, *, outcome: str, reason: str, ready: Readiness
) -> tuple[Service, ZeroxlError | None]:
    """Run T's old version again and wait until it is READY (no settling: it ran before); record why.

    Returns the record and the error if it did not start again, or was not ready.
    """
    t = svc.transition
    if t is None:
        raise ValueError(f"{svc.name}: no change under way to roll back")
    if t.phase != ROLLBACK:
        t = replace(t, phase=ROLLBACK, decided=now(), outcome=outcome, reason=reason)
        svc = ctx.records.change(svc, current=t.from_, transition=t)
    backend = ctx.backend(svc.backend)
    restart_error: ZeroxlError | None = None
    try:
        backend.stop(svc)
        testhooks.pause("rolling-back")
        offset, inode = health.log_mark(backend.log_path(svc))
        backend.start(svc, impl_dir(ctx, svc))
        again = health.check(backend, svc, replace(ready, settle=0.0), log_offset=offset, log_inode=inode)
        if not again.ok:
            restart_error = BackendError(again.reason)
    except ZeroxlError as e:
        restart_error = e
    if not _recorded(ctx, svc, t):
        History(ctx.records.dir(svc.name)).append(*_rollback_entries(t, restart_error))
    testhooks.pause("rolled-back")
    return ctx.records.change(svc, transition=None), restart_error


def _rollback_entries(t: Transition, restart_error: ZeroxlError | None) -> list[Entry]:
    again = (
        f"{t.from_.version} runs again"
        if restart_error is None
        else f"{t.from_.version} did not start again: {restart_error.message}"
    )
    if t.outcome == "interrupted":
        return [
            Entry(
                time=now(),
                action=t.action,
                to=t.to,
                from_=t.from_,
                outcome="interrupted",
                message=f"{t.reason}; {again}",
            )
        ]
    return [
        Entry(time=now(), action=t.action, to=t.to, from_=t.from_, outcome="failed", message=t.reason),
        Entry(
            time=now(),
            action="auto-rollback",
            to=t.from_,
            from_=t.to,
            outcome="ok" if restart_error is None else "failed",
            message=again,
        ),
    ]


def recover(ctx: Context, name: str) -> str | None:
    """Finish or undo the change of version NAME's record says was under way, if any; say what was done
    (ctx.ui.info) and return it, None if nothing was half done.

    The caller holds NAME's lock (app.session.service_lock), so whoever started the change is gone (killed,
    or it failed without cleaning up). Never raises for the service's own failure to start: a command that
    only wants to stop or destroy the service must not be blocked by it.
    """
    if not ctx.records.exists(name):
        return None
    svc = ctx.records.load(name)
    t = svc.transition
    if t is None:
        return None
    if t.phase == DONE:
        _finish_done(ctx, svc)
        done = f"finished the interrupted {t.action} of {svc.name} to {t.to.version}"
    else:
        _, restart_error = _roll_back(
            ctx,
            svc,
            outcome=t.outcome or "interrupted",
            reason=t.reason or f"0xl was interrupted while replacing {t.from_.version} with {t.to.version}",
            ready=svc.ready,
        )
        done = (
            f"undid the interrupted {t.action} of {svc.name}, but {t.from_.version} did not start again: "
            f"{restart_error.message}"
            if restart_error is not None
            else f"undid the interrupted {t.action} of {svc.name} to {t.to.version}: {t.from_.version} runs again"
        )
    ctx.ui.info(f"0xl: {done}")
    return done


# -- the guardian's side in this process ----------------------------------------------------------------
# A guardian (app.guardian) holds the read end of a pipe whose write end only this process has: when this
# process ends, normally or killed with SIGKILL, the pipe reads end-of-file and the guardian finishes what
# this process left half done. One watches each replacement, from before the old version stops until the
# journal is gone from the record.


@contextlib.contextmanager
def _guardian(home: Home) -> Iterator[int]:
    """A guardian for HOME while the block runs; yields its pid."""
    read_end, write_end = os.pipe()  # not inherited by anything else 0xl starts (close_fds, O_CLOEXEC)
    log = home.root / "guardian.log"
    env = {k: v for k, v in os.environ.items() if k != testhooks.ENV}
    # A service of another host: the guardian works on that host (its libvirt URI, this machine's locks).
    where = [str(home.main), home.root.name] if isinstance(home, HostHome) else [str(home.root)]
    try:
        with open(create_file(str(log), os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab") as out:  # noqa: PTH123
            child = proc.spawn(
                [sys.executable, "-m", "zeroxl.app.guardian", where[0], str(read_end), str(os.getpid()), *where[1:]],
                cwd=home.root,
                stdout=out.fileno(),
                stderr=out.fileno(),
                env=env,
                pass_fds=(read_end,),
            )
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    try:
        yield child.pid
    finally:
        os.close(write_end)  # the guardian checks, finds nothing left to do, and exits
