"""The domain a Xen service gets, as typed values for xlcfg.render: a pure function of the service record,
the host's policy, the other services and the implementation's files (located by the caller).

What comes from where:
- name: the service's name; type, ramdisk, cmdline's names and patterns: the verified feed;
- memory: --memory, the feed's recommendation or the default, within the policy (zeroxl.policy);
- cmdline: the operator's --arg values, declared by the feed and matching its patterns, in the feed's order;
- disks: the service's disks, xvda, xvdb, … in the order the feed declares its block devices;
- vifs: the bridges recorded at `add` (one per declared network, allowed by the policy), each with a MAC
  derived from the service's name and the network's position, so it is the same at every start;
- on_poweroff / on_reboot / on_crash: the service's restart policy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from zeroxl.backends.xlcfg import MAX_DISKS, DiskSpec, DomainConfig, VifSpec
from zeroxl.config import Policy
from zeroxl.errors import BackendError, ConflictError, UsageError
from zeroxl.feeds import patterns
from zeroxl.policy import check_bridges, check_memory, check_restart
from zeroxl.state.service import Disk, Service

# Xen's own OUI: libxl picks random MACs in it too.
XEN_OUI = "00:16:3e"

# (on_poweroff, on_reboot, on_crash) for each restart policy (zeroxl.policy.RESTART_POLICIES).
# A guest that powers itself off meant to stop, as a process that exits with status 0; `xl shutdown`
# asks for exactly that, so `0xl stop` works under every policy.
ACTIONS = {
    "on-failure": ("destroy", "restart", "restart"),
    "no": ("destroy", "destroy", "preserve"),
}


def mac_for(service: str, index: int) -> str:
    """The MAC of the service's INDEXth network: stable across starts, updates and re-adds of the name."""
    digest = hashlib.sha256(f"0xl-vif\0{service}\0{index}".encode()).digest()
    return XEN_OUI + "".join(f":{b:02x}" for b in digest[:3])


def ordered_disks(svc: Service) -> list[Disk]:
    """The service's disks in the order the feed declares its block devices (undeclared ones after)."""
    needs = svc.current.needs if svc.current else None
    order = {b.name: i for i, b in enumerate(needs.blocks if needs else ())}
    return sorted(svc.disks, key=lambda d: (order.get(d.name, len(order)), d.name))


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
            raise UsageError(f"{svc.name}: --arg {key} is not an argument that this version of the service declares")
        try:
            fits = patterns.matches(arg.pattern, value)
        except patterns.PatternError as e:
            # Recorded from a feed an older 0xl read, before patterns were RE2's.
            raise patterns.PatternError(
                f"{svc.name}: --arg {key}: the version it runs declares a pattern 0xl no longer accepts: {e.message}",
                hint=f"update {svc.name} to a version whose feed uses RE2's syntax (docs/feed-service-needs.md)",
            ) from None
        if not fits:
            raise UsageError(f"{svc.name}: --arg {key}={value!r} does not match the pattern {arg.pattern}")
    return tuple((name, svc.args[name]) for name in declared if name in svc.args)


def check_macs(svc: Service, others: Iterable[Service]) -> None:
    """Refuse a service whose derived MACs collide with another service's (one chance in millions)."""
    mine = {mac_for(svc.name, i) for i in range(len(svc.networks))}
    for other in others:
        if other.name == svc.name:
            continue
        clash = mine & {mac_for(other.name, i) for i in range(len(other.networks))}
        if clash:
            raise ConflictError(
                f"the MAC {min(clash)} that 0xl derives for {svc.name} is the one of the service {other.name}",
                hint="give the service another name",
            )


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
    memory = check_memory(svc, policy, others)
    check_bridges(svc.networks, needs, policy)
    check_macs(svc, others)
    on_poweroff, on_reboot, on_crash = ACTIONS[check_restart(svc.restart)]
    disks = ordered_disks(svc)
    if len(disks) > MAX_DISKS:
        raise UsageError(f"{svc.name} has {len(disks)} disks; a Xen domain gets at most {MAX_DISKS} (xvda-xvdz)")
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
        disks=tuple(DiskSpec(vdev=f"xvd{chr(ord('a') + i)}", target=disk_target(d)) for i, d in enumerate(disks)),
        vifs=tuple(VifSpec(bridge, mac_for(svc.name, i)) for i, bridge in enumerate(svc.networks)),
    )
