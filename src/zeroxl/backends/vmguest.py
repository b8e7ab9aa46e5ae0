"""What every VM backend gives a guest alike, from the service's record: its kernel command line (only the
arguments its feed declares, matching their patterns) and where each of its disks appears (mirage's
numbering of block devices: zeroxl.host.devices). The xen and libvirt backends write these in their own
formats.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from zeroxl.errors import ARG, BackendError, NotFoundError, SettingError, StateError
from zeroxl.feeds import patterns
from zeroxl.host.config import Policy
from zeroxl.host.devices import MAX_VDEVS, free_vdevs, vdev_number
from zeroxl.host.macs import check_unique
from zeroxl.host.policy import check_bridges, check_memory, check_restart, vm_memory
from zeroxl.state.selected import Selected
from zeroxl.state.service import Disk, Records, Service

# (on_poweroff, on_reboot, on_crash) for each restart policy (zeroxl.host.policy.RESTART_POLICIES), as xl
# and libvirt both name them (docs/restart.md). Under on-failure a guest that powers itself off meant to
# stop; under always, `0xl stop` destroys what a shutdown brought back.
RESTART_ACTIONS = {
    "always": ("restart", "restart", "restart"),
    "on-failure": ("destroy", "restart", "restart"),
    "never": ("destroy", "destroy", "preserve"),
}


def disk_vdevs(svc: Service) -> list[tuple[str, Disk]]:
    """Each of the service's disks with the Xen disk it appears at, in device order.

    A declared block device is where its feed says (or mirage's rule puts it); a disk no block declares
    (`--disk SIZE` for a feed that declares none, or one a newer version no longer declares) takes the
    first disk from xvdb up that no block is at.
    """
    needs = svc.current.needs if svc.current else None
    try:
        declared = needs.block_vdevs() if needs else {}
    except ValueError as e:  # a record written by hand or damaged: feeds are checked when parsed
        raise StateError(f"{svc.name}: {e}") from None
    free = free_vdevs(list(declared.values()))
    placed = []
    for disk in sorted(svc.disks, key=lambda d: d.name):
        if disk.name in declared:
            placed.append((declared[disk.name], disk))
        elif free:
            placed.append((free.pop(0), disk))
        else:
            raise SettingError(
                f"{svc.name} has {len(svc.disks)} disks; 0xl attaches at most {MAX_VDEVS - 1} (xvdb-xvdz)"
            )
    return sorted(placed, key=lambda p: vdev_number(p[0]))


def cmdline(svc: Service) -> tuple[tuple[str, str], ...]:
    """The operator's arguments as the feed declares them; anything undeclared or off-pattern is refused."""
    needs = svc.current.needs if svc.current else None
    declared = {a.name: a for a in (needs.args if needs else ())}
    for key, value in svc.args.items():
        arg = declared.get(key)
        if arg is None:
            raise SettingError(
                [f"{svc.name}: ", ARG, f" {key} is not an argument that this version of the service declares"]
            )
        try:
            fits = patterns.matches(arg.pattern, value)
        except patterns.PatternError as e:
            # Recorded from a feed an older 0xl read, before patterns were RE2's.
            problem = f"the version it runs declares a pattern 0xl no longer accepts: {e.message}"
            raise patterns.PatternError(
                [f"{svc.name}: ", ARG, f" {key}: {problem}"],
                hint=f"update {svc.name} to a version whose feed uses RE2's syntax (docs/feed-service-needs.md)",
            ) from None
        if not fits:
            raise SettingError([f"{svc.name}: ", ARG, f" {key}={value!r} does not match the pattern {arg.pattern}"])
    return tuple((name, svc.args[name]) for name in declared if name in svc.args)


def inside(impl_dir: Path, rel: str, what: str) -> str:
    """REL resolved inside IMPL_DIR, which it may not leave (by `..` or a link); it must be a file."""
    root = impl_dir.resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise BackendError(f"the {what} {rel!r} points outside its implementation")
    if not path.is_file():
        raise BackendError(f"the {what} {rel} is not a file in {impl_dir}")
    if not os.access(path, os.R_OK):
        raise BackendError(f"the {what} {path} cannot be read")
    return str(path)


def boot_files(svc: Service, impl_dir: Path, *, suffix: str, ramdisk: str) -> tuple[str, str | None]:
    """The absolute paths of SVC's kernel and ramdisk (called RAMDISK in messages), which must be files
    inside the implementation; SUFFIX is how the publisher's build names a kernel (`NAME.xen`)."""
    if svc.current is None or not svc.current.command_path:
        raise BackendError(
            f"the selected version of {svc.feed} names no kernel",
            hint=f"the publisher must give the implementation a <command name='run' path='NAME.{suffix}'>",
        )
    kernel = inside(impl_dir, svc.current.command_path, "kernel")
    rel = svc.current.needs.ramdisk
    return kernel, inside(impl_dir, rel, ramdisk) if rel else None


def other_services(services: Path, svc: Service, backend: str) -> list[Service]:
    """The host's services of BACKEND other than SVC, for the total-memory limit and MAC collisions."""
    records = Records(services)
    others = []
    for name in records.names():
        if name != svc.name:
            with contextlib.suppress(NotFoundError):  # destroyed meanwhile
                other = records.load(name)
                if other.backend == backend:
                    others.append(other)
    return others


def checked(svc: Service, policy: Policy, others: Iterable[Service]) -> tuple[Selected, int, tuple[str, str, str]]:
    """What every VM writer checks first, against the host's POLICY and its OTHERS (services of the same
    backend): SVC's version, its memory in MiB, and its (on_poweroff, on_reboot, on_crash)."""
    if svc.current is None:
        raise BackendError(f"service {svc.name} has no version selected")
    others = list(others)
    needs = svc.current.needs
    memory = check_memory(svc.name, svc.memory, needs, policy, [vm_memory(o.memory, o.needs) for o in others])
    check_bridges(svc.networks, needs, policy)
    if len(svc.macs) != len(svc.networks):
        raise StateError(f"the record of {svc.name} has {len(svc.macs)} MAC(s) for {len(svc.networks)} network(s)")
    check_unique(svc.name, svc.macs, {o.name: o.macs for o in others})
    return svc.current, memory, RESTART_ACTIONS[check_restart(svc.restart)]
