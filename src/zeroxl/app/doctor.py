"""`0xl doctor`: finish or undo every change a killed 0xl left half done (a move of a service between hosts
too, whichever hosts), and clear the store's
abandoned workspaces and the tombstones of destroyed services. Every command on a service does the first
for that service (app.journal.recover, once it holds the service's lock); doctor does it for all of them
at once, e.g. after a host crashed. State it cannot repair (a damaged record, a damaged unix state file)
it reports, with what to do."""

from __future__ import annotations

from zeroxl.app import add, journal, session, store_gc
from zeroxl.app.context import Context
from zeroxl.errors import StateError, ZeroxlError
from zeroxl.state.schema import DamagedRecord


def doctor(ctx: Context, *, wait: float = 0.0) -> tuple[list[str], list[tuple[str, ZeroxlError]]]:
    """Returns what was done, and the services that could not be looked at (with why)."""
    done: list[str] = []
    failed: list[tuple[str, ZeroxlError]] = []
    _ = ctx.config  # a config.toml 0xl cannot read stops doctor before it looks at any service
    # A killed `0xl move` first (app.move): its half on the new host looks like a killed add, which alone
    # would not run the service again on the old host.
    from zeroxl.app import move

    moves_done, moves_failed = move.recover_all(ctx.home.root, wait=wait)
    done.extend(moves_done)
    failed.extend(moves_failed)
    for name in ctx.records.names():
        try:
            svc = ctx.records.load(name)
            if svc.transition is not None:
                with session.service_lock(ctx, name, wait=wait):
                    finished = journal.recover(ctx, name)
                if finished:
                    done.append(finished)
            ctx.backend(svc.backend).check_state(svc)
        except DamagedRecord as e:
            failed.append((name, StateError(e.message, hint=_damaged_record_hint(ctx, name))))
        except ZeroxlError as e:
            failed.append((name, e))
    unused: set[str] = set()
    for name in ctx.records.unrecorded():
        try:
            with session.service_lock(ctx, name, wait=wait):
                undone = add.undo_interrupted(ctx, name, unused)
                if undone and not ctx.records.exists(name):
                    ctx.records.bury(name)
            if undone:
                done.append(undone)
        except ZeroxlError as e:
            failed.append((name, e))
    if unused:  # now that this command holds no lock on the store
        removed = store_gc.prune(ctx, unused)
        if removed:
            done.append(f"removed {len(removed)} implementation(s) it had downloaded from the store")
    ctx.records.clear_buried()  # what a destroy killed before it deleted its tombstone left
    workspaces = ctx.store.clean_tmp()
    if workspaces:
        done.append(f"removed {len(workspaces)} abandoned download workspace(s) from the store")
    return done, failed


def _damaged_record_hint(ctx: Context, name: str) -> str:
    return (
        "put back a copy of it if you have one: 0xl writes a record whole or not at all, so something else "
        f"changed it. Or remove the service by hand: end what runs of it, then move {ctx.records.dir(name)} "
        "out of ZEROXL_HOME; its disks are kept (0xl disk list shows them)"
    )
