"""`0xl run`, `stop`, `restart` and `destroy`, each under the service's lock; and what `logs` and `config` read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zeroxl import testhooks
from zeroxl.app import journal, reconcile, session
from zeroxl.app.context import Context
from zeroxl.app.implementations import impl_dir
from zeroxl.backends.states import MISSING, RUNNING
from zeroxl.disks.base import DiskProvider
from zeroxl.errors import NotFoundError, UsageError
from zeroxl.host import users
from zeroxl.state.service import Disk, Service


@dataclass(frozen=True)
class DestroyResult:
    name: str
    kept_disks: tuple[Disk, ...]
    deleted_disks: tuple[Disk, ...]
    domain_gone: bool = False  # its domain was gone from its host already (docs/fleet.md): only the record went


def run(ctx: Context, name: str, *, wait: float = 0.0) -> tuple[Service, bool]:
    """Start NAME; returns the service and False if it was running already."""
    with session.service_lock(ctx, name, wait=wait):
        journal.recover(ctx, name)
        svc = reconcile.owned(ctx, name)
        be = ctx.backend(svc.backend)
        if be.status(svc).state == RUNNING:
            if svc.desired != "running":
                # A run killed after it started the service, before it recorded that: finish it.
                svc = ctx.records.change(svc, desired="running")
            return svc, False
        be.start(svc, impl_dir(ctx, svc))
        testhooks.pause("run-started")
        return ctx.records.change(svc, desired="running"), True


def stop(ctx: Context, name: str, *, timeout: float | None = None, wait: float = 0.0) -> tuple[Service, bool]:
    """Stop NAME; returns the service and whether it was running."""
    with session.service_lock(ctx, name, wait=wait):
        journal.recover(ctx, name)
        svc = reconcile.owned(ctx, name)
        be = ctx.backend(svc.backend)
        was_running = be.status(svc).state == RUNNING
        be.stop(svc, timeout=timeout)
        return ctx.records.change(svc, desired="stopped"), was_running


def restart(ctx: Context, name: str, *, timeout: float | None = None, wait: float = 0.0) -> tuple[Service, bool]:
    """Stop NAME if it runs (gracefully, then by force after TIMEOUT), then start it, under one lock so
    that no other command sees it stopped in between; returns the service and whether it was running."""
    with session.service_lock(ctx, name, wait=wait):
        journal.recover(ctx, name)
        svc = reconcile.owned(ctx, name)
        be = ctx.backend(svc.backend)
        was_running = be.status(svc).state == RUNNING
        be.stop(svc, timeout=timeout)
        be.start(svc, impl_dir(ctx, svc))
        return ctx.records.change(svc, desired="running"), was_running


def destroy(ctx: Context, name: str, *, delete_disks: bool = False, wait: float = 0.0) -> DestroyResult:
    """Stop NAME and remove it; its disks are kept unless DELETE_DISKS."""
    with session.service_lock(ctx, name, wait=wait):
        journal.recover(ctx, name)
        svc = reconcile.owned(ctx, name)
        # Each disk's provider is found before anything stops: a disk 0xl cannot reach now (its volume
        # group left config.toml) must not turn into a half-done destroy.
        deletions: list[tuple[DiskProvider, Disk]] = []
        if delete_disks:
            providers = {p.kind: p for p in ctx.disk_providers()}
            for disk in svc.disks:
                if disk.kind not in providers:
                    raise UsageError(
                        f"cannot delete disk {disk.name} of {name} ({disk.kind}, {disk.location}): "
                        "config.toml configures no volume group now",
                        hint=f"set [disks] volume_group in config.toml again, or destroy {name} without "
                        "--delete-disks (the disk is kept)",
                    )
                deletions.append((providers[disk.kind], disk))
        be = ctx.backend(svc.backend)
        gone = ctx.libvirt_uri is not None and be.status(svc).state == MISSING
        be.stop(svc)
        be.cleanup(svc)
        for provider, disk in deletions:
            provider.delete(disk)
        ctx.records.bury(name)
        testhooks.pause("destroy-buried")
        ctx.records.clear_buried()
        kept = () if delete_disks else svc.disks
        if not kept:  # a kept disk keeps its owner, for an `add` of the same name to find it as it was
            users.remove_own(name, str(ctx.home.root))
        return DestroyResult(name, tuple(kept), tuple(disk for _, disk in deletions), domain_gone=gone)


def log_path(ctx: Context, name: str) -> Path:
    """The file that holds NAME's output (its log, or its domain's console)."""
    svc = ctx.records.load(name)
    return ctx.backend(svc.backend).log_path(svc)


def vm_config(ctx: Context, name: str) -> str:
    """The VM configuration (xl.cfg) that `0xl run NAME` would write now. Reads only: nothing is fetched."""
    svc = ctx.records.load(name)
    be = ctx.backend(svc.backend)
    if not be.has_vm_config:
        raise UsageError(f"{name} runs on the {svc.backend} backend, which has no VM config")
    if svc.current is None or not (ctx.store.root / svc.current.digest).is_dir():
        raise NotFoundError(
            f"the version of {name} to run is not in the store", hint=f"0xl run {name} fetches it again"
        )
    return be.vm_config(svc, ctx.store.root / svc.current.digest)
