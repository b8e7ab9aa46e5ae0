"""The store entry of the version a service runs: there for `run`, a rollback and the version journal,
fetched again from the feed as last verified (and checked against its digest) if `0xl gc` removed it."""

from __future__ import annotations

from pathlib import Path

from zeroxl.app.context import Context
from zeroxl.errors import NotFoundError
from zeroxl.state.service import Service


def impl_dir(ctx: Context, svc: Service) -> Path:
    """The store entry of SVC's current version, fetched again (and verified) if it was removed."""
    if svc.current is None:
        raise NotFoundError(f"service {svc.name} has no version selected", hint=f"run 0xl update {svc.name}")
    path = ctx.store.root / svc.current.digest
    if path.is_dir():
        return path
    feed = ctx.loader.cached_feed(svc.feed)
    impl = next((i for i in (feed.implementations if feed else ()) if i.store_name == svc.current.digest), None)
    if impl is None:
        raise NotFoundError(
            f"version {svc.current.version} of {svc.name} is no longer in the store or in its feed",
            hint=f"run 0xl update {svc.name}",
        )
    return ctx.store.ensure(impl, ctx.fetcher)
