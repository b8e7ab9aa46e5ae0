"""`0xl set`: change what a service asks of updates — its channel, its version range, and how an
update decides that a new version is healthy. Nothing is fetched or restarted: the next `0xl update`
applies the change."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from zeroxl import health
from zeroxl.errors import UsageError
from zeroxl.state.service import Service, now

if TYPE_CHECKING:
    from zeroxl.services import App


def check_channel(channel: str) -> str:
    from zeroxl.feeds.selection import Channel

    try:
        return str(Channel(channel))
    except ValueError:
        raise UsageError(f"invalid channel {channel!r}", hint="use stable or testing") from None


def check_versions(versions: str) -> str:
    from zeroxl.feeds.versions import VersionRange

    try:
        VersionRange.parse(versions)
    except ValueError as e:
        raise UsageError(str(e), hint="e.g. --version 2.0..!3 (from 2.0, before 3)") from None
    return versions


def configure(
    app: App,
    name: str,
    *,
    channel: str | None = None,
    versions: str | None = None,  # "" for any version
    settle: float | None = None,
    ready_log: str | None = None,  # "" to remove
    ready_tcp: str | None = None,  # "" to remove
    ready_timeout: float | None = None,
    wait: float = 0.0,
) -> Service:
    changes: dict[str, Any] = {}
    if channel is not None:
        changes["channel"] = check_channel(channel)
    if versions is not None:
        changes["versions"] = check_versions(versions) if versions else None
    with app.lock(name, wait):
        svc = app.records.load(name)
        ready = health.readiness(svc.ready, settle=settle, log=ready_log, tcp=ready_tcp, timeout=ready_timeout)
        if any(changes.get(k, getattr(svc, k)) != getattr(svc, k) for k in ("channel", "versions")):
            changes["latest"] = None  # it was the newest of another channel or range
        svc = replace(svc, ready=ready, updated=now(), **changes)
        app.records.save(svc)
        return svc
