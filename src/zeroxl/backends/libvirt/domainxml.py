"""libvirt domain XML, written by 0xl alone from typed values: a pure function, no IO.

The document is built as an ElementTree: every element and attribute is 0xl's own, named in this file,
and a value is only ever an element's text or an attribute's value, which ElementTree escapes. So no
value, whoever chose it (a feed, the operator, ZEROXL_HOME's path), can add an element or an attribute
(tests/unit/test_libvirt_domainxml.py checks it with generated values). Every value is also checked
against its own narrow form before it is written, as for xl.cfg (backends/xen/cfgfile.py), so that what
reaches the hypervisor means only what 0xl meant:

- the kernel command line is a list of `--NAME=VALUE` words, each value without blanks (a blank would
  start another kernel parameter), quotes, backslashes or control characters;
- paths are absolute, without control characters; names, bridges, MACs, numbers and actions have their
  own forms; text that XML 1.0 cannot hold (most control characters) is refused, never dropped.

Two forms, by the domain type: `kvm`/`qemu` (a Virtio-x86_64 kernel that QEMU boots: virtio disks and
NICs, the console on a serial port written to a file by libvirt), and `xen` (a Xen-x86_64 kernel through
libvirt's Xen driver, libxl: a PVH guest, disks at the Xen disks xvdb… as xl would attach them, the console
the PV one that xenconsoled logs, as for the xl backend).

0xl's record of what runs (service, feed, version, digest), whose it is and the operator's choices are in
`<metadata>`, in 0xl's namespace (METADATA_NS; its form: metadata.py), so that a person using virsh sees
it (`virsh metadata NAME urn:x-0xl:libvirt:1`) and another operator's machine can adopt the domain.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

from zeroxl.backends.libvirt import metadata
from zeroxl.backends.libvirt.metadata import METADATA_NS, Metadata
from zeroxl.errors import SettingError
from zeroxl.host.names import ARG_NAME, BRIDGE_NAME, SERVICE_NAME

__all__ = ["METADATA_NS", "DiskSpec", "DomainSpec", "Metadata", "NicSpec", "read_metadata", "render"]
DOMAIN_TYPES = ("kvm", "qemu", "xen")
XEN = "xen"
ACTIONS = ("destroy", "restart", "preserve")
MAX_CMDLINE = 2048  # Linux's COMMAND_LINE_SIZE on x86
MAX_MEMORY = 1 << 20  # MiB
MAX_VCPUS = 128
NIC_KINDS = ("bridge", "network")
DISK_KINDS = ("volume", "file", "block")
XEN_DISK_KINDS = ("file", "block")  # the backend gives a Xen domain its volumes' paths (libxl takes paths)

_ARG_VALUE = re.compile(r"[!#-&(-\[\]-~]{0,4096}")  # printable ASCII without the blank, quotes, backslash
_MAC = re.compile(r"[0-9a-f][02468ace](:[0-9a-f]{2}){5}")  # unicast, lower case
_DEV = re.compile(r"vd[a-z]")
_XEN_DEV = re.compile(r"xvd[a-z]")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_POOL = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_VOLUME = re.compile(r"0xl-[a-z0-9-]{1,31}-[a-z0-9_]{1,16}")
# What XML 1.0 can hold, less the other control characters (a path or a URL has no use for them).
_TEXT = metadata.TEXT



class DomainXmlError(SettingError):
    """A value of the service's cannot be written into its domain XML as itself."""


@dataclass(frozen=True)
class DiskSpec:
    dev: str  # the disk it appears at: vda, vdb, … (virtio); xvdb, xvdc, … (xen)
    kind: str  # volume (a storage volume: source pool/volume), file (a path) or block (a device's path)
    source: str  # POOL/VOLUME for a volume, an absolute path otherwise


@dataclass(frozen=True)
class NicSpec:
    kind: str  # bridge or network (a libvirt network)
    source: str
    mac: str


@dataclass(frozen=True)
class DomainSpec:
    name: str
    domain_type: str  # kvm or qemu (a virtio guest), or xen (a PVH guest through libxl)
    kernel: str  # absolute path
    memory: int  # MiB
    metadata: Metadata
    serial_log: str  # absolute path: the first serial port, written there by libvirt (not xen: xenconsoled
    # writes a Xen guest's console, named after the domain)
    initrd: str | None = None
    cmdline: tuple[tuple[str, str], ...] = ()  # (NAME, VALUE) pairs, written as --NAME=VALUE
    vcpus: int = 1
    uuid: str | None = None  # the domain's, when it is defined again
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "restart"
    disks: tuple[DiskSpec, ...] = ()
    nics: tuple[NicSpec, ...] = ()


def render(spec: DomainSpec) -> str:
    """The domain XML for SPEC, or DomainXmlError naming the first value that cannot be written."""
    domain = ET.Element("domain", type=_one_of(spec.domain_type, DOMAIN_TYPES, "domain type"))
    ET.SubElement(domain, "name").text = _check(SERVICE_NAME.fits, spec.name, "name")
    if spec.uuid is not None:
        ET.SubElement(domain, "uuid").text = _check(_UUID.fullmatch, spec.uuid, "uuid")
    ET.SubElement(domain, "title").text = f"0xl service {spec.name}"
    ET.SubElement(domain, "description").text = (
        f"Written by 0xl, which defines it again at every start: edits are lost. `0xl config {spec.name}` "
        "shows what it would write now."
    )
    _metadata(ET.SubElement(domain, "metadata"), spec.metadata)
    ET.SubElement(domain, "memory", unit="MiB").text = _number(spec.memory, 1, MAX_MEMORY, "memory")
    ET.SubElement(domain, "vcpu").text = _number(spec.vcpus, 1, MAX_VCPUS, "vcpus")
    xen = spec.domain_type == XEN
    os_ = ET.SubElement(domain, "os")
    if xen:
        ET.SubElement(os_, "type", arch="x86_64", machine="xenpvh").text = "xenpvh"
    else:
        ET.SubElement(os_, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_, "kernel").text = _path(spec.kernel, "kernel")
    if spec.initrd is not None:
        ET.SubElement(os_, "initrd").text = _path(spec.initrd, "initrd")
    ET.SubElement(os_, "cmdline").text = _cmdline(spec.cmdline)
    if not xen:  # a Xen guest is asked to stop through xenstore, which mirage's Xen platform reads
        # ACPI lets a guest that handles the power button (a Linux kernel) stop cleanly on `0xl stop`; a
        # virtio unikernel ignores it, and is destroyed after the stop timeout.
        ET.SubElement(ET.SubElement(domain, "features"), "acpi")
    ET.SubElement(domain, "on_poweroff").text = _one_of(spec.on_poweroff, ACTIONS, "on_poweroff")
    ET.SubElement(domain, "on_reboot").text = _one_of(spec.on_reboot, ACTIONS, "on_reboot")
    ET.SubElement(domain, "on_crash").text = _one_of(spec.on_crash, ACTIONS, "on_crash")
    devices = ET.SubElement(domain, "devices")
    _unique([d.dev for d in spec.disks], "disk device")
    _unique([n.mac for n in spec.nics], "MAC")
    for disk in spec.disks:
        if xen:
            _xen_disk(devices, disk)
        else:
            _disk(devices, disk)
    for nic in spec.nics:
        _nic(devices, nic, model=None if xen else "virtio")
    if xen:
        console = ET.SubElement(devices, "console", type="pty")
        ET.SubElement(console, "target", type="xen", port="0")
        ET.indent(domain)
        return ET.tostring(domain, encoding="unicode") + "\n"
    serial = ET.SubElement(devices, "serial", type="file")
    # append: the console of every run stays in the one file `0xl logs` shows; the backend notes where
    # each run starts in it.
    ET.SubElement(serial, "source", path=_path(spec.serial_log, "console log"), append="on")
    ET.SubElement(serial, "target", port="0")
    # libvirt adds a virtio balloon by default: one more device, which a unikernel has no driver for.
    ET.SubElement(devices, "memballoon", model="none")
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode") + "\n"


def _metadata(parent: ET.Element, meta: Metadata) -> None:
    try:
        metadata.write(parent, meta)
    except metadata.MetadataError as e:
        raise DomainXmlError(e.message) from None


def read_metadata(xml_text: str) -> Metadata | None:
    """0xl's metadata in a domain's XML (as libvirt returns it), or None if 0xl did not write any."""
    return metadata.read(xml_text)


def _disk(devices: ET.Element, d: DiskSpec) -> None:
    kind = _one_of(d.kind, DISK_KINDS, "disk kind")
    element = ET.SubElement(devices, "disk", type=kind, device="disk")
    ET.SubElement(element, "driver", name="qemu", type="raw")
    if kind == "volume":
        pool, sep, volume = d.source.partition("/")
        if not sep or not _POOL.fullmatch(pool) or not _VOLUME.fullmatch(volume):
            raise DomainXmlError(f"domain XML: {d.source!r} is not a storage volume 0xl makes (POOL/0xl-SERVICE-DISK)")
        ET.SubElement(element, "source", pool=pool, volume=volume)
    elif kind == "file":
        ET.SubElement(element, "source", file=_path(d.source, "disk"))
    else:
        ET.SubElement(element, "source", dev=_path(d.source, "disk"))
    ET.SubElement(element, "target", dev=_check(_DEV.fullmatch, d.dev, "a virtio disk"), bus="virtio")


def _xen_disk(devices: ET.Element, d: DiskSpec) -> None:
    # libxl's phy backend (blkback) takes a block device or, through the hotplug script's loop device, a
    # file: what xl does for the xen backend's disks, with no device model (QEMU) in dom0.
    kind = _one_of(d.kind, XEN_DISK_KINDS, "a Xen disk's kind")
    element = ET.SubElement(devices, "disk", type=kind, device="disk")
    ET.SubElement(element, "driver", name="phy", type="raw")
    ET.SubElement(element, "source", {"file" if kind == "file" else "dev": _path(d.source, "disk")})
    ET.SubElement(element, "target", dev=_check(_XEN_DEV.fullmatch, d.dev, "a Xen disk"), bus="xen")


def _nic(devices: ET.Element, n: NicSpec, *, model: str | None) -> None:
    kind = _one_of(n.kind, NIC_KINDS, "network kind")
    element = ET.SubElement(devices, "interface", type=kind)
    source = _check(BRIDGE_NAME.fits, n.source, f"a {kind} name")
    ET.SubElement(element, "source", {kind: source})
    ET.SubElement(element, "mac", address=_check(_MAC.fullmatch, n.mac, "a MAC"))
    if model is not None:  # a Xen guest's vif is netfront, libxl's only kind for a PVH guest
        ET.SubElement(element, "model", type=model)


def _check(fits: Callable[[str], object], value: str, key: str) -> str:
    if not isinstance(value, str) or not fits(value):
        raise DomainXmlError(f"domain XML: {value!r} cannot be written as {key}")
    return value


def _one_of(value: str, allowed: tuple[str, ...], key: str) -> str:
    if value not in allowed:
        raise DomainXmlError(f"domain XML: {key} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _number(value: int, low: int, high: int, key: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DomainXmlError(f"domain XML: {key} must be a whole number from {low} to {high}, not {value!r}")
    return str(value)


def _text(value: str, key: str) -> str:
    if not isinstance(value, str) or not _TEXT.fullmatch(value):
        raise DomainXmlError(f"domain XML: the {key} {value!r} holds characters 0xl does not write")
    return value


def _path(value: str, key: str) -> str:
    if not value.startswith("/") or len(value) > 4096:
        raise DomainXmlError(f"domain XML: the {key} path {value!r} is not absolute")
    return _text(value, f"{key} path")


def _cmdline(args: tuple[tuple[str, str], ...]) -> str:
    words = []
    for name, value in args:
        _check(ARG_NAME.fits, name, "a kernel command-line argument name")
        if not _ARG_VALUE.fullmatch(value):
            raise DomainXmlError(
                f"domain XML: the value of --{name} ({value!r}) cannot be written on the kernel command line",
                hint="a VM's argument values may not hold blanks, quotes, backslashes or control characters",
            )
        words.append(f"--{name}={value}")
    line = " ".join(words)
    if len(line) > MAX_CMDLINE:
        raise DomainXmlError(f"domain XML: the kernel command line would be {len(line)} characters, over {MAX_CMDLINE}")
    return line


def _unique(values: list[str], what: str) -> None:
    if len(set(values)) != len(values):
        raise DomainXmlError(f"domain XML: a {what} appears twice ({', '.join(sorted(values))})")


def interface_devices(xml_text: str) -> list[str]:
    """The host-side devices (vnet0, …) of a running domain's interfaces, as libvirt names them in its XML."""
    try:
        root = ET.fromstring(xml_text)  # noqa: S314 - libvirt's own answer about a domain, not outside input
    except ET.ParseError:
        return []
    return [dev for t in root.iterfind("devices/interface/target") if (dev := t.get("dev"))]
