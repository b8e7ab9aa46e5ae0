"""`0xl add`: a service from a feed, as one transaction.

Holding the service's lock, add fetches and verifies the feed, selects an implementation for this host,
checks the operator's options against what it needs and what the host allows, downloads it, makes the
disks, and records the service. Any failure (Ctrl-C too) undoes what was made (disks, store entries,
files), so that ZEROXL_HOME is left as it was found; an add killed outright is undone by the next add of
the name or by `0xl doctor` (state/adding.py). Nothing here prints: the few interactions (confirming an
unknown key, showing download progress, saying what was undone) are the context's Ui.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from zeroxl import testhooks
from zeroxl.app import fits, journal, session, store_gc
from zeroxl.app.context import Context
from zeroxl.backends import default_backend, target_for
from zeroxl.errors import DISK, MAC, MEMORY, ConflictError, SettingError
from zeroxl.feeds.model import Implementation
from zeroxl.feeds.selection import Requirements, Target, select
from zeroxl.feeds.trust import normalise_fingerprint
from zeroxl.host import macs as mac_addresses
from zeroxl.host import users
from zeroxl.host.names import check_service_name
from zeroxl.host.policy import DEFAULT_RESTART, check_memory, check_restart, plan_bridges, vm_memory
from zeroxl.state import hostid
from zeroxl.state.adding import AddJournal, completed
from zeroxl.state.history import History
from zeroxl.state.service import Disk, Service


def add(
    ctx: Context,
    name: str,
    feed_url: str,
    *,
    trust_key: str | None = None,
    args: list[str] | None = None,
    disks: list[str] | None = None,
    channel: str = "stable",
    versions: str | None = None,
    backend: str | None = None,
    memory: int | None = None,
    networks: list[str] | None = None,
    macs: list[str] | None = None,
    restart: str | None = None,
    user: str | None = None,
) -> Service:
    """Add the service NAME from the feed at FEED_URL; returns its record."""
    check_service_name(name)
    arg_values = fits.parse_args(args or [])
    disk_specs = fits.parse_disk_specs(disks or [])
    given_macs = mac_addresses.parse_options(macs or [])
    chan = fits.channel(channel)
    vrange = fits.version_range(versions) if versions else None
    fpr = normalise_fingerprint(trust_key) if trust_key else None
    if memory is not None and memory <= 0:
        raise SettingError(["invalid ", MEMORY, f" {memory}: it must be a positive number of MiB"])
    restart_policy = check_restart(restart or DEFAULT_RESTART)
    if user is not None:
        if not users.runs_as_root():
            raise SettingError("a service runs as another user only when 0xl runs as root", hint="leave out --user")
        users.existing(user)
    if backend is not None:
        ctx.backend(backend)  # refuses an unknown name before anything is fetched

    # Store entries this add downloaded and then did not use. They are removed once this command has let go
    # of the store, and only if no service needs them then: another add of the same feed may have found
    # such an entry and recorded it meanwhile.
    unused: set[str] = set()
    try:
        with session.service_lock(ctx, name):
            journal.recover(ctx, name)
            if ctx.records.exists(name):
                raise ConflictError(
                    f"a service named {name} exists already", hint=f"see 0xl status {name}, or 0xl destroy {name}"
                )
            undone = undo_interrupted(ctx, name, unused)
            if undone:
                ctx.ui.info(f"0xl: {undone}")
            _clear_leftovers(ctx, name)
            loaded = ctx.loader.load(feed_url, trust_key=fpr, confirm=ctx.ui.confirm_key)
            backend_name = backend or default_backend(i.arch.os for i in loaded.feed.implementations)
            target = Target.parse(target_for(backend_name, ctx.config.libvirt.uri))
            impl = select(loaded.feed, Requirements(target, chan, vrange))
            fits.check_args(arg_values, impl.needs, declared_only=target.vm)
            planned = fits.plan_disks(disk_specs, impl.needs, ctx.config.policy.max_disk_size)
            svc = Service(
                name=name,
                feed=feed_url,
                backend=backend_name,
                target=str(target),
                channel=str(chan),
                versions=versions,
                args=arg_values,
                memory=memory,
                networks=tuple(networks or ()),
                restart=restart_policy,
                current=fits.selected_from(impl),
            )
            with _transaction(ctx, name) as undo:
                if target.vm:
                    # Refused here, over a limit, before anything is fetched or created.
                    svc = _plan_vm(ctx, svc, given_macs)
                elif given_macs:
                    raise SettingError([MAC, f": the {backend_name} backend gives a service no network interface"])
                elif memory is not None:
                    # Refused, not half applied: RLIMIT_AS (what an unprivileged 0xl could set) counts
                    # address space, not memory, and kills runtimes that reserve much of it (OCaml 5, Go);
                    # a cgroup limit needs a delegated cgroup that a plain host does not give 0xl.
                    raise SettingError(
                        [MEMORY, f" {memory}: the {backend_name} backend cannot limit a service's memory"],
                        hint=["leave out ", MEMORY, " (it sets a VM's memory; docs/unix-backend.md)"],
                    )
                adding = AddJournal.begin(ctx.records.dir(name))
                impl_dir = _download(ctx, impl, undo, unused, adding, label=f"{name} {impl.version}")
                testhooks.pause("add-fetched")
                ctx.backend(backend_name).check(svc, impl_dir)
                svc = _make_disks(ctx, svc, planned, undo, adding)
                svc = _choose_user(ctx, svc, user, vm=target.vm, undo=undo)
                testhooks.pause("add-disks-made")
                with session.allocation_lock(ctx, vm=target.vm):
                    if target.vm:
                        # Again under the host-wide lock: two adds never share the same room or MAC.
                        svc = _plan_vm(ctx, svc, given_macs, final=True)
                    _define(ctx, svc, impl_dir, undo)
                    # The trust asked for and the feed are recorded before the service: a kill in
                    # between leaves that trust and no service, never a service whose key is not
                    # trusted (every later update of it refused) or whose feed was never cached.
                    ctx.loader.commit(loaded)
                    testhooks.pause("add-trusted")
                    ctx.records.save(svc)
                History(ctx.records.dir(name)).record("add", to=svc.current, message=f"added from {feed_url}")
                adding.end()
            return svc
    finally:
        if unused:
            store_gc.prune(ctx, unused)


def _choose_user(ctx: Context, svc: Service, user: str | None, *, vm: bool, undo: list[Callable[[], None]]) -> Service:
    """The user a service that is a process (no VM) runs as when 0xl runs as root: USER, or one of its
    own, made now (host.users). As another user, 0xl runs it as itself."""
    if vm:
        if user is not None:
            raise SettingError(f"--user: the {svc.backend} backend runs a VM, not a process of a user")
        return svc
    if not users.runs_as_root():
        return svc
    if user is not None:
        return replace(svc, user=users.existing(user).name)
    home = str(ctx.home.root)
    account, made = users.ensure_own(svc.name, home)
    if made:

        def remove() -> None:
            users.remove_own(svc.name, home)

        undo.append(remove)
    return replace(svc, user=account.name)


def undo_interrupted(ctx: Context, name: str, unused: set[str]) -> str | None:
    """Undo what an `add` of NAME killed before it saved the record created (state/adding.py); the
    caller holds NAME's lock. Disks it made are deleted; the store entries it may have downloaded go
    to UNUSED, for the caller to prune (store_gc.prune) once it has let go of the store. Returns what was
    done, None if there was nothing to do."""
    service_dir = ctx.records.dir(name)
    adding = AddJournal.find(service_dir)
    if adding is None:
        return None
    if ctx.records.exists(name) or completed(service_dir):
        adding.end()  # the add got as far as its record: what it made is the service's
        return None
    providers = {p.kind: p for p in ctx.disk_providers()}
    deleted = []
    for kind, disk_name in adding.disks:
        provider = providers.get(kind)
        disk = provider.find(name, disk_name) if provider else None
        if provider is not None and disk is not None:
            provider.delete(disk)
            deleted.append(f"deleted disk {disk.name} ({disk.location})")
    unused.update(adding.store)
    adding.end()
    return f"undid an add of {name} that was interrupted" + (f": {', '.join(deleted)}" if deleted else "")


def _clear_leftovers(ctx: Context, name: str) -> None:
    """Delete what no service owns: tombstones of destroyed services, and a directory NAME without a record.

    Such a directory is what a crash left (of an `add` before it saved the record, or of a `destroy`
    of an older 0xl), never a service: a new service NAME must not inherit its history. Disks are kept
    elsewhere (ZEROXL_HOME/disks or LVM) and are not touched.
    """
    if ctx.records.dir(name).exists():
        ctx.ui.info(f"0xl: removing files of an earlier service {name} that was not completely removed")
        ctx.records.bury(name)
    ctx.records.clear_buried()


def _plan_vm(ctx: Context, svc: Service, given_macs: dict[str, str], *, final: bool = False) -> Service:
    """SVC with a bridge and a MAC for every network its feed declares, its memory within the host's policy.

    A MAC is the one given, else derived with the host's value (host.macs), none another service's.
    Only the FINAL plan, made just before the record is saved, makes that value if the host has none
    yet; until then a value of the moment stands in, so that a refused `add` leaves no trace.
    """
    needs = svc.current.needs if svc.current else None
    if needs is not None:
        svc = replace(svc, networks=plan_bridges(svc.networks, needs, ctx.config.policy))
    others = [ctx.records.load(n) for n in ctx.records.names() if n != svc.name]
    vms = [vm_memory(o.memory, o.needs) for o in others if o.backend == svc.backend]
    check_memory(svc.name, svc.memory, svc.needs, ctx.config.policy, vms)
    assigned = mac_addresses.assign(given_macs, needs.networks if needs else ())
    host = hostid.host_id(ctx.home.host_id) if final else hostid.existing(ctx.home.host_id)
    svc = replace(svc, macs=mac_addresses.plan(svc.name, len(svc.networks), assigned, host))
    mac_addresses.check_unique(svc.name, svc.macs, {o.name: o.macs for o in others}, given=assigned.values())
    return svc


def _download(
    ctx: Context,
    impl: Implementation,
    undo: list[Callable[[], None]],
    unused: set[str],
    adding: AddJournal,
    *,
    label: str,
) -> Path:
    """IMPL's store entry, downloaded if needed (a progress bar named LABEL on a terminal); if it was
    downloaded, undoing adds it to UNUSED.

    Undoing does not remove the entry: the caller prunes UNUSED (store_gc.prune) once it has let go of the
    store, which removes only what no service needs by then. ADDING notes it before the download.
    """
    existing = ctx.store.path(impl)
    if existing is not None:
        return existing
    adding.store_entry(impl.store_name)
    total = sum(getattr(r, "size", 0) for r in impl.retrievals[:1])
    if ctx.ui.progress is not None:
        with ctx.ui.progress(label, total) as progress:
            path = ctx.store.ensure(impl, ctx.fetcher, progress=progress)
    else:
        path = ctx.store.ensure(impl, ctx.fetcher)
    undo.append(lambda: unused.add(impl.store_name))
    return path


def _make_disks(
    ctx: Context, svc: Service, planned: list[tuple[str, int]], undo: list[Callable[[], None]], adding: AddJournal
) -> Service:
    disks = ctx.disks(svc.backend)
    made: list[Disk] = []
    for disk_name, size in planned:
        kept = disks.find(svc.name, disk_name)
        if kept is not None:
            if kept.size != size:
                raise ConflictError(
                    f"a kept disk {disk_name} of {svc.name} exists with {kept.size} bytes, not {size}",
                    hint=[
                        "reuse it with ",
                        DISK,
                        f" {disk_name}={kept.size}, or delete it: 0xl disk delete {svc.name} {disk_name}",
                    ],
                )
            ctx.ui.info(f"reusing the kept disk {disk_name} of {svc.name} ({kept.location})")
            made.append(kept)
            continue
        adding.disk(disks.kind, disk_name)  # before: a kill during the creation leaves a note of it
        disk = disks.create(svc.name, disk_name, size)
        undo.append(functools.partial(disks.delete, disk))
        made.append(disk)
    return replace(svc, disks=tuple(made))


def _define(ctx: Context, svc: Service, impl_dir: Path, undo: list[Callable[[], None]]) -> None:
    """Define SVC's VM with a backend that keeps VMs defined while stopped (libvirt: `virsh list --all`
    shows it from `add` on); undoing removes it."""
    be = ctx.backend(svc.backend)
    define: Callable[[Service, Path], None] | None = getattr(be, "define", None)
    if define is None:
        return
    undo.append(functools.partial(be.cleanup, svc))
    define(svc, impl_dir)


@contextlib.contextmanager
def _transaction(ctx: Context, name: str) -> Iterator[list[Callable[[], None]]]:
    """Run a block that creates things; on any failure (Ctrl-C too) undo them, newest first."""
    undo: list[Callable[[], None]] = []
    existed = ctx.records.dir(name).exists()
    try:
        yield undo
    except BaseException:
        for step in reversed(undo):
            with contextlib.suppress(Exception):
                step()
        if not existed:
            ctx.records.bury(name)
            ctx.records.clear_buried()
        raise
