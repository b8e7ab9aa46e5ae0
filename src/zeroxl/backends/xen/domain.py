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

from zeroxl.backends.vmguest import RESTART_ACTIONS, checked, cmdline, disk_vdevs
from zeroxl.backends.xen.cfgfile import DiskSpec, DomainConfig, VifSpec
from zeroxl.errors import BackendError
from zeroxl.host.config import Policy
from zeroxl.state.service import Disk, Service

# (on_poweroff, on_reboot, on_crash) for each restart policy (zeroxl.host.policy.RESTART_POLICIES).
# A guest that powers itself off meant to stop, as a process that exits with status 0; `xl shutdown`
# asks for exactly that, so `0xl stop` works under every policy.
# Under `always` a guest that powers itself off is started again too; `0xl stop` then destroys the
# domain that `xl shutdown` brought back (backends/xen/backend.py).
ACTIONS = RESTART_ACTIONS  # (on_poweroff, on_reboot, on_crash) per restart policy


def disk_target(disk: Disk) -> str:
    if disk.kind == "lvm":
        return f"/dev/{disk.location}"  # location is VG/LV
    if disk.kind == "file":
        return disk.location
    raise BackendError(f"disk {disk.name} is of a kind the Xen backend cannot attach ({disk.kind})")


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
    current, memory, (on_poweroff, on_reboot, on_crash) = checked(svc, policy, others)
    needs = current.needs
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
