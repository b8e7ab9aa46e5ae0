"""The use cases: add, run, stop, destroy, list, status — each one a transaction on one service.

A use case takes keyword arguments from the CLI, holds the service's lock while it changes anything,
and either completes or undoes what it did (disks created, store entries added, files written), so
that a failure leaves ZEROXL_HOME as it found it. Nothing here prints: results are returned, and the
few interactions (confirming an unknown key, showing download progress) are callbacks in `Ui`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zeroxl import testhooks
from zeroxl.backends import default_backend, get_backend
from zeroxl.backends.base import Backend, BackendContext
from zeroxl.backends.states import RUNNING
from zeroxl.errors import ConflictError, NotFoundError, PolicyError, UsageError
from zeroxl.feeds import patterns
from zeroxl.host import config as config_mod
from zeroxl.host.names import ARG_NAME, check_disk_name, check_service_name
from zeroxl.host.paths import Home
from zeroxl.state.adding import AddJournal
from zeroxl.state.history import History
from zeroxl.state.lock import locked
from zeroxl.state.selected import Selected
from zeroxl.state.service import Disk, Records, Service, now

if TYPE_CHECKING:
    from zeroxl.disks.base import DiskProvider
    from zeroxl.feeds.fetch import Fetcher
    from zeroxl.feeds.load import ConfirmFn, FeedLoader
    from zeroxl.feeds.model import Implementation
    from zeroxl.feeds.store import Store
    from zeroxl.host.needs import ServiceNeeds

ProgressFactory = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]

_MAX_ARG_VALUE = 4096


@dataclass
class Ui:
    """How the core talks to the person at the terminal, if there is one."""

    confirm_key: ConfirmFn | None = None
    progress: ProgressFactory | None = None
    info: Callable[[str], None] = field(default=lambda _msg: None)


# -- parsing what the operator typed, before anything is written ---------------------------------------


def parse_args(pairs: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not ARG_NAME.fits(key):
            raise UsageError(
                f"invalid --arg {pair!r}", hint="write KEY=VALUE with a lower-case KEY, e.g. --arg port=8080"
            )
        if len(value) > _MAX_ARG_VALUE or any(c in value for c in "\0\n\r"):
            raise UsageError(f"invalid --arg {key}: the value is too long or contains a line break")
        if key in args:
            raise UsageError(f"--arg {key} is given twice")
        args[key] = value
    return args


def parse_disk_specs(specs: list[str]) -> list[tuple[str | None, int]]:
    from zeroxl.host.units import parse_size

    out: list[tuple[str | None, int]] = []
    for spec in specs:
        name, sep, size = spec.rpartition("=")
        out.append((check_disk_name(name) if sep else None, parse_size(size, what="disk size")))
    return out


def check_args(args: dict[str, str], needs: ServiceNeeds, *, declared_only: bool) -> dict[str, str]:
    """Validate --arg values against what the feed declares; return them.

    With DECLARED_ONLY (VM backends, where arguments become a kernel command line) or when the feed
    declares any argument, every key must be declared and every value must match its pattern.
    """
    if needs.args or declared_only:
        for key, value in args.items():
            decl = needs.arg(key)
            if decl is None:
                known = ", ".join(a.name for a in needs.args) or "none"
                raise UsageError(f"--arg {key}: the service does not declare this argument (it declares: {known})")
            if not patterns.matches(decl.pattern, value):
                raise UsageError(
                    f"--arg {key}={value!r} does not match the pattern the service declares ({decl.pattern})"
                )
    missing = [a.name for a in needs.args if a.required and a.default is None and a.name not in args]
    if missing:
        raise UsageError(f"the service needs --arg {' --arg '.join(m + '=...' for m in missing)}")
    return args


def plan_disks(specs: list[tuple[str | None, int]], needs: ServiceNeeds, max_size: int | None) -> list[tuple[str, int]]:
    """Map `--disk [NAME=]SIZE` onto the block devices the feed declares (or one disk named `data`)."""
    from zeroxl.disks.base import DEFAULT_DISK
    from zeroxl.host.units import format_size

    declared = {b.name: b for b in needs.blocks}
    unnamed = [size for name, size in specs if name is None]
    planned: dict[str, int] = {}
    free_names = [b.name for b in needs.blocks if b.name not in {n for n, _ in specs if n}] or (
        [] if needs.blocks else [DEFAULT_DISK]
    )
    if len(unnamed) > len(free_names):
        raise UsageError(
            "more unnamed --disk options than the service has disks"
            + (f" (it declares: {', '.join(declared)})" if declared else ""),
            hint="name each disk: --disk NAME=SIZE",
        )
    for given, size in specs:
        name = given if given is not None else free_names.pop(0)
        if declared and name not in declared:
            raise UsageError(f"--disk {name}: the service declares no such disk (it declares: {', '.join(declared)})")
        if name in planned:
            raise UsageError(f"--disk {name} is given twice")
        planned[name] = size
    for name, block in declared.items():
        if name not in planned:
            raise UsageError(
                f"the service needs a disk {name!r} of at least {format_size(block.min_size)}",
                hint=f"add --disk {name}=SIZE",
            )
        if planned[name] < block.min_size:
            raise UsageError(
                f"--disk {name}: {planned[name]} bytes is below the {format_size(block.min_size)} the service needs"
            )
    for name, size in planned.items():
        if max_size is not None and size > max_size:
            raise PolicyError(f"--disk {name}: {format_size(size)} is over the host's limit of {format_size(max_size)}")
    return list(planned.items())


def selected_from(impl: Implementation) -> Selected:
    run = impl.commands.get("run")
    return Selected(
        id=impl.id,
        version=str(impl.version),
        digest=impl.store_name,
        arch=str(impl.arch),
        stability=str(impl.stability),
        command_path=run.path if run else None,
        command_args=run.args if run else (),
        needs=impl.needs,
    )


# -- views returned to the CLI ------------------------------------------------------------------------


@dataclass(frozen=True)
class DiskRow:
    service: str
    disk: Disk
    in_use: bool  # False: kept after its service was destroyed


@dataclass(frozen=True)
class DestroyResult:
    name: str
    kept_disks: tuple[Disk, ...]
    deleted_disks: tuple[Disk, ...]


# -- the application ----------------------------------------------------------------------------------


class App:
    def __init__(self, home: Home | None = None, ui: Ui | None = None) -> None:
        self.home = home or Home.from_env()
        self.ui = ui or Ui()
        self.records = Records(self.home.services)

    @cached_property
    def config(self) -> config_mod.Config:
        return config_mod.load(self.home.config_file)

    @cached_property
    def fetcher(self) -> Fetcher:
        from zeroxl.feeds.fetch import Fetcher

        return Fetcher(mirrors=self.config.mirrors)

    @cached_property
    def loader(self) -> FeedLoader:
        from zeroxl.feeds.load import FeedLoader

        return FeedLoader(self.home, self.config, self.fetcher)

    @cached_property
    def store(self) -> Store:
        from zeroxl.feeds.extract import ExtractLimits
        from zeroxl.feeds.store import Store

        cfg, default = self.config, ExtractLimits()
        limits = ExtractLimits(
            max_bytes=cfg.max_unpacked_size or default.max_bytes, max_ratio=cfg.max_unpack_ratio or default.max_ratio
        )
        return Store(self.home.store, self.home.tmp, limits=limits)

    def backend(self, name: str) -> Backend:
        return get_backend(name, BackendContext(self.home, self.config))

    @contextlib.contextmanager
    def lock(self, name: str, wait: float = 0.0) -> Iterator[str | None]:
        """Hold NAME's lock, and the store's shared (so `0xl gc` never removes what this command uses).

        Whoever takes the lock first finishes or undoes a change of version that a killed 0xl left half
        done (zeroxl.transition), so that every command starts from one whole version; what was done is
        told through `ui.info` and yielded (None if nothing was half done).
        """
        with (
            locked(self.home.locks / "store.lock", what="the store", wait=wait, shared=True),
            locked(
                self.home.locks / f"service-{name}.lock",
                what=f"service {name}",
                wait=wait,
                busy=lambda: self._busy(name),
            ),
        ):
            yield self._finish_interrupted(name)

    def _busy(self, name: str) -> str | None:
        with contextlib.suppress(Exception):
            t = self.records.load(name).transition
            if t is not None:
                return f"0xl is replacing version {t.from_.version} with {t.to.version} (pid {t.owner.get('pid')})"
        return None

    def _finish_interrupted(self, name: str) -> str | None:
        if not self.records.exists(name):
            return None
        svc = self.records.load(name)
        if svc.transition is None:
            return None
        from zeroxl.transition import recover

        done = recover(self, svc)
        self.ui.info(f"0xl: {done}")
        return done

    def close(self) -> None:
        if "fetcher" in self.__dict__:
            self.fetcher.close()

    # -- add ------------------------------------------------------------------------------------------

    def add(
        self,
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
    ) -> Service:
        from zeroxl.feeds.selection import Channel, Requirements, Target, select
        from zeroxl.feeds.trust import normalise_fingerprint
        from zeroxl.feeds.versions import VersionRange

        check_service_name(name)
        arg_values = parse_args(args or [])
        disk_specs = parse_disk_specs(disks or [])
        from zeroxl.host.macs import parse_options as parse_mac_options

        given_macs = parse_mac_options(macs or [])
        try:
            chan = Channel(channel)
        except ValueError:
            raise UsageError(f"invalid channel {channel!r}", hint="use stable or testing") from None
        try:
            vrange = VersionRange.parse(versions) if versions else None
        except ValueError as e:
            raise UsageError(str(e), hint="e.g. --version 2.0..!3 (from 2.0, before 3)") from None
        fpr = normalise_fingerprint(trust_key) if trust_key else None
        if memory is not None and memory <= 0:
            raise UsageError(f"invalid --memory {memory}: it must be a positive number of MiB")
        from zeroxl.host.policy import DEFAULT_RESTART, check_restart

        restart_policy = check_restart(restart or DEFAULT_RESTART)
        if backend is not None:
            self.backend(backend)  # refuses an unknown name before anything is fetched

        # Store entries this add downloaded and then did not use. They are removed once this command has let go
        # of the store, and only if no service needs them then: another add of the same feed may have found
        # such an entry and recorded it meanwhile.
        unused: set[str] = set()
        try:
            with self.lock(name):
                if self.records.exists(name):
                    raise ConflictError(
                        f"a service named {name} exists already", hint=f"see 0xl status {name}, or 0xl destroy {name}"
                    )
                undone = self.undo_interrupted_add(name, unused)
                if undone:
                    self.ui.info(f"0xl: {undone}")
                self._clear_leftovers(name)
                loaded = self.loader.load(feed_url, trust_key=fpr, confirm=self.ui.confirm_key)
                backend_name = backend or default_backend(i.arch.os for i in loaded.feed.implementations)
                from zeroxl.backends import target_for

                target = Target.parse(target_for(backend_name))
                impl = select(loaded.feed, Requirements(target, chan, vrange))
                check_args(arg_values, impl.needs, declared_only=target.vm)
                planned = plan_disks(disk_specs, impl.needs, self.config.policy.max_disk_size)
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
                    current=selected_from(impl),
                )
                with self._transaction(name) as undo:
                    if target.vm:
                        # Refused here, over a limit, before anything is fetched or created.
                        svc = self._plan_vm(svc, given_macs)
                    elif given_macs:
                        raise UsageError(f"--mac: the {backend_name} backend gives a service no network interface")
                    journal = AddJournal.begin(self.records.dir(name))
                    impl_dir = self._ensure(impl, undo, unused, journal)
                    testhooks.pause("add-fetched")
                    self.backend(backend_name).check(svc, impl_dir)
                    svc = self._make_disks(svc, planned, undo, journal)
                    testhooks.pause("add-disks-made")
                    with self._allocating(target.vm):
                        if target.vm:
                            # Again under the host-wide lock: two adds never share the same room or MAC.
                            svc = self._plan_vm(svc, given_macs, final=True)
                        # The trust asked for and the feed are recorded before the service: a kill in
                        # between leaves that trust and no service, never a service whose key is not
                        # trusted (every later update of it refused) or whose feed was never cached.
                        self.loader.commit(loaded)
                        testhooks.pause("add-trusted")
                        self.records.save(svc)
                    History(self.records.dir(name)).record("add", to=svc.current, message=f"added from {feed_url}")
                    journal.end()
                return svc
        finally:
            if unused:
                from zeroxl import gc

                gc.prune(self, unused)

    def undo_interrupted_add(self, name: str, unused: set[str]) -> str | None:
        """Undo what an `add` of NAME killed before it saved the record created (state/adding.py); the
        caller holds NAME's lock. Disks it made are deleted; the store entries it may have downloaded go
        to UNUSED, for the caller to prune (gc.prune) once it has let go of the store. Returns what was
        done, None if there was nothing to do."""
        from zeroxl.disks import all_providers
        from zeroxl.state.adding import completed

        service_dir = self.records.dir(name)
        journal = AddJournal.find(service_dir)
        if journal is None:
            return None
        if self.records.exists(name) or completed(service_dir):
            journal.end()  # the add got as far as its record: what it made is the service's
            return None
        providers = {p.kind: p for p in all_providers(self.home, self.config)}
        deleted = []
        for kind, disk_name in journal.disks:
            provider = providers.get(kind)
            disk = provider.find(name, disk_name) if provider else None
            if provider is not None and disk is not None:
                provider.delete(disk)
                deleted.append(f"deleted disk {disk.name} ({disk.location})")
        unused.update(journal.store)
        journal.end()
        return f"undid an add of {name} that was interrupted" + (f": {', '.join(deleted)}" if deleted else "")

    def _clear_leftovers(self, name: str) -> None:
        """Delete what no service owns: tombstones of destroyed services, and a directory NAME without a record.

        Such a directory is what a crash left (of an `add` before it saved the record, or of a `destroy`
        of an older 0xl), never a service: a new service NAME must not inherit its history. Disks are kept
        elsewhere (ZEROXL_HOME/disks or LVM) and are not touched.
        """
        if self.records.dir(name).exists():
            self.ui.info(f"0xl: removing files of an earlier service {name} that was not completely removed")
            self.records.bury(name)
        self.records.clear_buried()

    def _plan_vm(self, svc: Service, given_macs: dict[str, str], *, final: bool = False) -> Service:
        """SVC with a bridge and a MAC for every network its feed declares, its memory within the host's policy.

        A MAC is the one given, else derived with the host's value (zeroxl.host.macs), none another service's.
        Only the FINAL plan, made just before the record is saved, makes that value if the host has none
        yet; until then a value of the moment stands in, so that a refused `add` leaves no trace.
        """
        from dataclasses import replace

        from zeroxl.host import macs
        from zeroxl.host.policy import check_memory, plan_bridges, vm_memory
        from zeroxl.state import hostid

        needs = svc.current.needs if svc.current else None
        if needs is not None:
            svc = replace(svc, networks=plan_bridges(svc.networks, needs, self.config.policy))
        others = [self.records.load(n) for n in self.records.names() if n != svc.name]
        vms = [vm_memory(o.memory, o.needs) for o in others if o.backend == svc.backend]
        check_memory(svc.name, svc.memory, svc.needs, self.config.policy, vms)
        assigned = macs.assign(given_macs, needs.networks if needs else ())
        host = hostid.host_id(self.home.host_id) if final else hostid.existing(self.home.host_id)
        svc = replace(svc, macs=macs.plan(svc.name, len(svc.networks), assigned, host))
        macs.check_unique(svc.name, svc.macs, {o.name: o.macs for o in others}, given=assigned.values())
        return svc

    @contextlib.contextmanager
    def _allocating(self, vm: bool) -> Iterator[None]:
        """The host-wide lock on what VMs are given (memory), held while a VM service is recorded."""
        if not vm:
            yield
            return
        with locked(self.home.locks / "allocation.lock", what="the host's allocation of memory", wait=60.0):
            yield

    def _ensure(
        self, impl: Implementation, undo: list[Callable[[], None]], unused: set[str], journal: AddJournal
    ) -> Path:
        """IMPL's store entry, downloaded if needed; if it was downloaded, undoing adds it to UNUSED.

        Undoing does not remove the entry: the caller prunes UNUSED (gc.prune) once it has let go of the
        store, which removes only what no service needs by then. JOURNAL notes it before the download.
        """
        existing = self.store.path(impl)
        if existing is not None:
            return existing
        journal.store_entry(impl.store_name)
        total = sum(getattr(r, "size", 0) for r in impl.retrievals[:1])
        if self.ui.progress is not None:
            with self.ui.progress(f"{impl.version}", total) as progress:
                path = self.store.ensure(impl, self.fetcher, progress=progress)
        else:
            path = self.store.ensure(impl, self.fetcher)
        undo.append(lambda: unused.add(impl.store_name))
        return path

    def _make_disks(
        self, svc: Service, planned: list[tuple[str, int]], undo: list[Callable[[], None]], journal: AddJournal
    ) -> Service:
        from dataclasses import replace

        from zeroxl.disks import provider

        disks = provider(self.home, self.config)
        made: list[Disk] = []
        for disk_name, size in planned:
            kept = disks.find(svc.name, disk_name)
            if kept is not None:
                if kept.size != size:
                    raise ConflictError(
                        f"a kept disk {disk_name} of {svc.name} exists with {kept.size} bytes, not {size}",
                        hint=f"reuse it with --disk {disk_name}={kept.size}, "
                        f"or delete it: 0xl disk delete {svc.name} {disk_name}",
                    )
                self.ui.info(f"reusing the kept disk {disk_name} of {svc.name} ({kept.location})")
                made.append(kept)
                continue
            journal.disk(disks.kind, disk_name)  # before: a kill during the creation leaves a note of it
            disk = disks.create(svc.name, disk_name, size)
            undo.append(functools.partial(disks.delete, disk))
            made.append(disk)
        return replace(svc, disks=tuple(made))

    @contextlib.contextmanager
    def _transaction(self, name: str) -> Iterator[list[Callable[[], None]]]:
        """Run a block that creates things; on any failure (Ctrl-C too) undo them, newest first."""
        undo: list[Callable[[], None]] = []
        service_dir = self.records.dir(name)
        existed = service_dir.exists()
        try:
            yield undo
        except BaseException:
            for step in reversed(undo):
                with contextlib.suppress(Exception):
                    step()
            if not existed:
                self.records.bury(name)
                self.records.clear_buried()
            raise

    # -- run / stop -----------------------------------------------------------------------------------

    def impl_dir(self, svc: Service) -> Path:
        """The store entry of the service's current version, fetched again (and verified) if it was removed."""
        if svc.current is None:
            raise NotFoundError(f"service {svc.name} has no version selected", hint=f"run 0xl update {svc.name}")
        path = self.store.root / svc.current.digest
        if path.is_dir():
            return path
        feed = self.loader.cached_feed(svc.feed)
        impl = next((i for i in (feed.implementations if feed else ()) if i.store_name == svc.current.digest), None)
        if impl is None:
            raise NotFoundError(
                f"version {svc.current.version} of {svc.name} is no longer in the store or in its feed",
                hint=f"run 0xl update {svc.name}",
            )
        return self.store.ensure(impl, self.fetcher)

    def run(self, name: str, *, wait: float = 0.0) -> tuple[Service, bool]:
        """Start NAME; returns the service and False if it was running already."""
        with self.lock(name, wait):
            svc = self.records.load(name)
            be = self.backend(svc.backend)
            if be.status(svc).state == RUNNING:
                if svc.desired != "running":
                    # A run killed after it started the service, before it recorded that: finish it.
                    svc = self._save(svc, desired="running")
                return svc, False
            be.start(svc, self.impl_dir(svc))
            testhooks.pause("run-started")
            svc = self._save(svc, desired="running")
            return svc, True

    def stop(self, name: str, *, timeout: float | None = None, wait: float = 0.0) -> tuple[Service, bool]:
        with self.lock(name, wait):
            svc = self.records.load(name)
            be = self.backend(svc.backend)
            was_running = be.status(svc).state == RUNNING
            be.stop(svc, timeout=timeout)
            svc = self._save(svc, desired="stopped")
            return svc, was_running

    def _save(self, svc: Service, **changes: Any) -> Service:
        from dataclasses import replace

        svc = replace(svc, updated=now(), **changes)
        self.records.save(svc)
        return svc

    # -- destroy ----------------------------------------------------------------------------------------

    def destroy(self, name: str, *, delete_disks: bool = False, wait: float = 0.0) -> DestroyResult:
        from zeroxl.disks import all_providers

        with self.lock(name, wait):
            svc = self.records.load(name)
            # Each disk's provider is found before anything stops: a disk 0xl cannot reach now (its volume
            # group left config.toml) must not turn into a half-done destroy.
            deletions: list[tuple[DiskProvider, Disk]] = []
            if delete_disks:
                providers = {p.kind: p for p in all_providers(self.home, self.config)}
                for disk in svc.disks:
                    if disk.kind not in providers:
                        raise UsageError(
                            f"cannot delete disk {disk.name} of {name} ({disk.kind}, {disk.location}): "
                            "config.toml configures no volume group now",
                            hint=f"set [disks] volume_group in config.toml again, or destroy {name} without "
                            "--delete-disks (the disk is kept)",
                        )
                    deletions.append((providers[disk.kind], disk))
            be = self.backend(svc.backend)
            be.stop(svc)
            be.cleanup(svc)
            for provider, disk in deletions:
                provider.delete(disk)
            deleted = [disk for _, disk in deletions]
            self.records.bury(name)
            testhooks.pause("destroy-buried")
            self.records.clear_buried()
            kept = () if delete_disks else svc.disks
            return DestroyResult(name, tuple(kept), tuple(deleted))

    # -- reading ----------------------------------------------------------------------------------------

    def log_path(self, name: str) -> Path:
        svc = self.records.load(name)
        return self.backend(svc.backend).log_path(svc)

    def vm_config(self, name: str) -> str:
        """The VM config (xl.cfg) that `0xl run NAME` would write now. Reads only: nothing is fetched."""
        svc = self.records.load(name)
        be = self.backend(svc.backend)
        if not be.has_vm_config:
            raise UsageError(f"{name} runs on the {svc.backend} backend, which has no VM config")
        if svc.current is None or not (self.store.root / svc.current.digest).is_dir():
            raise NotFoundError(
                f"the version of {name} to run is not in the store", hint=f"0xl run {name} fetches it again"
            )
        return be.vm_config(svc, self.store.root / svc.current.digest)

    # -- disks ------------------------------------------------------------------------------------------

    def disks(self) -> list[DiskRow]:
        from zeroxl.disks import all_providers
        from zeroxl.state.schema import DamagedRecord

        in_use: set[tuple[str, str]] = set()
        damaged: set[str] = set()  # whose disks are unknown: each disk of that name counts as theirs
        for n in self.records.names():
            try:
                in_use.update((n, d.location) for d in self.records.load(n).disks)
            except DamagedRecord:
                damaged.add(n)
        return [
            DiskRow(kept.service, kept.disk, (kept.service, kept.disk.location) in in_use or kept.service in damaged)
            for prov in all_providers(self.home, self.config)
            for kept in prov.list()
        ]

    def delete_disk(self, service: str, disk_name: str) -> Disk:
        from zeroxl.disks import all_providers

        check_service_name(service)
        check_disk_name(disk_name)
        with self.lock(service):
            if self.records.exists(service) and any(d.name == disk_name for d in self.records.load(service).disks):
                raise ConflictError(
                    f"disk {disk_name} belongs to the service {service}, which exists",
                    hint=f"destroy the service first: 0xl destroy {service} [--delete-disks]",
                )
            for prov in all_providers(self.home, self.config):
                disk = prov.find(service, disk_name)
                if disk is not None:
                    prov.delete(disk)
                    return disk
        raise NotFoundError(f"no disk {disk_name} of {service}", hint="see 0xl disk list")
