"""The lab's test guest published as a signed `Virtio-x86_64` feed, and a ZEROXL_HOME pointed at the
private libvirtd: what the backend tests (test_libvirt_*.py) share.

The feed declares what the guest needs as a virtio unikernel would (shared/notes/mirage.md): its kernel
as the command, the initrd as a ramdisk, memory, one block device `storage` (mirage's first block: vda on
virtio), one network `service`, and the Mirage-style arguments the guest reads (README.md, "The test
guest").
"""

from __future__ import annotations

import contextlib
import gzip
import re
import subprocess
import textwrap
from pathlib import Path

import libvirt

from tests.labs.libvirt import lab
from tests.support.feeds import FeedSite, Impl

NS = "urn:x-0xl:service:1"
ARGS = (
    ("tag", "[a-z0-9-]{1,20}"),
    ("ip", r"[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}"),
    ("once", "yes|no"),
    ("exit", "[0-9]{1,3}"),
    ("acpi", "yes|no"),
)
METADATA_NS = "urn:x-0xl:libvirt:1"
POOL = "images"  # the storage pool of each remote host of the multi-host tests (conftest.py, hosts)


def needs_xml(*, network: bool = False, block: bool = True, memory: int = 128) -> str:
    parts = [f'<s:needs xmlns:s="{NS}" memory-min="64" memory="{memory}" ramdisk="initrd.img">']
    if block:
        parts.append('<s:block name="storage" min-size="32M"/>')
    if network:
        parts.append('<s:network name="service"/>')
    parts += [f'<s:arg name="{name}" pattern="{pattern}"/>' for name, pattern in ARGS]
    parts.append("</s:needs>")
    return "".join(parts)


def guest_files(image: lab.GuestImage, version: str) -> dict[str, tuple[bytes, int]]:
    return {
        "guest.virtio": (image.kernel.read_bytes(), 0o644),
        "initrd.img": (image.initrd.read_bytes(), 0o644),
        "VERSION": (f"{version}\n".encode(), 0o644),  # so that each version has contents of its own
    }


def guest_impl(image: lab.GuestImage, version: str = "1.0", **needs: bool | int) -> Impl:
    return Impl(
        version,
        files=guest_files(image, version),
        arch="Virtio-x86_64",
        command="guest.virtio",
        needs_xml=needs_xml(**needs),  # type: ignore[arg-type]
    )


def publish(site: FeedSite, image: lab.GuestImage, *versions: str, name: str = "guest", **needs: bool | int) -> str:
    return site.publish(name, [guest_impl(image, v, **needs) for v in versions or ("1.0",)])


def configure(home: Path, uri: str, extra: str = "") -> None:
    """ZEROXL_HOME's config.toml: the private daemon, QEMU's software CPU, a short stop timeout."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)  # as 0xl makes it (docs/home.md)
    (home / "config.toml").write_text(
        textwrap.dedent(f"""\
            [libvirt]
            uri = "{uri}"
            domain_type = "qemu"
            stop_timeout = 2
            """)
        + textwrap.dedent(extra)
    )


def clean_daemon(conn: libvirt.virConnect) -> None:
    """Remove what a test left in the session's daemon: 0xl's domains and its default pool (not the pool's
    files, which are in the test's ZEROXL_HOME)."""
    for dom in conn.listAllDomains():
        if METADATA_NS in dom.XMLDesc(0):
            with contextlib.suppress(libvirt.libvirtError):
                if dom.isActive():
                    dom.destroy()
            with contextlib.suppress(libvirt.libvirtError):
                dom.undefine()
    for pool in conn.listAllStoragePools():
        if pool.name().startswith("0xl"):
            with contextlib.suppress(libvirt.libvirtError):
                if pool.isActive():
                    pool.destroy()
            with contextlib.suppress(libvirt.libvirtError):
                pool.undefine()


def metadata(dom: libvirt.virDomain) -> dict[str, str]:
    text = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, 0)
    return dict(re.findall(r"<(?:\w+:)?(name|feed|version|digest)>([^<]*)</", text))


# A broken build of the guest, for an update that must fail its health check: its init says so on the
# console and exits as a Solo5 unikernel does (status 3), before touching its disk.
BROKEN_RCS = """\
#!/bin/sh
mount -t devtmpfs devtmpfs /dev
[ -c /dev/ttyS0 ] && exec > /dev/ttyS0 2>&1
echo "0XL-LIBVIRT-GUEST-BROKEN"
echo "Solo5: solo5_exit(3) called"
echo "Solo5: Halted"
halt -f
"""


def broken_impl(image: lab.GuestImage, version: str, scratch: Path, **needs: bool | int) -> Impl:
    """The guest with a second initramfs archive appended that replaces /etc/init.d/rcS: the kernel unpacks
    concatenated archives in order, so the later file wins."""
    tree = scratch / f"broken-{version}"
    rcs = tree / "etc" / "init.d" / "rcS"
    rcs.parent.mkdir(parents=True, exist_ok=True)
    rcs.write_text(BROKEN_RCS)
    rcs.chmod(0o755)
    cpio = subprocess.run(
        ["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"],
        input=b"etc\netc/init.d\netc/init.d/rcS\n",
        cwd=tree,
        capture_output=True,
        check=True,
    ).stdout
    impl = guest_impl(image, version, **needs)
    impl.files["initrd.img"] = (image.initrd.read_bytes() + gzip.compress(cpio, mtime=0), 0o644)
    return impl


def volumes(conn: libvirt.virConnect) -> dict[str, str]:
    pool = conn.storagePoolLookupByName(POOL)
    pool.refresh(0)
    return {v.name(): v.path() for v in pool.listAllVolumes(0)}
