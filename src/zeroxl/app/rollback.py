"""`0xl rollback`: back to the version that ran before, or to a named one, from the service's history.

The implementation comes from the store if it is still there (the store keeps the last `[store] keep`
versions of each service), else it is downloaded again from the feed as last verified and checked
against its digest. The change goes through app.journal like an update: a running service is
health-checked on the old version and put back where it was if that fails. Disks are never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from zeroxl import testhooks
from zeroxl.app import fits, journal, reconcile, session, store_gc
from zeroxl.app.context import Context
from zeroxl.app.implementations import impl_dir
from zeroxl.errors import NotFoundError
from zeroxl.state import lineage
from zeroxl.state.history import History
from zeroxl.state.service import Readiness, Service


@dataclass(frozen=True)
class RollbackResult:
    svc: Service
    from_version: str
    to_version: str
    changed: bool  # False: it already ran that version
    message: str


def rollback(
    ctx: Context,
    name: str,
    *,
    to: str | None = None,
    ready: Callable[[Readiness], Readiness] = lambda r: r,
    wait: float = 0.0,
) -> RollbackResult:
    """Go back to the version NAME ran before, or to version TO from its history."""
    with session.service_lock(ctx, name, wait=wait):
        journal.recover(ctx, name)
        svc = reconcile.owned(ctx, name)
        history = History(ctx.records.dir(name))
        entries = history.entries()
        if svc.current is None:
            raise NotFoundError(f"service {name} has no version to roll back from")
        target = lineage.named(entries, to) if to is not None else lineage.previous(entries, svc.current)
        if target is None:
            ran = ", ".join(dict.fromkeys(s.version for s in lineage.ran(entries)))
            what = f"version {to} is not" if to is not None else "no earlier version is"
            raise NotFoundError(
                f"{what} in the history of {name} (it ran: {ran or 'nothing yet'})",
                hint=f"see 0xl history {name}",
            )
        before = svc.current
        if target.digest == before.digest:
            return RollbackResult(svc, before.version, target.version, False, f"{name} already runs {target.version}")
        target_dir = impl_dir(ctx, replace(svc, current=target))  # from the store, or fetched again and verified
        fits.check_fits(ctx, svc, target, target_dir)
        testhooks.pause("rollback-fetched")
        keep_before = lineage.kept(svc, entries, ctx.config.keep)
        done = journal.replace_version(ctx, svc, target, target_dir, action="rollback", ready=ready(svc.ready))
        dropped = keep_before - lineage.kept(done.svc, history.entries(), ctx.config.keep)
    store_gc.prune(ctx, dropped)  # only now: it needs the store to itself
    return RollbackResult(done.svc, before.version, target.version, True, done.message)
