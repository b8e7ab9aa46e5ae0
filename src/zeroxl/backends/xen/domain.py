"""The domain a Xen service gets, as typed values for cfgfile.render: a pure function of the service record,
the host's policy, the other services and the implementation's files (located by the caller).

What comes from where:
- name: the service's name; type, ramdisk, cmdline's names and patterns: the verified feed;
- memory: --memory, the feed's recommendation or the default, within the policy (zeroxl.host.policy);
- cmdline: the operator's --arg values, declared by the feed and matching its patterns, in the feed's order;
- disks: the service's disks, each at the Xen disk its block device is declared at, or by mirage's rule
  (the first block at xvdb: zeroxl.host.devices); a disk no block declares at the first disk left free;
- vifs: the bridges recorded at `add` (one per declared network, allowed by the policy), each with the MAC
  recorded at `add` (zeroxl.host.macs), so it is the same at every start;
- on_poweroff / on_reboot / on_crash: the service's restart policy.
"""

from __future__ import annotations

from collections.abc import Iterable

from zeroxl.backends.xen.cfgfile import MAX_DISKS, DiskSpec, DomainConfig, VifSpec
from zeroxl.errors import ARG, BackendError, SettingError, StateError
from zeroxl.feeds import patterns
from zeroxl.host.config import Policy
from zeroxl.host.devices import free_vdevs, vdev_number
from zeroxl.host.macs import check_unique
from zeroxl.host.policy import check_bridges, check_memory, check_restart, vm_memory
from zeroxl.state.service import Disk, Service

# (on_poweroff, on_reboot, on_crash) for each restart policy (zeroxl.host.policy.RESTART_POLICIES).
# A guest that powers itself off meant to stop, as a process that exits with status 0; `xl shutdown`
# asks for exactly that, so `0xl stop` works under every policy.
# Under `always` a guest that powers itself off is started again too; `0xl stop` then destroys the
# domain that `xl shutdown` brought back (backends/xen/backend.py).
ACTIONS = {
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
                f"{svc.name} has {len(svc.disks)} disks; 0xl attaches at most {MAX_DISKS - 1} (xvdb-xvdz)"
            )
    return sorted(placed, key=lambda p: vdev_number(p[0]))


def disk_target(disk: Disk) -> str:
    if disk.kind == "lvm":
        return f"/dev/{disk.location}"  # location is VG/LV
    if disk.kind == "file":
        return disk.location
    raise BackendError(f"disk {disk.name} is of a kind the Xen backend cannot attach ({disk.kind})")


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


def domain_config(
    svc: Service,
    *,
    kernel: str,
    ramdisk: str | None,
    policy: Policy,
    others: Iterable[Service],
) -> DomainConfig:
    """The domain for SVC; KERNEL and RAMDISK are the absolute paths of its files in the store.

    OTHERS are the host's other Xen services, for the total-memory limit and MAC collisions.
    """
    if svc.current is None:
        raise BackendError(f"service {svc.name} has no version selected")
    others = list(others)
    needs = svc.current.needs
    memory = check_memory(svc.name, svc.memory, needs, policy, [vm_memory(o.memory, o.needs) for o in others])
    check_bridges(svc.networks, needs, policy)
    if len(svc.macs) != len(svc.networks):
        raise StateError(f"the record of {svc.name} has {len(svc.macs)} MAC(s) for {len(svc.networks)} network(s)")
    check_unique(svc.name, svc.macs, {o.name: o.macs for o in others})
    on_poweroff, on_reboot, on_crash = ACTIONS[check_restart(svc.restart)]
    disks = disk_vdevs(svc)
    return DomainConfig(
        name=svc.name,
        type=needs.xen_type,
        kernel=kernel,
        ramdisk=ramdisk,
        cmdline=cmdline(svc),
        memory=memory,
        on_poweroff=on_poweroff,
        on_reboot=on_reboot,
        on_crash=on_crash,
        disks=tuple(DiskSpec(vdev=vdev, target=disk_target(d)) for vdev, d in disks),
        vifs=tuple(VifSpec(bridge, mac) for bridge, mac in zip(svc.networks, svc.macs, strict=True)),
    )
