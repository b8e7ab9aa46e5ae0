"""`0xl disk list` and `0xl disk delete`: the disks 0xl made, in use or kept after their service was
destroyed, and deleting a kept one (never one a service has)."""

from __future__ import annotations

from dataclasses import dataclass

from zeroxl.app import journal, session
from zeroxl.app.context import Context
from zeroxl.errors import ConflictError, NotFoundError
from zeroxl.host import users
from zeroxl.host.names import check_disk_name, check_service_name
from zeroxl.state.schema import DamagedRecord
from zeroxl.state.service import Disk


@dataclass(frozen=True)
class DiskRow:
    service: str
    disk: Disk
    in_use: bool  # False: kept after its service was destroyed


def list_disks(ctx: Context) -> list[DiskRow]:
    in_use: set[tuple[str, str]] = set()
    damaged: set[str] = set()  # whose disks are unknown: each disk of that name counts as theirs
    for n in ctx.records.names():
        try:
            in_use.update((n, d.location) for d in ctx.records.load(n).disks)
        except DamagedRecord:
            damaged.add(n)
    return [
        DiskRow(kept.service, kept.disk, (kept.service, kept.disk.location) in in_use or kept.service in damaged)
        for prov in ctx.disk_providers()
        for kept in prov.list()
    ]


def delete_disk(ctx: Context, service: str, disk_name: str) -> Disk:
    """Delete the kept disk DISK_NAME of SERVICE, which must not exist any more."""
    check_service_name(service)
    check_disk_name(disk_name)
    with session.service_lock(ctx, service):
        journal.recover(ctx, service)
        if ctx.records.exists(service) and any(d.name == disk_name for d in ctx.records.load(service).disks):
            raise ConflictError(
                f"disk {disk_name} belongs to the service {service}, which exists",
                hint=f"destroy the service first: 0xl destroy {service} [--delete-disks]",
            )
        for prov in ctx.disk_providers():
            disk = prov.find(service, disk_name)
            if disk is not None:
                prov.delete(disk)
                if not ctx.records.exists(service) and not any(
                    kept.service == service for p in ctx.disk_providers() for kept in p.list()
                ):
                    users.remove_own(service, str(ctx.home.root))  # it owned nothing else (host.users)
                return disk
    raise NotFoundError(f"no disk {disk_name} of {service}", hint="see 0xl disk list")
