"""The domain a libvirt service gets, as typed values for domainxml.render: a pure function of the service
record, the host's policy, the other services and the implementation's files (located by the caller).

What comes from where (as for xl: backends/xen/domain.py):
- name: the service's name; kernel, initrd, cmdline's names and patterns: the verified feed;
- memory: --memory, the feed's recommendation or the default, within the policy (zeroxl.host.policy);
- cmdline: the operator's --arg values, declared by the feed and matching its patterns (backends.vmguest);
- disks: each at the virtio disk of its block in mirage's numbering (xvdb -> vda: host.devices.virtio_disk);
  for a Xen domain (libvirt's Xen driver), at the Xen disk itself, as the xen backend attaches it;
- nics: one per declared network, on the bridge or the libvirt network (`network:NAME`) recorded at `add`,
  with the MAC recorded at `add` (host.macs);
- on_poweroff / on_reboot / on_crash: the service's restart policy;
- metadata: the service, its feed, the version and digest it runs, its owner (this operator machine's id)
  and the operator's choices, for another operator's machine to adopt it (metadata.py, docs/fleet.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from zeroxl.backends.libvirt.domainxml import XEN, DiskSpec, DomainSpec, Metadata, NicSpec
from zeroxl.backends.libvirt.metadata import DiskNote, Settings
from zeroxl.backends.vmguest import RESTART_ACTIONS, checked, cmdline, disk_vdevs
from zeroxl.errors import BackendError
from zeroxl.host.config import Policy
from zeroxl.host.devices import virtio_disk, virtio_limits
from zeroxl.host.policy import LIBVIRT_NETWORK
from zeroxl.state.service import Disk, Service

ACTIONS = RESTART_ACTIONS  # (on_poweroff, on_reboot, on_crash) per restart policy, as for xl


def disk_spec(dev: str, disk: Disk) -> DiskSpec:
    if disk.kind == "libvirt":
        return DiskSpec(dev=dev, kind="volume", source=disk.location)  # POOL/VOLUME
    if disk.kind == "file":
        return DiskSpec(dev=dev, kind="file", source=disk.location)
    if disk.kind == "lvm":
        return DiskSpec(dev=dev, kind="block", source=f"/dev/{disk.location}")
    raise BackendError(f"disk {disk.name} is of a kind the libvirt backend cannot attach ({disk.kind})")


def nic_spec(net: str, mac: str) -> NicSpec:
    if net.startswith(LIBVIRT_NETWORK):
        return NicSpec(kind="network", source=net.removeprefix(LIBVIRT_NETWORK), mac=mac)
    return NicSpec(kind="bridge", source=net, mac=mac)


def metadata_of(svc: Service, *, owner: str, keys: Mapping[str, str]) -> Metadata:
    """What the domain of SVC says of it: KEYS are its volumes' keys, by location (POOL/VOLUME)."""
    if svc.current is None:
        raise BackendError(f"{svc.name} has no version to run")
    settings = Settings(
        channel=svc.channel,
        versions=svc.versions,
        args=tuple(svc.args.items()),
        memory=svc.memory,
        networks=tuple(zip(svc.networks, svc.macs, strict=True)),
        disks=tuple(DiskNote(d.name, d.size, d.kind, d.location, keys.get(d.location, "")) for d in svc.disks),
        restart=svc.restart,
        enabled=svc.enabled,
        start_order=svc.start_order,
        ready_settle=svc.ready.settle,
        ready_timeout=svc.ready.timeout,
        ready_log=svc.ready.log,
        ready_tcp=svc.ready.tcp,
    )
    return Metadata(
        service=svc.name,
        feed=svc.feed,
        version=svc.current.version,
        digest=svc.current.digest,
        owner=owner,
        settings=settings,
        format=2,
    )


def domain_spec(
    svc: Service,
    *,
    domain_type: str,
    kernel: str,
    initrd: str | None,
    serial_log: str,
    policy: Policy,
    others: Iterable[Service],
    uuid: str | None = None,
    owner: str = "",
    keys: Mapping[str, str] | None = None,
) -> DomainSpec:
    """The domain for SVC; KERNEL and INITRD are the absolute paths of its files in the store.

    OTHERS are the host's other libvirt services, for the total-memory limit and MAC collisions; OWNER
    is this operator machine's id, KEYS the keys of SVC's volumes by location.
    """
    current, memory, (on_poweroff, on_reboot, on_crash) = checked(svc, policy, others)
    needs = current.needs
    if domain_type == XEN and needs.xen_type != "pvh":
        raise BackendError(
            f"{svc.name}: the version it runs is a {needs.xen_type.upper()} guest; 0xl runs Xen guests through "
            "libvirt as PVH only",
            hint="run it with the xen backend (--backend xen), or publish a PVH build (docs/libvirt.md)",
        )
    if domain_type != XEN:
        problem = virtio_limits(len(needs.blocks), len(needs.networks))
        if problem is not None:
            raise BackendError(f"{svc.name}: the version it runs cannot boot under libvirt: {problem}")
    try:
        disks = tuple(disk_spec(vdev if domain_type == XEN else virtio_disk(vdev), d) for vdev, d in disk_vdevs(svc))
    except ValueError as e:
        raise BackendError(f"{svc.name}: {e}") from None
    return DomainSpec(
        name=svc.name,
        domain_type=domain_type,
        uuid=uuid,
        kernel=kernel,
        initrd=initrd,
        cmdline=cmdline(svc),
        memory=memory,
        serial_log=serial_log,
        metadata=metadata_of(svc, owner=owner, keys=keys or {}),
        on_poweroff=on_poweroff,
        on_reboot=on_reboot,
        on_crash=on_crash,
        disks=disks,
        nics=tuple(nic_spec(net, mac) for net, mac in zip(svc.networks, svc.macs, strict=True)),
    )
