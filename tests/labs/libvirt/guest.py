"""The test guest as a libvirt domain: the domain XML, its console, its disk marker (README.md).

The XML is what a virtio unikernel gets from a host: direct kernel boot (`<os><kernel>`, `<initrd>`,
`<cmdline>` holding only `--key=value` arguments), QEMU's software CPU (`type='qemu'`), its disk as the
first virtio disk, virtio NICs, and the first serial port written to a file by libvirt.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.labs.libvirt.lab import GuestImage

PREFIX = "0XL-LIBVIRT-GUEST"
# A sector 0 that the guest wrote: 0XL-LIBVIRT-GUEST-DISK boot=N state=up|down tag=TAG
DISK_MARKER = re.compile(rf"^{PREFIX}-DISK boot=(\d+) state=(\w+) tag=(\S+)$")


@dataclass(frozen=True)
class Volume:
    """A disk that is a storage volume of the host's libvirt (`<disk type='volume'>`)."""

    pool: str
    name: str


@dataclass(frozen=True)
class Nic:
    """A virtio NIC: kind 'network' (source: a libvirt network), 'bridge' (source: a bridge), or 'user'
    (QEMU's own user-mode network; what a session daemon can give without a helper)."""

    kind: str
    source: str = ""
    mac: str = ""


def domain_xml(
    name: str,
    image: GuestImage,
    *,
    args: Sequence[str] = (),
    serial_log: Path,
    disk: Path | Volume | None = None,
    nics: Sequence[Nic] = (),
    acpi: bool = False,
    memory_mib: int = 128,
    kernel: Path | None = None,
    initrd: Path | None = None,
) -> str:
    """The domain XML of a guest `name` booting `image` with `args` (Mirage style, --key=value).

    `acpi` gives the machine ACPI (`<features><acpi/>`): the guest's --acpi needs it to see the power
    button and to power off. `kernel`/`initrd` override the image's paths (files uploaded to a pool)."""
    domain = ET.Element("domain", type="qemu")
    ET.SubElement(domain, "name").text = name
    ET.SubElement(domain, "memory", unit="MiB").text = str(memory_mib)
    ET.SubElement(domain, "vcpu").text = "1"
    os_ = ET.SubElement(domain, "os")
    ET.SubElement(os_, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_, "kernel").text = str(kernel or image.kernel)
    ET.SubElement(os_, "initrd").text = str(initrd or image.initrd)
    ET.SubElement(os_, "cmdline").text = " ".join(args)
    if acpi:
        ET.SubElement(ET.SubElement(domain, "features"), "acpi")
    ET.SubElement(domain, "on_poweroff").text = "destroy"
    ET.SubElement(domain, "on_reboot").text = "destroy"
    ET.SubElement(domain, "on_crash").text = "destroy"
    devices = ET.SubElement(domain, "devices")
    if isinstance(disk, Path):
        element = ET.SubElement(devices, "disk", type="file", device="disk")
        ET.SubElement(element, "driver", name="qemu", type="raw")
        ET.SubElement(element, "source", file=str(disk))
        ET.SubElement(element, "target", dev="vda", bus="virtio")
    elif isinstance(disk, Volume):
        element = ET.SubElement(devices, "disk", type="volume", device="disk")
        ET.SubElement(element, "driver", name="qemu", type="raw")
        ET.SubElement(element, "source", pool=disk.pool, volume=disk.name)
        ET.SubElement(element, "target", dev="vda", bus="virtio")
    for nic in nics:
        element = ET.SubElement(devices, "interface", type=nic.kind)
        if nic.kind == "network":
            ET.SubElement(element, "source", network=nic.source)
        elif nic.kind == "bridge":
            ET.SubElement(element, "source", bridge=nic.source)
        if nic.mac:
            ET.SubElement(element, "mac", address=nic.mac)
        ET.SubElement(element, "model", type="virtio")
    serial = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(serial, "source", path=str(serial_log), append="off")
    ET.SubElement(serial, "target", port="0")
    # No <memballoon> (libvirt adds a virtio balloon by default): a unikernel has no driver for it, and
    # it would be one more virtio device for the guest to probe.
    ET.SubElement(devices, "memballoon", model="none")
    return ET.tostring(domain, encoding="unicode")


class Console:
    """The guest's serial console as libvirt writes it to a file, read as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self) -> str:
        try:
            return self.path.read_bytes().decode(errors="replace").replace("\r", "")
        except FileNotFoundError:
            return ""

    def lines(self) -> list[str]:
        return self.text().splitlines()

    def wait_for(self, pattern: str, timeout: float = 120.0) -> re.Match[str]:
        """The first line that matches `pattern` (a regex searched in each line); raises TimeoutError with
        the console's text if none does within `timeout` seconds."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines():
                match = regex.search(line)
                if match:
                    return match
            if time.monotonic() > deadline:
                raise TimeoutError(f"no console line matched {pattern!r} in {timeout:.0f} s; console:\n{self.text()}")
            time.sleep(0.1)

    def nics(self) -> list[dict[str, str]]:
        """The guest's NIC lines (index, name, mac), as reported at boot."""
        found = []
        for line in self.lines():
            if line.startswith(f"{PREFIX}-NIC "):
                found.append(dict(word.split("=", 1) for word in line.split()[1:]))
        return found


def parse_marker(sector: bytes) -> tuple[int, str, str] | None:
    """(boot, state, tag) from the marker the guest writes in sector 0 of its disk, or None."""
    match = DISK_MARKER.match(sector[:512].rstrip(b"\0").decode(errors="replace").strip())
    return (int(match.group(1)), match.group(2), match.group(3)) if match else None


def disk_marker(disk: Path) -> tuple[int, str, str] | None:
    """parse_marker of a disk file on this machine."""
    with disk.open("rb") as f:
        return parse_marker(f.read(512))
