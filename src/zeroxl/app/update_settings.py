"""`0xl set`: change what a service asks of updates — its channel, its version range, and how an
update decides that a new version is healthy — and how it is started: its restart policy and its place
in `0xl boot`'s order. Nothing is fetched or restarted: the next `0xl update` applies the first, the
next start the restart policy."""

from __future__ import annotations

from typing import Any

from zeroxl.app import fits, health, journal, reconcile, session
from zeroxl.app.context import Context
from zeroxl.host.policy import check_restart, check_start_order
from zeroxl.state.service import Service


def change_settings(
    ctx: Context,
    name: str,
    *,
    channel: str | None = None,
    versions: str | None = None,  # "" for any version
    settle: float | None = None,
    ready_log: str | None = None,  # "" to remove
    ready_tcp: str | None = None,  # "" to remove
    ready_timeout: float | None = None,
    restart: str | None = None,
    start_order: int | None = None,
    wait: float = 0.0,
) -> Service:
    """Change NAME's update settings (None: keep); returns the record."""
    changes: dict[str, Any] = {}
    if channel is not None:
        changes["channel"] = str(fits.channel(channel))
    if versions is not None:
        changes["versions"] = versions if versions and fits.version_range(versions) else None
    if restart is not None:
        changes["restart"] = check_restart(restart)
    if start_order is not None:
        changes["start_order"] = check_start_order(start_order)
    with session.service_lock(ctx, name, wait=wait):
        journal.recover(ctx, name)
        svc = reconcile.owned(ctx, name)
        ready = health.readiness(svc.ready, settle=settle, log=ready_log, tcp=ready_tcp, timeout=ready_timeout)
        if any(changes.get(k, getattr(svc, k)) != getattr(svc, k) for k in ("channel", "versions")):
            changes["latest"] = None  # it was the newest of another channel or range
        svc = ctx.records.change(svc, ready=ready, **changes)
        reconcile.note(ctx, svc)
        return svc
