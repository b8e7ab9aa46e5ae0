"""The locks a use case holds, each taken explicitly (state.lock does the locking; a lock dies with its
process):

- a service's lock, with the store's lock shared: one command at a time works on a service, and `0xl gc`,
  which takes the store's lock exclusively, never removes what such a command is using;
- the store's lock alone: exclusive for gc, shared for the whole of an update run;
- the host-wide allocation lock, while the memory and MACs of a VM service are decided and recorded;
- the lock of `update --all`: one unattended update at a time.

Taking a lock does nothing else. A change of version that a killed 0xl left half done is finished or
undone by app.journal.recover, which each use case calls once it holds the service's lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from zeroxl.app.context import Context
from zeroxl.state.lock import locked


@contextlib.contextmanager
def service_lock(ctx: Context, name: str, *, wait: float = 0.0) -> Iterator[None]:
    """Hold NAME's lock and the store's, shared; wait up to WAIT seconds for each (ConflictError after)."""
    # In this machine's locks whatever the host (the store's lock must be gc's), but one per host and name:
    # `update --all --all-hosts` updates web on h1 while web on h2 is updated.
    lock = ctx.home.locks / (f"service-{name}.lock" if ctx.host == "local" else f"service-{name}@{ctx.host}.lock")
    with (
        store_lock(ctx, wait=wait, shared=True),
        locked(lock, what=f"service {name}", wait=wait, busy=lambda: _busy(ctx, name)),
    ):
        yield


def _busy(ctx: Context, name: str) -> str | None:
    """What holds NAME's lock, if its record says (a change of version under way), for the error."""
    from zeroxl.host.procinfo import Identity, alive

    with contextlib.suppress(Exception):
        t = ctx.records.load(name).transition
        if t is not None:
            change = f"version {t.from_.version} with {t.to.version}"
            if alive(Identity.from_json(t.owner)):
                return f"0xl is replacing {change} (pid {t.owner.get('pid')})"
            # Its owner was killed: what holds the lock is the one finishing the change, not that 0xl.
            return (
                f"the 0xl that was replacing {change} (pid {t.owner.get('pid')}) ended; "
                + (f"its guardian (pid {t.guardian})" if t.guardian else "another 0xl command")
                + " is finishing or undoing that change"
            )
    return None


def store_lock(
    ctx: Context, *, wait: float = 0.0, shared: bool, busy: Callable[[], str | None] | None = None
) -> contextlib.AbstractContextManager[None]:
    """The store's lock: shared by the commands that use store entries, exclusive for gc."""
    return locked(ctx.home.locks / "store.lock", what="the store", wait=wait, shared=shared, busy=busy)


@contextlib.contextmanager
def allocation_lock(ctx: Context, *, vm: bool) -> Iterator[None]:
    """The host-wide lock on what VMs are given (memory, MACs), held while a VM service is recorded; for
    a service that is no VM (VM false), nothing."""
    if not vm:
        yield
        return
    with locked(ctx.home.locks / "allocation.lock", what="the host's allocation of memory", wait=60.0):
        yield


def update_all_lock(ctx: Context, *, wait: float) -> contextlib.AbstractContextManager[None]:
    return locked(
        ctx.home.locks / "update-all.lock",
        what="0xl update --all",
        wait=wait,
        busy=lambda: "another 0xl update --all is running",
    )
