"""The kernel and initrd as storage volumes (backends/libvirt/bootfiles.py): a QEMU that runs unprivileged,
as Debian's qemu:///system does, boots what 0xl uploaded into a pool, never its store under ZEROXL_HOME."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from tests.labs.libvirt import guest, lab, services
from tests.support.feeds import FeedSite
from tests.support.zx import snapshot

pytestmark = pytest.mark.libvirt

POOL = "images"


@pytest.fixture(scope="module")
def uconn(unprivileged_daemon: lab.SystemDaemon) -> Iterator[libvirt.virConnect]:
    connection = libvirt.open(unprivileged_daemon.uri)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def pool(uconn: libvirt.virConnect) -> Iterator[libvirt.virStoragePool]:
    """A pool QEMU can reach, as /var/lib/libvirt/images is on a real host (pytest's directories are 0700)."""
    where = Path(tempfile.mkdtemp(prefix="0xl-lv-pool-", dir="/tmp"))
    where.chmod(0o755)
    xml = f"<pool type='dir'><name>{POOL}</name><target><path>{where}</path></target></pool>"
    made = uconn.storagePoolCreateXML(xml, 0)
    try:
        yield made
    finally:
        for vol in made.listAllVolumes(0):
            vol.delete(0)
        made.destroy()
        where.rmdir()


@pytest.fixture
def uhome(zhome: Path, unprivileged_daemon: lab.SystemDaemon, uconn: libvirt.virConnect, pool: Any) -> Iterator[Path]:
    services.configure(zhome, unprivileged_daemon.uri, f'pool = "{POOL}"\n')
    try:
        yield zhome
    finally:
        services.clean_daemon(uconn)


def boot_volumes(pool: libvirt.virStoragePool) -> dict[str, str]:
    pool.refresh(0)
    return {v.name(): v.path() for v in pool.listAllVolumes(0) if v.name().startswith("0xl-boot.")}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_unprivileged_qemu_boots_the_kernel_and_initrd_from_volumes_shared_and_removed_when_unused(  # noqa: PLR0917
    uhome: Path,
    zx: Callable[..., Any],
    site: FeedSite,
    guest_image: lab.GuestImage,
    uconn: libvirt.virConnect,
    pool: libvirt.virStoragePool,
) -> None:
    url = services.publish(site, guest_image)
    fpr = site.publisher.fingerprint
    for name in ("web", "api"):
        r = zx(
            "add",
            name,
            url,
            "--trust-key",
            fpr,
            "--backend",
            "libvirt",
            "--arg",
            f"tag={name}",
            "--disk",
            "storage=32M",
        )
        assert r.rc == 0, r
    r = zx("run", "web")
    assert r.rc == 0, r
    guest.Console(uhome / "services" / "web" / "libvirt" / "console.log").wait_for(
        r"^0XL-LIBVIRT-GUEST-UP tag=web boot=1$"
    )
    qemu = [
        p
        for p in Path("/proc").glob("[0-9]*")
        if (p / "cmdline").exists() and b"guest=web" in (p / "cmdline").read_bytes()
    ]
    assert qemu and all((p / "status").read_text().count("Uid:\t0\t") == 0 for p in qemu)  # not root
    kernel, initrd = sha256(guest_image.kernel), sha256(guest_image.initrd)
    volumes = boot_volumes(pool)
    assert set(volumes) == {f"0xl-boot.{kernel}", f"0xl-boot.{initrd}"}  # uploaded once, for both services
    for name in ("web", "api"):
        xml = uconn.lookupByName(name).XMLDesc(0)
        assert f"<kernel>{volumes['0xl-boot.' + kernel]}</kernel>" in xml
        assert f"<initrd>{volumes['0xl-boot.' + initrd]}</initrd>" in xml
        assert str(uhome) not in xml.split("<devices>")[0]  # nothing boots from the store
    assert hashlib.sha256(Path(volumes["0xl-boot." + kernel]).read_bytes()).hexdigest() == kernel

    assert zx("destroy", "web").rc == 0
    assert set(boot_volumes(pool)) == {f"0xl-boot.{kernel}", f"0xl-boot.{initrd}"}  # api boots from them
    assert zx("destroy", "api").rc == 0
    assert boot_volumes(pool) == {}  # no service boots from them any more


def test_a_boot_volume_that_is_not_its_file_is_uploaded_again(
    uhome: Path, zx: Callable[..., Any], site: FeedSite, guest_image: lab.GuestImage, pool: libvirt.virStoragePool
) -> None:
    """A killed upload leaves a volume of the right name and size, without the right contents."""
    url = services.publish(site, guest_image, block=False)
    kernel = sha256(guest_image.kernel)
    size = guest_image.kernel.stat().st_size
    pool.createXML(f"<volume><name>0xl-boot.{kernel}</name><capacity unit='bytes'>{size}</capacity></volume>", 0)
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--backend", "libvirt", "--arg", "tag=web")
    assert r.rc == 0, r
    assert sha256(Path(boot_volumes(pool)[f"0xl-boot.{kernel}"])) == kernel
    assert zx("destroy", "web").rc == 0


def test_a_corrupted_upload_is_refused_and_nothing_is_left(  # noqa: PLR0917
    uhome: Path,
    zxi: Callable[..., Any],
    site: FeedSite,
    guest_image: lab.GuestImage,
    uconn: libvirt.virConnect,
    pool: libvirt.virStoragePool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What is read back differs from what was sent: a failure a real host gives only by accident, injected
    by flipping one byte of the volume download stream (the upload and the daemon are real)."""
    from zeroxl.backends.libvirt import bootfiles

    real = bootfiles.read_back

    def corrupted(conn: Any, volume: Any) -> tuple[str, int]:
        class Flipping:
            def newStream(self, flags: int) -> Any:
                stream = conn.newStream(flags)
                recv_all = stream.recvAll

                def flipped(sink: Any, opaque: Any) -> None:
                    first = [True]

                    def flip(s: Any, data: bytes, o: Any) -> int:
                        if first[0] and data:
                            first[0] = False
                            data = bytes([data[0] ^ 1]) + data[1:]
                        return int(sink(s, data, o))

                    recv_all(flip, opaque)

                stream.recvAll = flipped
                return stream

        return real(Flipping(), volume)

    monkeypatch.setattr(bootfiles, "read_back", corrupted)
    url = services.publish(site, guest_image, block=False)
    before = snapshot(uhome)
    r = zxi("add", "web", url, "--trust-key", site.publisher.fingerprint, "--backend", "libvirt", "--arg", "tag=web")
    assert r.rc != 0, r
    assert "0xl: error: the kernel uploaded to images/0xl-boot." in r.err and "did not arrive intact" in r.err, r
    assert "its contents read back have the SHA-256" in r.err and "0xl: hint:" in r.err, r
    assert boot_volumes(pool) == {}
    assert "web" not in [d.name() for d in uconn.listAllDomains()]
    after = snapshot(uhome)
    after.pop("host-id")  # made once, by the first add, whatever happens next (MACs derive from it)
    assert after == before
