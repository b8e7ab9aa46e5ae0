"""Work on every host at once (docs/fleet.md): `update --all --all-hosts`, and placing a new service on the
host that has room for it and allows it (`add --host auto`).

Each host is asked in a thread of its own (app.hosts._concurrently) and has TIMEOUT seconds to answer;
one that has not is reported and holds up no other. An update that has begun on a host is never abandoned
for time: it runs to its end (its health check, its rollback) under its guardian, as `update --all` does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from zeroxl.app import session
from zeroxl.app.context import Context, Ui
from zeroxl.app.hosts import _uri, concurrently, context_of
from zeroxl.app.update import FAILED, Outcome, pruned, update
from zeroxl.errors import BackendError, SelectionError, UnexpectedError, UsageError, ZeroxlError
from zeroxl.state.hosts import Host, Hosts
from zeroxl.state.service import Readiness

TYPE_CHECKING = False
if TYPE_CHECKING:
    from zeroxl.feeds.load import LoadedFeed

# --- update --all --all-hosts -------------------------------------------------------------------------------


def _as_error(got: object, host: str, timeout: float) -> ZeroxlError:
    if got is None:
        return BackendError(
            f"host {host} did not answer within {timeout:g} s", hint="see 0xl host list; --timeout waits longer"
        )
    if isinstance(got, ZeroxlError):
        return got
    return UnexpectedError.of(got if isinstance(got, Exception) else Exception(str(got)))


def _probe(ctx: Context) -> None:
    """Whether the host of CTX answers (BackendError if not); the host local is this machine: it does."""
    if ctx.libvirt_uri is None:
        return
    from zeroxl.backends.libvirt.facts import probe

    probe(ctx.libvirt_uri)


def _host_ui(ui: Ui, host: str) -> Ui:
    """UI for the run on HOST among others: its messages name the host; no progress bars (they would mix)."""
    return Ui(info=lambda message: ui.info(message.replace("0xl: ", f"0xl: {host}: ", 1)))


def update_all_hosts(
    ctx: Context,
    *,
    check: bool = False,
    retry: bool = False,
    ready: Callable[[Readiness], Readiness] = lambda r: r,
    wait: float = 0.0,
    timeout: float = 10.0,
) -> tuple[list[tuple[str, Outcome]], dict[str, ZeroxlError]]:
    """`update --all` on every host that has services, concurrently. CTX is this machine's.

    Returns each service's outcome with its host, and, by host, why a host's services were not updated (it
    could not be reached, or did not answer within TIMEOUT seconds): those services have FAILED outcomes.
    """
    main = ctx.home
    hosts = Hosts(main.root).all()
    contexts = {h.name: context_of(main, h, _host_ui(ctx.ui, h.name)) for h in hosts}
    try:
        with session.update_all_lock(ctx, wait=wait):
            busy = [h for h in hosts if contexts[h.name].records.names()]
            answers = concurrently(busy, lambda h: _probe(contexts[h.name]), timeout)
            down = {
                h.name: _as_error(answers.get(h.name, None), h.name, timeout)
                for h in busy
                if h.name not in answers or isinstance(answers[h.name], BaseException)
            }
            dropped: dict[str, set[str]] = {h.name: set() for h in busy}
            results: dict[str, list[Outcome] | ZeroxlError] = {}
            lock = threading.Lock()

            def run(host: Host) -> None:
                hctx = contexts[host.name]
                try:
                    got: list[Outcome] | ZeroxlError = update(
                        hctx, [], everything=True, check=check, retry=retry, ready=ready, wait=wait,
                        dropped=dropped[host.name],
                    )  # fmt: skip
                except ZeroxlError as e:
                    got = e
                except Exception as e:  # one host's failure is its services', never the others'
                    got = UnexpectedError.of(e)
                with lock:
                    results[host.name] = got

            # No timeout here: a host that answered is updated to the end (health check, rollback).
            threads = [threading.Thread(target=run, args=(h,)) for h in busy if h.name not in down]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        # The store's entries no host's services keep any more, now that no host's run holds the store.
        pruned(ctx, set().union(*dropped.values()))
        outcomes: list[tuple[str, Outcome]] = []
        for h in busy:
            got = down.get(h.name) or results[h.name]
            if isinstance(got, ZeroxlError):
                outcomes += [(h.name, _unreached(contexts[h.name], n, got)) for n in contexts[h.name].records.names()]
            else:
                outcomes += [(h.name, o) for o in got]
        return outcomes, down
    finally:
        for c in contexts.values():
            c.close()


def _unreached(ctx: Context, name: str, error: ZeroxlError) -> Outcome:
    try:
        svc = ctx.records.load(name)
    except ZeroxlError:
        return Outcome(name, FAILED, None, message=error.message, error=error)
    version = svc.current.version if svc.current else None
    return Outcome(name, FAILED, version, message=error.message, error=error)


# --- placement: add --host auto -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What placement found of one host: whether the service fits there, and if not, why."""

    host: str
    fits: bool
    reason: str  # why it was passed over; for a host that fits, its room
    free_bytes: int = 0


@dataclass(frozen=True)
class Request:
    """What `add` was asked for that decides where the service can go."""

    name: str
    feed: str
    trust_key: str | None = None
    channel: str = "stable"
    versions: str | None = None
    memory: int | None = None
    networks: tuple[str, ...] = ()


def choose(verdicts: list[Verdict]) -> Verdict | None:
    """The rule (docs/fleet.md): of the hosts that fit, the one with the most free memory; ties by name."""
    fitting = sorted((v for v in verdicts if v.fits), key=lambda v: (-v.free_bytes, v.host))
    return fitting[0] if fitting else None


def place(
    ctx: Context, request: Request, *, backend: str | None = None, timeout: float = 10.0
) -> tuple[list[Verdict], str | None]:
    """Each host's verdict on REQUEST, asked concurrently (TIMEOUT seconds); CTX is this machine's. The feed
    is fetched and verified once, here, as `add` does; nothing is recorded or changed. Also returns the
    fingerprint of a key the operator agreed to trust meanwhile (on a terminal), for the add to record
    without asking again."""
    from zeroxl.app import fits
    from zeroxl.feeds.trust import normalise_fingerprint

    if backend not in {None, "libvirt"}:
        raise UsageError(
            f"--host auto places services on libvirt hosts, not with the {backend} backend",
            hint="leave out --backend, or name the host (--host NAME)",
        )
    fits.channel(request.channel)
    if request.versions:
        fits.version_range(request.versions)
    fpr = normalise_fingerprint(request.trust_key) if request.trust_key else None
    loaded = ctx.loader.load(request.feed, trust_key=fpr, confirm=ctx.ui.confirm_key)
    hosts = Hosts(ctx.home.root).all()
    answers = concurrently(hosts, lambda h: _verdict(ctx, h, request, loaded), timeout)
    verdicts = []
    for h in hosts:
        got = answers.get(h.name)
        if isinstance(got, Verdict):
            verdicts.append(got)
        else:
            verdicts.append(Verdict(h.name, False, _as_error(got, h.name, timeout).message))
    return verdicts, loaded.new_trust[0] if loaded.new_trust else fpr


def _verdict(main: Context, host: Host, request: Request, loaded: LoadedFeed) -> Verdict:
    from zeroxl.app import fits
    from zeroxl.backends import target_for
    from zeroxl.backends.libvirt.facts import probe
    from zeroxl.feeds.selection import Requirements, Target, select
    from zeroxl.host.policy import check_memory, plan_bridges, vm_memory

    with context_of(main.home, host) as ctx:
        uri = _uri(ctx, host)
        if uri is None:
            return Verdict(host.name, False, "not a libvirt host (config.toml has no [libvirt])")
        if request.name in ctx.records.names():
            return Verdict(host.name, False, f"it has a service named {request.name} already")
        try:
            facts = probe(uri)
            target = Target.parse(target_for("libvirt", uri))
            requirements = Requirements(
                target,
                fits.channel(request.channel),
                fits.version_range(request.versions) if request.versions else None,
            )
            impl = select(loaded.feed, requirements)
            memory = vm_memory(request.memory, impl.needs)
            others = [ctx.records.load(n) for n in ctx.records.names()]
            vms = [vm_memory(o.memory, o.needs) for o in others if o.backend == "libvirt"]
            check_memory(request.name, request.memory, impl.needs, ctx.config.policy, vms)
            plan_bridges(request.networks, impl.needs, ctx.config.policy)
        except ZeroxlError as e:
            return Verdict(host.name, False, e.message)
        free = facts.free_memory_bytes
        if memory << 20 > free:
            return Verdict(host.name, False, f"{free >> 20} MiB of memory free, the service needs {memory} MiB", free)
        return Verdict(host.name, True, f"{free >> 20} MiB of memory free, the service needs {memory} MiB", free)


def no_host(request: Request, verdicts: list[Verdict]) -> SelectionError:
    """The error of a placement that found no host: each host's reason."""
    reasons = "; ".join(f"{v.host}: {v.reason}" for v in verdicts)
    return SelectionError(
        f"no host can take {request.name}: {reasons}",
        hint="free memory or raise a host's [hosts.NAME.policy], add a host (0xl host add), or name one (--host NAME)",
    )
