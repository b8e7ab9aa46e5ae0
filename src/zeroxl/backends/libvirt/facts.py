"""What a libvirt host says about itself, for `0xl host list` and placement: its hypervisor, its free
memory, and the services 0xl runs there (the domains with 0xl's metadata: the host is the truth)."""

from __future__ import annotations

from dataclasses import dataclass, field

from zeroxl.backends.libvirt import connection
from zeroxl.backends.libvirt.domainxml import read_metadata
from zeroxl.backends.libvirt.metadata import Metadata


@dataclass
class HostFacts:
    hypervisor: str  # libvirt's driver name: QEMU, Xen, …
    hostname: str
    memory_bytes: int
    free_memory_bytes: int
    services: list[str] = field(default_factory=list)


def probe(uri: str) -> HostFacts:
    """Asks the libvirt daemon at URI; BackendError if it cannot be reached."""
    with connection.connect(uri) as conn:
        hypervisor = str(connection.call("cannot ask the host its hypervisor", conn.getType))
        hostname = str(connection.call("cannot ask the host its name", conn.getHostname))
        info = connection.call("cannot ask the host its memory", conn.getInfo)
        free = int(connection.call("cannot ask the host its free memory", conn.getFreeMemory))
        services = []
        for dom in connection.call("cannot list the host's domains", conn.listAllDomains, 0):
            meta = read_metadata(str(connection.call("cannot read a domain", dom.XMLDesc, 0)))
            if meta is not None and meta.service == dom.name():
                services.append(meta.service)
    return HostFacts(hypervisor, hostname, int(info[1]) << 20, free, sorted(services))


@dataclass(frozen=True)
class Domain:
    """A domain 0xl defined on a host, as its metadata says (nothing in it is verified)."""

    name: str
    meta: Metadata
    active: bool


def domains(uri: str) -> list[Domain]:
    """The domains with 0xl's metadata naming them on the host at URI, by name; BackendError if unreachable."""
    found = []
    with connection.connect(uri) as conn:
        for dom in connection.call("cannot list the host's domains", conn.listAllDomains, 0):
            meta = read_metadata(str(connection.call("cannot read a domain", dom.XMLDesc, 0)))
            if meta is not None and meta.service == dom.name():
                found.append(Domain(meta.service, meta, bool(connection.call("cannot read a domain", dom.isActive))))
    return sorted(found, key=lambda d: d.name)
