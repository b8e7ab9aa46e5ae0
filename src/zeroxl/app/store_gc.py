"""`0xl gc`: removing implementations from the store that no service needs any more.

A service needs its current version and the ones it ran most recently, `[store] keep` in all
(lineage.kept). `0xl gc` removes every other store entry, and the workspaces that killed downloads
left behind; an update or rollback removes, after it is done, the versions it made its service stop
needing, if no other service needs them. Disks are never touched here.

Every command that may make a service need a store entry (add, update, rollback, run) holds the store
lock shared while it works; gc holds it exclusively, so it never removes an entry that such a command
has just downloaded or chosen but not yet recorded.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from zeroxl.app import session
from zeroxl.app.context import Context
from zeroxl.errors import ConflictError, ZeroxlError
from zeroxl.state import lineage
from zeroxl.state.history import History


@dataclass(frozen=True)
class Removed:
    digest: str  # the store entry's name, sha256new_…
    size: int  # bytes in its files


@dataclass(frozen=True)
class GcResult:
    removed: tuple[Removed, ...]
    kept: int  # store entries some service needs
    workspaces: tuple[str, ...]  # left by killed downloads


def needed(ctx: Context) -> dict[str, set[str]]:
    """Which services need which store entries: digest -> service names. The store is shared by every host
    managed from here (docs/fleet.md): the services of each count."""
    from zeroxl.host.paths import HostHome, record_dirs
    from zeroxl.state.service import Records

    out: dict[str, set[str]] = {}
    main = ctx.home.main if isinstance(ctx.home, HostHome) else ctx.home.root
    for records in (Records(d) for d in record_dirs(main)):
        for name in records.names():
            svc = records.load(name)
            for digest in lineage.kept(svc, History(records.dir(name)).entries(), ctx.config.keep):
                out.setdefault(digest, set()).add(name)
    return out


def _size(path: Path) -> int:
    """The bytes under PATH, as near as can be read. An explicit stack, not os.walk, which recurses on
    Python 3.11: a stored tree may be deeper than the recursion limit."""
    total = 0
    stack = [os.fspath(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    total += entry.stat(follow_symlinks=False).st_size
    return total


def _store_lock(ctx: Context, wait: float) -> contextlib.AbstractContextManager[None]:
    return session.store_lock(
        ctx,
        wait=wait,
        shared=False,
        busy=lambda: "another 0xl command is using it (gc waits for add, update, rollback and run to finish)",
    )


def _remove(ctx: Context, digests: list[str]) -> list[Removed]:
    removed = []
    for digest in digests:
        path = ctx.store.root / digest
        size = _size(path)
        ctx.store.remove(digest)
        removed.append(Removed(digest, size))
    return removed


def gc(ctx: Context, *, wait: float = 0.0, dry_run: bool = False) -> GcResult:
    """Remove the store entries no service needs (with DRY_RUN, only say which)."""
    with _store_lock(ctx, wait):
        keep = needed(ctx)
        unneeded = [d for d in ctx.store.entries() if d not in keep]
        if dry_run:
            removed = [Removed(d, _size(ctx.store.root / d)) for d in unneeded]
            return GcResult(tuple(removed), len(keep), ())
        workspaces = ctx.store.clean_tmp()
        return GcResult(tuple(_remove(ctx, unneeded)), len(keep), tuple(workspaces))


def prune(ctx: Context, digests: set[str]) -> list[Removed]:
    """Remove those of DIGESTS that no service needs any more, if the store is free right now.

    Called after an update or rollback with the versions its service stopped needing. When another
    command holds the store, nothing is removed: the next update or `0xl gc` will.
    """
    if not digests:
        return []
    try:
        with _store_lock(ctx, 0.0):
            keep = needed(ctx)
            present = set(ctx.store.entries())
            return _remove(ctx, sorted(d for d in digests if d not in keep and d in present))
    except ConflictError:
        return []
    except ZeroxlError as e:
        ctx.ui.info(f"0xl: could not remove unneeded versions from the store: {e.message}")
        return []
