"""`0xl doctor`: finish or undo every change a killed 0xl left half done, and clear the store's
abandoned workspaces and the tombstones of destroyed services. Any command on a service does the first
for that service on its own (see services.App.lock); doctor does it for all of them at once, e.g. after
a host crashed. State it cannot repair (a damaged record, a damaged unix state file) it reports, with
what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zeroxl.errors import StateError, ZeroxlError
from zeroxl.state.schema import DamagedRecord

if TYPE_CHECKING:
    from zeroxl.services import App
    from zeroxl.state.service import Service


def doctor(app: App, *, wait: float = 0.0) -> tuple[list[str], list[tuple[str, ZeroxlError]]]:
    """Returns what was done, and the services that could not be looked at (with why)."""
    done: list[str] = []
    failed: list[tuple[str, ZeroxlError]] = []
    for name in app.records.names():
        try:
            svc = app.records.load(name)
            if svc.transition is not None:
                with app.lock(name, wait) as finished:
                    if finished:
                        done.append(finished)
            _check_runtime(app, svc)
        except DamagedRecord as e:
            failed.append((name, StateError(e.message, hint=_damaged_record_hint(app, name))))
        except ZeroxlError as e:
            failed.append((name, e))
    unused: set[str] = set()
    for name in app.records.unrecorded():
        try:
            with app.lock(name, wait):
                undone = app.undo_interrupted_add(name, unused)
                if undone and not app.records.exists(name):
                    app.records.bury(name)
            if undone:
                done.append(undone)
        except ZeroxlError as e:
            failed.append((name, e))
    if unused:  # now that this command holds no lock on the store
        from zeroxl import gc

        removed = gc.prune(app, unused)
        if removed:
            done.append(f"removed {len(removed)} implementation(s) it had downloaded from the store")
    app.records.clear_buried()  # what a destroy killed before it deleted its tombstone left
    workspaces = app.store.clean_tmp()
    if workspaces:
        done.append(f"removed {len(workspaces)} abandoned download workspace(s) from the store")
    return done, failed


def _damaged_record_hint(app: App, name: str) -> str:
    return (
        "put back a copy of it if you have one: 0xl writes a record whole or not at all, so something else "
        f"changed it. Or remove the service by hand: end what runs of it, then move {app.records.dir(name)} "
        "out of ZEROXL_HOME; its disks are kept (0xl disk list shows them)"
    )


def _check_runtime(app: App, svc: Service) -> None:
    """Raise StateError, saying what to do, if the unix backend's state file of SVC cannot be read."""
    if svc.backend != "unix":
        return
    from zeroxl.backends.unix import runtime

    try:
        runtime.read_state(app.records.dir(svc.name))
    except runtime.DamagedState as e:
        raise StateError(
            str(e),
            hint=f"0xl stop {svc.name} ends what runs of it (0xl finds it in /proc), and 0xl run {svc.name} "
            "then starts it with a new state file",
        ) from e
