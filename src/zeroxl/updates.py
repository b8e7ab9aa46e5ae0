"""`0xl update`: refresh feeds, choose per channel and version range, replace what runs, safely.

Two stages. First, with no service lock held, every feed is fetched once (services that share a feed
share the fetch), concurrently, with conditional requests, and verified as `add` verifies it (a feed
that fails verification is an error for its services; no cached copy stands in for it); the chosen
implementations are downloaded and verified, concurrently too. Nothing has changed yet. Second, one
service at a time under its lock, the choice is made again against the record as it is now, recorded
as the newest version available (`latest`, when it changed), and, unless `--check`, the service is moved to it by
zeroxl.transition, which checks its health and rolls back on its own.

An update does not take a version its service was rolled back from (by the health check or by `0xl
rollback`), so that unattended updates do not try a known-bad version again and again; `--retry` does.
One service's failure never stops the others, whatever it is (an unforeseen exception becomes an
UnexpectedError of that service): each gets an `Outcome`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from zeroxl import gc, testhooks
from zeroxl.errors import ConflictError, RolledBackError, SelectionError, UnexpectedError, UsageError, ZeroxlError
from zeroxl.state import lineage
from zeroxl.state.history import Entry, History
from zeroxl.state.lock import locked
from zeroxl.state.selected import Selected
from zeroxl.state.service import Readiness, Service, now

if TYPE_CHECKING:
    from zeroxl.feeds.load import LoadedFeed
    from zeroxl.feeds.model import Implementation
    from zeroxl.services import App

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


@dataclass(frozen=True)
class Choice:
    newest: Implementation  # newest on the channel, in the range, for the target
    pick: Implementation  # what an update takes: newest, less what it was rolled back from
    passed_over: tuple[str, ...]  # versions passed over because they were rolled back from


# -- choosing ------------------------------------------------------------------------------------------


def choose(svc: Service, loaded: LoadedFeed, history: Sequence[Entry], *, retry: bool) -> Choice:
    """What an update of SVC would take from LOADED (raises SelectionError when nothing fits)."""
    from zeroxl.feeds.selection import Channel, Requirements, Target, candidates, select
    from zeroxl.feeds.versions import VersionRange

    req = Requirements(
        Target.parse(svc.target),
        Channel(svc.channel),
        VersionRange.parse(svc.versions) if svc.versions else None,
    )
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


def check_fits(app: App, svc: Service, sel: Selected, impl_dir: Path) -> None:
    """Refuse SEL if the service as configured cannot run it: arguments, disks, memory, backend.

    Nothing of the service is changed to make it fit: its disks in particular are its data.
    """
    from zeroxl.feeds.selection import Target
    from zeroxl.host.units import format_size
    from zeroxl.services import check_args

    why: str | None = None
    try:
        check_args(svc.args, sel.needs, declared_only=Target.parse(svc.target).vm)
    except UsageError as e:
        why = e.message
    disks = {d.name: d for d in svc.disks}
    for block in sel.needs.blocks:
        disk = disks.get(block.name)
        if disk is None:
            why = f"it needs a disk {block.name!r}, which {svc.name} does not have"
        elif disk.size < block.min_size:
            why = f"it needs the disk {block.name} to have at least {format_size(block.min_size)}"
    if sel.needs.memory_min and svc.memory is not None and svc.memory < sel.needs.memory_min:
        why = f"it needs at least {sel.needs.memory_min} MiB of memory; {svc.name} has {svc.memory}"
    if why is None:
        try:
            app.backend(svc.backend).check(replace(svc, current=sel), impl_dir)
        except UsageError as e:
            # The backend words it as a wrong option of `add` (more networks than bridges, say), but here
            # the options are the service's and it is the new version that does not fit them: status 8, not 2.
            why = e.message
    if why is not None:
        raise SelectionError(
            f"{svc.name}: version {sel.version} does not fit the service as it is configured: {why}",
            hint=f"keep the versions that fit with 0xl set {svc.name} --version '..!{sel.version}'",
        )


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
    app: App,
    names: Sequence[str],
    *,
    everything: bool = False,
    check: bool = False,
    retry: bool = False,
    ready: Callable[[Readiness], Readiness] = lambda r: r,
    wait: float = 0.0,
) -> list[Outcome]:
    """Update NAMES (or every service, with EVERYTHING); with CHECK only find out what would change.

    READY turns a service's recorded readiness settings into those of this run (command-line options).
    """
    # Store entries this run may leave unused: versions updated services no longer keep, and what stage one
    # downloaded for an update that was then refused or failed. Removed at the end if no service needs them.
    dropped: set[str] = set()
    try:
        with contextlib.ExitStack() as stack:
            if everything:
                stack.enter_context(
                    locked(
                        app.home.locks / "update-all.lock",
                        what="0xl update --all",
                        wait=wait,
                        busy=lambda: "another 0xl update --all is running",
                    )
                )
                names = app.records.names()
            # Shared for the whole run: what stage one downloads stays in the store until stage two uses it.
            stack.enter_context(locked(app.home.locks / "store.lock", what="the store", wait=wait, shared=True))
            plans, outcomes = _read(app, names, retry=retry)
            dropped |= _refresh(app, plans, check=check)
            testhooks.pause("fetched")
            try:
                outcomes.update(_apply(app, plans, check=check, ready=ready, wait=wait, dropped=dropped))
            finally:
                from zeroxl import guardian

                guardian.release(app.home)
    finally:
        # Only now: gc.prune needs the store to itself, and this run held it shared until here.
        removed = gc.prune(app, dropped)
        if removed:
            app.ui.info(f"0xl: removed {len(removed)} implementation(s) no service keeps any more from the store")
    return [_dated(outcomes[n], plans.get(n)) for n in names]


def _dated(outcome: Outcome, plan: _Plan | None) -> Outcome:
    """OUTCOME with the dates of the feed's signature, which `update --check` shows (freeze attacks)."""
    if plan is None or plan.loaded is None:
        return outcome
    return replace(outcome, signed=plan.loaded.entry.signed, expires=plan.loaded.entry.expires)


def _read(app: App, names: Sequence[str], *, retry: bool) -> tuple[dict[str, _Plan], dict[str, Outcome]]:
    plans: dict[str, _Plan] = {}
    outcomes: dict[str, Outcome] = {}
    for name in names:
        try:
            plans[name] = _Plan(app.records.load(name), retry)
        except ZeroxlError as e:
            outcomes[name] = Outcome(name, FAILED, None, error=e)
        except Exception as e:  # as in _isolated
            outcomes[name] = Outcome(name, FAILED, None, error=UnexpectedError.of(e))
    return plans, outcomes


def _refresh(app: App, plans: dict[str, _Plan], *, check: bool) -> set[str]:
    """Stage one: fetch and verify every feed once, choose, download what will be needed.

    Returns the store entries it downloaded (not those it found). The threads share one loader and its
    HTTP client, which keeps connections to a server open.
    """
    urls = sorted({p.svc.feed for p in plans.values()})
    feeds = _each(urls, app.loader.load)
    for plan in plans.values():
        loaded = feeds[plan.svc.feed]
        if isinstance(loaded, ZeroxlError):
            plan.error = loaded
            continue
        plan.loaded = loaded
        try:
            plan.choice = choose(plan.svc, loaded, _history(app, plan.svc.name), retry=plan.retry)
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
    downloaded = {d for d, impl in wanted.items() if app.store.path(impl) is None}
    got = _each(sorted(wanted), lambda d: app.store.ensure(wanted[d], app.fetcher))
    for plan in plans.values():
        if plan.choice is not None:
            result = got.get(plan.choice.pick.store_name)
            if isinstance(result, ZeroxlError):
                plan.error = result
    return downloaded


def _history(app: App, name: str) -> list[Entry]:
    return History(app.records.dir(name)).entries()


def _apply(
    app: App,
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
    results = _each(quiet, lambda n: _note(app, plans[n], check=check, wait=wait))
    for name in quiet:
        result = results[name]
        outcomes[name] = _failed(plans[name], result) if isinstance(result, ZeroxlError) else result
        _commit_feed(app, plans[name], committed, outcomes[name])
    for name in changing:
        try:
            outcomes[name] = _move(app, plans[name], ready=ready, wait=wait, dropped=dropped)
        except RolledBackError as e:
            outcomes[name] = _failed(plans[name], e, state=ROLLED_BACK)
        except ZeroxlError as e:
            outcomes[name] = _failed(plans[name], e)
        except Exception as e:  # as in _isolated; the journal lets the next command finish a half-done change
            outcomes[name] = _failed(plans[name], UnexpectedError.of(e))
        _commit_feed(app, plans[name], committed, outcomes[name])
    return outcomes


def _moves(svc: Service, choice: Choice) -> bool:
    return svc.current is None or choice.pick.store_name != svc.current.digest


def _failed(plan: _Plan, error: ZeroxlError, *, state: str = FAILED) -> Outcome:
    version = plan.svc.current.version if plan.svc.current else None
    latest = str(plan.choice.newest.version) if plan.choice else None
    to = str(plan.choice.pick.version) if plan.choice else None
    return Outcome(plan.svc.name, state, version, to=to, latest=latest, message=error.message, error=error)


def _commit_feed(app: App, plan: _Plan, committed: set[str], outcome: Outcome) -> None:
    """Keep the verified feed (replay protection, caching headers) once a service has used it."""
    if plan.loaded is None or outcome.state == FAILED or plan.svc.feed in committed:
        return
    committed.add(plan.svc.feed)
    if plan.loaded.changed or plan.loaded.new_trust is not None:
        app.loader.commit(plan.loaded)


@contextlib.contextmanager
def _fresh(app: App, plan: _Plan, wait: float) -> Iterator[tuple[Service, Choice]]:
    """The service's record under its lock, and the choice made again if the record changed since stage one."""
    if plan.loaded is None or plan.choice is None:
        raise ValueError(f"{plan.svc.name}: nothing was chosen")
    with app.lock(plan.svc.name, wait):
        svc = app.records.load(plan.svc.name)
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
            choice = choose(svc, plan.loaded, _history(app, svc.name), retry=plan.retry)
        yield svc, choice


def _note(app: App, plan: _Plan, *, check: bool, wait: float) -> Outcome:
    """Record the newest version available; report whether an update would change anything."""
    if plan.error is not None:
        with app.lock(plan.svc.name, wait):  # finishes a change a killed 0xl left, even when the feed is down
            pass
        return _failed(plan, plan.error)
    if plan.choice is not None and plan.svc.transition is None and latest_json(plan.svc, plan.choice.newest) is None:
        # Nothing to write and nothing half done: the record as read a moment ago answers, without its lock
        # (the common case of a check over many unchanged feeds).
        svc, choice = plan.svc, plan.choice
    else:
        with _fresh(app, plan, wait) as (svc, choice):
            latest = latest_json(svc, choice.newest)
            if latest is not None:
                app.records.save(replace(svc, latest=latest, updated=now()))
    version = svc.current.version if svc.current else None
    moves = _moves(svc, choice)
    message = ""
    if choice.passed_over:
        passed = ", ".join(choice.passed_over)
        message = f"passing over {passed}: {svc.name} was rolled back from it; --retry takes it"
    return Outcome(
        svc.name,
        AVAILABLE if moves else CURRENT,
        version,
        to=str(choice.pick.version) if moves else None,
        latest=str(choice.newest.version),
        message=message,
    )


def _move(app: App, plan: _Plan, *, ready: Callable[[Readiness], Readiness], wait: float, dropped: set[str]) -> Outcome:
    from zeroxl.services import selected_from
    from zeroxl.transition import replace_version

    with _fresh(app, plan, wait) as (fresh, choice):
        svc = fresh
        latest = latest_json(svc, choice.newest)
        if latest is not None:
            svc = replace(svc, latest=latest, updated=now())
            app.records.save(svc)
        before = svc.current
        if before is None or not _moves(svc, choice):
            return _note_current(svc, choice)
        sel = selected_from(choice.pick)
        history = History(app.records.dir(svc.name))
        keep_before = lineage.kept(svc, history.entries(), app.config.keep)
        try:
            # Inside: a version refused here was downloaded for nothing, and goes with the other dropped ones.
            impl_dir = app.store.ensure(choice.pick, app.fetcher)
            check_fits(app, svc, sel, impl_dir)
            done = replace_version(app, svc, sel, impl_dir, action="update", ready=ready(svc.ready))
        finally:
            after = app.records.load(svc.name)
            dropped |= (keep_before | {sel.digest}) - lineage.kept(after, history.entries(), app.config.keep)
    return Outcome(
        svc.name, UPDATED, before.version, to=sel.version, latest=str(choice.newest.version), message=done.message
    )


def _note_current(svc: Service, choice: Choice) -> Outcome:
    version = svc.current.version if svc.current else None
    return Outcome(svc.name, CURRENT, version, latest=str(choice.newest.version))
