"""`0xl host adopt NAME --host H`: take over a service 0xl deployed on H from another operator's machine
(or from this one, after its records were lost), from what the domain's metadata says (docs/fleet.md).

Everything the metadata holds is hostile input: whoever can write the host's domains could have written
it. Each value is checked as if the operator had typed it at `add` (names, sizes, arguments against the
feed's declarations, MACs, bridges and memory within this machine's policy); the feed is fetched and
verified with THIS machine's trust database (an unknown key is refused as at `add`); the version and
digest the domain runs must be an implementation of that verified feed, which is fetched and verified into
the store; and the volumes the metadata names must be on the host under 0xl's names, with the keys it
says. Only then are the record and the volumes' notes written, and the domain's owner rewritten to this
machine (its metadata only: a running service keeps running). A refusal changes nothing.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zeroxl.app import fits, health, journal, session, store_gc
from zeroxl.app.context import Context
from zeroxl.backends import target_for
from zeroxl.errors import DISK, MEMORY, ConflictError, NotFoundError, SelectionError, SettingError
from zeroxl.feeds.model import Feed, Implementation
from zeroxl.feeds.selection import Target
from zeroxl.feeds.trust import normalise_fingerprint
from zeroxl.host import macs as mac_addresses
from zeroxl.host.config import Policy
from zeroxl.host.names import check_disk_name, check_service_name
from zeroxl.host.policy import check_bridges, check_memory, check_restart, check_start_order, vm_memory
from zeroxl.state.history import History

if TYPE_CHECKING:
    from zeroxl.backends.libvirt.backend import LibvirtBackend
    from zeroxl.backends.libvirt.metadata import Metadata
from zeroxl.state.service import Disk, Readiness, Service

BACKEND = "libvirt"


@dataclass(frozen=True)
class Adopted:
    service: Service
    host: str
    previous_owner: str  # the owner the domain named before ("" for none)
    changed: bool  # False: this machine had it already, as the host says


def unadopted(ctx: Context) -> list[str]:
    """The 0xl domains on the host (ctx's) that this machine has no record of, or that another owns."""
    from zeroxl.backends.libvirt.facts import domains
    from zeroxl.state.hostid import known_operator_id

    mine = known_operator_id(ctx.home.operator_id)
    return [
        d.name
        for d in domains(ctx.config.libvirt.uri)
        if not ctx.records.exists(d.name) or (d.meta.owner and d.meta.owner != mine)
    ]


def adopt(ctx: Context, host: str, name: str, *, trust_key: str | None = None) -> Adopted:
    """Adopt the service NAME on HOST (ctx is HOST's); see the module's docstring."""
    from zeroxl.backends.libvirt import connection
    from zeroxl.backends.libvirt.domainxml import read_metadata
    from zeroxl.backends.libvirt.volumes import Volumes
    from zeroxl.state.hostid import known_operator_id

    check_service_name(name)
    fpr = normalise_fingerprint(trust_key) if trust_key else None
    uri = ctx.config.libvirt.uri
    with connection.connect(uri) as conn:
        dom = connection.lookup(conn.lookupByName, name)
        if dom is None:
            raise NotFoundError(f"the host {host} has no domain {name}", hint=f"0xl list --host {host} shows 0xl's")
        meta = read_metadata(connection.call(f"cannot read the domain {name}", dom.XMLDesc, 0))
        active = bool(connection.call(f"cannot read the state of {name}", dom.isActive))
    if meta is None or meta.service != name:
        raise ConflictError(f"the domain {name} on {host} is not one 0xl defined: 0xl leaves it alone")
    if meta.settings is None:
        why = f"its metadata is not 0xl's form ({meta.damaged})" if meta.damaged else "an older 0xl defined it"
        raise ConflictError(
            f"the domain {name} on {host} cannot be adopted: {why}, and it does not hold the service's settings",
            hint=f"on the machine that added it, 0xl run {name} --host {host} writes them (a start defines the "
            "domain again); or destroy it there and add it here",
        )
    mine = known_operator_id(ctx.home.operator_id)
    if ctx.records.exists(name) and meta.owner and meta.owner == mine:
        svc = ctx.records.load(name)
        if svc.current is not None and svc.current.digest == meta.digest:
            return Adopted(svc, host, meta.owner, changed=False)

    # The feed, verified with this machine's trust; the domain's record is then checked against it.
    loaded = ctx.loader.load(meta.feed, trust_key=fpr, confirm=ctx.ui.confirm_key)
    volumes = Volumes(ctx.home.root / "libvirt", ctx.config.libvirt)
    others = [ctx.records.load(n) for n in ctx.records.names() if n != name]
    svc, impl = service_from(
        meta,
        loaded.feed,
        target=Target.parse(target_for(BACKEND, uri)),
        policy=ctx.config.policy,
        pool=volumes.pool_name,
        others=others,
        active=active,
    )
    s = meta.settings
    downloaded: set[str] = set()
    undo: list[Callable[[], None]] = []
    try:
        with session.service_lock(ctx, name):
            journal.recover(ctx, name)
            before = ctx.records.load(name) if ctx.records.exists(name) else None
            if ctx.store.path(impl) is None:
                downloaded.add(impl.store_name)
            impl_dir = ctx.store.ensure(impl, ctx.fetcher)
            ctx.backend(BACKEND).check(svc, impl_dir)  # the domain 0xl would write, with every check of `start`
            keys = {d.location: d.key for d in s.disks}
            for location, key in keys.items():
                if volumes.adopt(location, key):
                    undo.append(functools.partial(volumes.forget, location))
            with session.allocation_lock(ctx, vm=True):
                ctx.loader.commit(loaded)
                if before is None and ctx.records.dir(name).exists():
                    ctx.records.bury(name)  # what a killed add left: the adopted service starts anew
                    ctx.records.clear_buried()
                ctx.records.save(svc)
                undo.append(lambda: ctx.records.save(before) if before is not None else ctx.records.bury(name))
                _libvirt(ctx).note(svc, take=True)
            History(ctx.records.dir(name)).record(
                "adopt", to=svc.current, message=f"adopted on {host} from {meta.owner[:12] or 'an older 0xl'}"
            )
            downloaded.clear()
    except BaseException:
        for step in reversed(undo):
            with contextlib.suppress(Exception):
                step()
        raise
    finally:
        if downloaded:
            store_gc.prune(ctx, downloaded)
    return Adopted(svc, host, meta.owner, changed=True)


def _libvirt(ctx: Context) -> LibvirtBackend:
    from zeroxl.backends.libvirt.backend import LibvirtBackend

    backend = ctx.backend(BACKEND)
    if not isinstance(backend, LibvirtBackend):  # what get_backend gives for "libvirt"
        raise TypeError(f"the {BACKEND} backend is a {type(backend).__name__}")
    return backend


def service_from(
    meta: Metadata,
    feed: Feed,
    *,
    target: Target,
    policy: Policy,
    pool: str,
    others: list[Service],
    active: bool,
) -> tuple[Service, Implementation]:
    """The record META (a domain's metadata, hostile) makes, checked as `add` checks what the operator
    types, against FEED (verified), this machine's POLICY and the host's OTHER services; and the
    implementation of FEED the domain runs. Pure: no IO."""
    from zeroxl.backends.libvirt.volumes import KIND, volume_name

    name = check_service_name(meta.service)
    s = meta.settings
    if s is None:
        raise ConflictError(f"the domain {name} does not hold the service's settings")
    chan = fits.channel(s.channel)
    if s.versions is not None:
        fits.version_range(s.versions)
    args = fits.parse_args([f"{k}={v}" for k, v in s.args])
    if s.memory is not None and s.memory <= 0:
        raise SettingError(["invalid ", MEMORY, f" {s.memory}: it must be a positive number of MiB"])
    restart = check_restart(s.restart)
    start_order = check_start_order(s.start_order)
    ready = health.readiness(
        Readiness(), settle=s.ready_settle, log=s.ready_log or "", tcp=s.ready_tcp or "", timeout=s.ready_timeout
    )
    macs = tuple(mac_addresses.check_mac(mac) for _, mac in s.networks)
    bridges = tuple(bridge for bridge, _ in s.networks)
    for d in s.disks:
        check_disk_name(d.name)
        if d.kind != KIND or d.location != f"{pool}/{volume_name(name, d.name)}" or not d.key:
            where = f"{d.location} ({d.kind}) is not a volume 0xl makes in this host's pool {pool}"
            raise SettingError([DISK, f" {d.name}: {where}"])
    impl = next(
        (
            i
            for i in feed.implementations
            if i.store_name == meta.digest and str(i.version) == meta.version and target.matches(i.arch)
        ),
        None,
    )
    if impl is None:
        raise SelectionError(
            f"the domain {name} runs version {meta.version} ({meta.digest}), which is not a {target} "
            f"implementation of {meta.feed} as this machine verified it: 0xl adopts nothing unverified",
            hint="the domain's metadata was changed outside 0xl, or the feed no longer lists that version",
        )
    fits.check_args(args, impl.needs, declared_only=True)
    planned = fits.plan_disks([(d.name, d.size) for d in s.disks], impl.needs, policy.max_disk_size)
    if len(macs) != len(impl.needs.networks):
        raise SettingError(f"the domain gives {len(macs)} networks; the service declares {len(impl.needs.networks)}")
    check_bridges(bridges, impl.needs, policy)
    vms = [vm_memory(o.memory, o.needs) for o in others if o.backend == BACKEND]
    check_memory(name, s.memory, impl.needs, policy, vms)
    mac_addresses.check_unique(name, macs, {o.name: o.macs for o in others}, given=macs)
    svc = Service(
        name=name,
        feed=meta.feed,
        backend=BACKEND,
        target=str(target),
        channel=str(chan),
        versions=s.versions,
        args=args,
        memory=s.memory,
        networks=bridges,
        macs=macs,
        disks=tuple(Disk(n, size, KIND, d.location) for (n, size), d in zip(planned, s.disks, strict=True)),
        restart=restart,
        current=fits.selected_from(impl),
        desired="running" if active else "stopped",
        ready=ready,
        enabled=s.enabled,
        start_order=start_order,
    )
    return svc, impl
