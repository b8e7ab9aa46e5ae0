"""`0xl update`: refresh feeds, choose per channel and version range, replace what runs, safely.

Two stages. First, with no service lock held, every feed is fetched once (services that share a feed
share the fetch), concurrently, with conditional requests, and verified as `add` verifies it (a feed
that fails verification is an error for its services; no cached copy stands in for it); the chosen
implementations are downloaded and verified, concurrently too. Nothing has changed yet. Second, one
service at a time under its lock, the choice is made again against the record as it is now, recorded
as the newest version available (`latest`, when it changed), and, unless `--check`, the service is moved to it by
app.journal, which checks its health and rolls back on its own.

An update does not take a version its service was rolled back from (by the health check or by `0xl
rollback`), so that unattended updates do not try a known-bad version again and again; `--retry` does.
One service's failure never stops the others, whatever it is (an unforeseen exception becomes an
UnexpectedError of that service): each gets an `Outcome`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from zeroxl import testhooks
from zeroxl.app import fits, journal, reconcile, session, store_gc
from zeroxl.app.context import Context
from zeroxl.errors import ConflictError, RolledBackError, SelectionError, UnexpectedError, ZeroxlError
from zeroxl.feeds.load import LoadedFeed
from zeroxl.feeds.model import Implementation
from zeroxl.feeds.selection import candidates, select
from zeroxl.feeds.trust import signature_warning
from zeroxl.state import lineage
from zeroxl.state.history import Entry, History
from zeroxl.state.service import Readiness, Service, now

# Fetches and downloads in flight at once: enough to hide network latency, few enough for a small host.
MAX_CONCURRENT = 16

CURRENT, AVAILABLE, UPDATED, ROLLED_BACK, FAILED = "current", "available", "updated", "rolled-back", "failed"


@dataclass(frozen=True)
class Outcome:
    name: str
    state: str  # CURRENT, AVAILABLE (--check), UPDATED, ROLLED_BACK or FAILED
    version: str | None  # what it ran before
    to: str | None = None  # what it runs now (UPDATED), or would run (AVAILABLE)
    latest: str | None = None  # the newest version on its channel and in its range
    message: str = ""
    error: ZeroxlError | None = None
    signed: int | None = None  # when the feed used was signed (None if it could not be loaded)
    expires: int | None = None  # when that signature expires, if it does
    warning: str | None = None  # what to warn about that signature (feeds.trust.signature_warning)


@dataclass(frozen=True)
class Choice:
    newest: Implementation  # newest on the channel, in the range, for the target
    pick: Implementation  # what an update takes: newest, less what it was rolled back from
    passed_over: tuple[str, ...]  # versions passed over because they were rolled back from


# -- choosing ------------------------------------------------------------------------------------------


def choose(svc: Service, loaded: LoadedFeed, history: Sequence[Entry], *, retry: bool) -> Choice:
    """What an update of SVC would take from LOADED (raises SelectionError when nothing fits)."""
    req = fits.requirements(svc)
    newest = select(loaded.feed, req)
    refused = {} if retry else lineage.rolled_back_from(history)
    current = svc.current.digest if svc.current else None
    passed: list[str] = []
    for impl in candidates(loaded.feed, req):
        if impl.store_name in refused and impl.store_name != current:
            passed.append(str(impl.version))
            continue
        return Choice(newest, impl, tuple(passed))
    # Everything that fits was rolled back from: stay where we are if that is still on offer.
    stay = next((i for i in candidates(loaded.feed, req) if i.store_name == current), None)
    if stay is None:
        raise SelectionError(
            f"every version of {svc.feed} that fits {svc.name} was rolled back from ({', '.join(passed)})",
            hint=f"0xl update {svc.name} --retry takes the newest again",
        )
    return Choice(newest, stay, tuple(passed))


def latest_json(svc: Service, impl: Implementation) -> dict[str, object] | None:
    """The record's `latest` for IMPL, the newest on SVC's channel; None if the record has it already.

    Written only when it changes, with the time it was first seen: an unchanged check writes nothing
    (a hundred services checked hourly would otherwise mean a hundred synced writes each time).
    """
    if svc.latest is not None and svc.latest.get("digest") == impl.store_name:
        return None
    return {"version": str(impl.version), "digest": impl.store_name, "stability": str(impl.stability), "since": now()}


# -- concurrency helpers ----------------------------------------------------------------------------------

K = TypeVar("K")
V = TypeVar("V")


def _each(keys: Sequence[K], work: Callable[[K], V]) -> dict[K, V | ZeroxlError]:
    """WORK for every key, concurrently; an error, of whatever type, is that key's result."""
    if len(keys) <= 1:
        return {k: _isolated(work, k) for k in keys}
    with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT, len(keys))) as pool:
        return dict(zip(keys, pool.map(lambda k: _isolated(work, k), keys), strict=True))


def _isolated(work: Callable[[K], V], key: K) -> V | ZeroxlError:
    """WORK(KEY), or the error it raised: what fails for one service (or one feed) is that one's outcome."""
    try:
        return work(key)
    except ZeroxlError as e:
        return e
    except Exception as e:  # a bug, or input no check foresaw: it must not stop the other services
        return UnexpectedError.of(e)


# -- the use case --------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    svc: Service  # the record as stage one read it
    retry: bool
    loaded: LoadedFeed | None = None
    choice: Choice | None = None
    error: ZeroxlError | None = None


def update(
    ctx: Context,
    names: Sequence[str],
    *,
    everything: bool = False,
    check: bool = False,
    retry: bool = False,
    ready: Callable[[Readiness], Readiness] = lambda r: r,
    wait: float = 0.0,
    dropped: set[str] | None = None,
) -> list[Outcome]:
    """Update NAMES (or every service, with EVERYTHING); with CHECK only find out what would change.

    READY turns a service's recorded readiness settings into those of this run (command-line options).
    DROPPED: the caller (app.fleet, which updates several hosts at once) holds the lock of `update --all`
    and collects here the store entries to prune once every host is done; without it, this run does both.
    """
    # Store entries this run may leave unused: versions updated services no longer keep, and what stage one
    # downloaded for an update that was then refused or failed. Removed at the end if no service needs them.
    collected = dropped is not None
    dropped = set() if dropped is None else dropped
    try:
        with contextlib.ExitStack() as stack:
            if everything:
                if not collected:
                    stack.enter_context(session.update_all_lock(ctx, wait=wait))
                names = ctx.records.names()
            # Shared for the whole run: what stage one downloads stays in the store until stage two uses it.
            stack.enter_context(session.store_lock(ctx, wait=wait, shared=True))
            plans, outcomes = _read(ctx, names, retry=retry)
            dropped |= _refresh(ctx, plans, check=check)
            testhooks.pause("fetched")
            outcomes.update(_apply(ctx, plans, check=check, ready=ready, wait=wait, dropped=dropped))
    finally:
        # Only now: store_gc.prune needs the store to itself, and this run held it shared until here.
        if not collected:
            pruned(ctx, dropped)
    return [_dated(ctx, outcomes[n], plans.get(n)) for n in names]


def pruned(ctx: Context, dropped: set[str]) -> None:
    """Remove what DROPPED holds that no service needs any more (store_gc.prune), and say so."""
    removed = store_gc.prune(ctx, dropped)
    if removed:
        ctx.ui.info(f"0xl: removed {len(removed)} implementation(s) no service keeps any more from the store")


def _dated(ctx: Context, outcome: Outcome, plan: _Plan | None) -> Outcome:
    """OUTCOME with the dates of the feed's signature, which `update --check` shows (freeze attacks), and
    what to warn about them."""
    if plan is None or plan.loaded is None:
        return outcome
    signed, expires = plan.loaded.entry.signed, plan.loaded.entry.expires
    warning = signature_warning(signed, expires, now=time.time(), limits=ctx.config.signatures)
    return replace(outcome, signed=signed, expires=expires, warning=warning)


def _read(ctx: Context, names: Sequence[str], *, retry: bool) -> tuple[dict[str, _Plan], dict[str, Outcome]]:
    plans: dict[str, _Plan] = {}
    outcomes: dict[str, Outcome] = {}
    for name in names:
        try:
            plans[name] = _Plan(ctx.records.load(name), retry)
        except ZeroxlError as e:
            outcomes[name] = Outcome(name, FAILED, None, error=e)
        except Exception as e:  # as in _isolated
            outcomes[name] = Outcome(name, FAILED, None, error=UnexpectedError.of(e))
    return plans, outcomes


def _refresh(ctx: Context, plans: dict[str, _Plan], *, check: bool) -> set[str]:
    """Stage one: fetch and verify every feed once, choose, download what will be needed.

    Returns the store entries it downloaded (not those it found). The threads share one loader and its
    HTTP client, which keeps connections to a server open.
    """
    urls = sorted({p.svc.feed for p in plans.values()})
    feeds = _each(urls, ctx.loader.load)
    for plan in plans.values():
        loaded = feeds[plan.svc.feed]
        if isinstance(loaded, ZeroxlError):
            plan.error = loaded
            continue
        plan.loaded = loaded
        try:
            plan.choice = choose(plan.svc, loaded, _history(ctx, plan.svc.name), retry=plan.retry)
        except ZeroxlError as e:
            plan.error = e
        except Exception as e:  # as in _isolated
            plan.error = UnexpectedError.of(e)
    if check:
        return set()
    wanted = {
        p.choice.pick.store_name: p.choice.pick
        for p in plans.values()
        if p.choice is not None and p.svc.current is not None and p.choice.pick.store_name != p.svc.current.digest
    }
    downloaded = {d for d, impl in wanted.items() if ctx.store.path(impl) is None}
    users = {
        d: sorted(p.svc.name for p in plans.values() if p.choice and p.choice.pick.store_name == d) for d in wanted
    }
    got = _each(sorted(wanted), lambda d: _download(ctx, wanted[d], f"{', '.join(users[d])} {wanted[d].version}"))
    for plan in plans.values():
        if plan.choice is not None:
            result = got.get(plan.choice.pick.store_name)
            if isinstance(result, ZeroxlError):
                plan.error = result
    return downloaded


def _history(ctx: Context, name: str) -> list[Entry]:
    return History(ctx.records.dir(name)).entries()


def _apply(
    ctx: Context,
    plans: dict[str, _Plan],
    *,
    check: bool,
    ready: Callable[[Readiness], Readiness],
    wait: float,
    dropped: set[str],
) -> dict[str, Outcome]:
    """Stage two. Services that only may get a new `latest` are done concurrently; versions change one
    service at a time."""
    outcomes: dict[str, Outcome] = {}
    committed: set[str] = set()
    changing = [
        n
        for n, p in plans.items()
        if not check and p.error is None and p.choice is not None and _moves(p.svc, p.choice)
    ]
    quiet = [n for n in plans if n not in changing]
    results = _each(quiet, lambda n: _note(ctx, plans[n], check=check, wait=wait))
    for name in quiet:
        result = results[name]
        outcomes[name] = _failed(plans[name], result) if isinstance(result, ZeroxlError) else result
        _commit_feed(ctx, plans[name], committed, outcomes[name])
    for name in changing:
        try:
            outcomes[name] = _move(ctx, plans[name], ready=ready, wait=wait, dropped=dropped)
        except RolledBackError as e:
            outcomes[name] = _failed(plans[name], e, state=ROLLED_BACK)
        except ZeroxlError as e:
            outcomes[name] = _failed(plans[name], e)
        except Exception as e:  # as in _isolated; the journal lets the next command finish a half-done change
            outcomes[name] = _failed(plans[name], UnexpectedError.of(e))
        _commit_feed(ctx, plans[name], committed, outcomes[name])
    return outcomes


def _moves(svc: Service, choice: Choice) -> bool:
    return svc.current is None or choice.pick.store_name != svc.current.digest


def _failed(plan: _Plan, error: ZeroxlError, *, state: str = FAILED) -> Outcome:
    version = plan.svc.current.version if plan.svc.current else None
    latest = str(plan.choice.newest.version) if plan.choice else None
    to = str(plan.choice.pick.version) if plan.choice else None
    return Outcome(plan.svc.name, state, version, to=to, latest=latest, message=error.message, error=error)


def _commit_feed(ctx: Context, plan: _Plan, committed: set[str], outcome: Outcome) -> None:
    """Keep the verified feed (replay protection, caching headers) once a service has used it."""
    if plan.loaded is None or outcome.state == FAILED or plan.svc.feed in committed:
        return
    committed.add(plan.svc.feed)
    if plan.loaded.changed or plan.loaded.new_trust is not None:
        ctx.loader.commit(plan.loaded)


@contextlib.contextmanager
def _fresh(ctx: Context, plan: _Plan, wait: float) -> Iterator[tuple[Service, Choice]]:
    """The service's record under its lock, and the choice made again if the record changed since stage one."""
    if plan.loaded is None or plan.choice is None:
        raise ValueError(f"{plan.svc.name}: nothing was chosen")
    with session.service_lock(ctx, plan.svc.name, wait=wait):
        journal.recover(ctx, plan.svc.name)
        svc = reconcile.owned(ctx, plan.svc.name)
        if svc.feed != plan.svc.feed:
            raise ConflictError(
                f"{svc.name}: its feed changed during the update", hint=f"run 0xl update {svc.name} again"
            )
        choice = plan.choice
        if (svc.channel, svc.versions, svc.target, svc.current) != (
            plan.svc.channel,
            plan.svc.versions,
            plan.svc.target,
            plan.svc.current,
        ):
            choice = choose(svc, plan.loaded, _history(ctx, svc.name), retry=plan.retry)
        yield svc, choice


def _note(ctx: Context, plan: _Plan, *, check: bool, wait: float) -> Outcome:
    """Record the newest version available; report whether an update would change anything."""
    if plan.error is not None:
        with session.service_lock(ctx, plan.svc.name, wait=wait):
            journal.recover(ctx, plan.svc.name)  # a change a killed 0xl left is finished, even when the feed is down
        return _failed(plan, plan.error)
    if plan.choice is not None and plan.svc.transition is None and latest_json(plan.svc, plan.choice.newest) is None:
        # Nothing to write and nothing half done: the record as read a moment ago answers, without its lock
        # (the common case of a check over many unchanged feeds).
        svc, choice = plan.svc, plan.choice
    else:
        with _fresh(ctx, plan, wait) as (svc, choice):
            latest = latest_json(svc, choice.newest)
            if latest is not None:
                ctx.records.change(svc, latest=latest)
    version = svc.current.version if svc.current else None
    moves = _moves(svc, choice)
    message = ""
    if choice.passed_over:
        message = passing_over(svc.name, choice.passed_over)
    return Outcome(
        svc.name,
        AVAILABLE if moves else CURRENT,
        version,
        to=str(choice.pick.version) if moves else None,
        latest=str(choice.newest.version),
        message=message,
    )


def _move(
    ctx: Context, plan: _Plan, *, ready: Callable[[Readiness], Readiness], wait: float, dropped: set[str]
) -> Outcome:
    with _fresh(ctx, plan, wait) as (fresh, choice):
        svc = fresh
        latest = latest_json(svc, choice.newest)
        if latest is not None:
            svc = ctx.records.change(svc, latest=latest)
        before = svc.current
        if before is None or not _moves(svc, choice):
            return _note_current(svc, choice)
        sel = fits.selected_from(choice.pick)
        history = History(ctx.records.dir(svc.name))
        keep_before = lineage.kept(svc, history.entries(), ctx.config.keep)
        try:
            # Inside: a version refused here was downloaded for nothing, and goes with the other dropped ones.
            impl_dir = ctx.store.ensure(choice.pick, ctx.fetcher)
            fits.check_fits(ctx, svc, sel, impl_dir)
            done = journal.replace_version(ctx, svc, sel, impl_dir, action="update", ready=ready(svc.ready))
        finally:
            after = ctx.records.load(svc.name)
            dropped |= (keep_before | {sel.digest}) - lineage.kept(after, history.entries(), ctx.config.keep)
    return Outcome(
        svc.name, UPDATED, before.version, to=sel.version, latest=str(choice.newest.version), message=done.message
    )


def _note_current(svc: Service, choice: Choice) -> Outcome:
    version = svc.current.version if svc.current else None
    return Outcome(svc.name, CURRENT, version, latest=str(choice.newest.version))


def passing_over(name: str, versions: Sequence[str]) -> str:
    """What an update says of the VERSIONS it does not take because NAME was rolled back from them."""
    *others, last = versions
    passed, them = (f"{', '.join(others)} and {last}", "them") if others else (last, "it")
    return f"passing over {passed}: {name} was rolled back from {them}; --retry takes {them}"


def _download(ctx: Context, impl: Implementation, label: str) -> Path:
    """IMPL into the store, with a progress bar named LABEL (its services and version) on a terminal."""
    if ctx.ui.progress is None or ctx.store.path(impl) is not None:
        return ctx.store.ensure(impl, ctx.fetcher)
    total = sum(getattr(r, "size", 0) for r in impl.retrievals[:1])
    with ctx.ui.progress(label, total) as progress:
        return ctx.store.ensure(impl, ctx.fetcher, progress=progress)
