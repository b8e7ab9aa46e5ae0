"""`0xl doctor`: finish or undo every change a killed 0xl left half done, and clear the store's
abandoned workspaces and the tombstones of destroyed services. Any command on a service does the first
for that service on its own (see services.App.lock); doctor does it for all of them at once, e.g. after
a host crashed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zeroxl.errors import ZeroxlError

if TYPE_CHECKING:
    from zeroxl.services import App


def doctor(app: App, *, wait: float = 0.0) -> tuple[list[str], list[tuple[str, ZeroxlError]]]:
    """Returns what was done, and the services that could not be looked at (with why)."""
    done: list[str] = []
    failed: list[tuple[str, ZeroxlError]] = []
    for name in app.records.names():
        try:
            if app.records.load(name).transition is None:
                continue
            with app.lock(name, wait) as finished:
                if finished:
                    done.append(finished)
        except ZeroxlError as e:
            failed.append((name, e))
    app.records.clear_buried()  # what a destroy killed before it deleted its tombstone left
    workspaces = app.store.clean_tmp()
    if workspaces:
        done.append(f"removed {len(workspaces)} abandoned download workspace(s) from the store")
    return done, failed
