"""Two "remote" libvirt hosts reached over real SSH (remote.py): each a local user with its own
qemu:///session daemon behind its own sshd on 127.0.0.1. Everything goes through the remote URI, as a
multi-host client (issue 13) would do it: the kernel, initrd and a data disk are uploaded into a pool on
each host and read back by digest, the guest is defined there from those volumes, and its console (libvirt
writes it into the pool's directory) is read back through a volume download. A host whose daemon is killed
fails a connection quickly instead of hanging."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest
from defusedxml import ElementTree

from tests.labs.libvirt import guest, lab
from tests.labs.libvirt.remote import RemoteHost
from tests.labs.libvirt.support import defined_domain, download, sha256, upload

pytestmark = pytest.mark.libvirt

POOL = "lab"


def _open(uri: str) -> libvirt.virConnect:
    return libvirt.open(uri)


@pytest.fixture
def connections(ssh_hosts: tuple[RemoteHost, RemoteHost]) -> Iterator[list[libvirt.virConnect]]:
    opened = [_open(host.uri) for host in ssh_hosts]
    try:
        yield opened
    finally:
        for conn in opened:
            with contextlib.suppress(libvirt.libvirtError):
                conn.close()


def test_each_host_is_its_own_daemon_reached_over_ssh(
    ssh_hosts: tuple[RemoteHost, RemoteHost], lab_timings: dict[str, list[float]]
) -> None:
    for host in ssh_hosts:
        assert host.uri.startswith(f"qemu+ssh://{host.user}@127.0.0.1:{host.port}/session?")
        started = time.monotonic()
        conn = _open(host.uri)
        try:
            conn.getLibVersion()
            lab_timings.setdefault("ssh: open + first call + close", []).append(time.monotonic() - started)
            started = time.monotonic()
            for _ in range(10):
                conn.listAllDomains()
            lab_timings.setdefault("ssh: one call on an open connection, ms", []).append(
                (time.monotonic() - started) * 100
            )
            # A domain defined through this host's URI is seen by that user's daemon, and only there.
            xml = f"<domain type='qemu'><name>probe-{host.name}</name><memory unit='MiB'>16</memory><os><type>hvm</type></os></domain>"
            with defined_domain(conn, xml):
                for other in ssh_hosts:
                    names = other.as_user(
                        "virsh", "-q", "-c", "qemu:///session", "list", "--all", "--name"
                    ).stdout.split()
                    assert (f"probe-{host.name}" in names) == (other is host)
        finally:
            conn.close()
        started = time.monotonic()
        host.as_user("virsh", "-c", "qemu:///session", "list")
        lab_timings.setdefault("local virsh list as the host's user", []).append(time.monotonic() - started)


def _pool(conn: libvirt.virConnect, host: RemoteHost) -> libvirt.virStoragePool:
    # The directory does not exist on the host yet: WITH_BUILD makes it, through the API (no shell there).
    path = host.home / "pool"
    return conn.storagePoolCreateXML(
        f"<pool type='dir'><name>{POOL}</name><target><path>{path}</path></target></pool>",
        libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD,
    )


def _upload_file(
    conn: libvirt.virConnect, pool: libvirt.virStoragePool, name: str, data: bytes
) -> libvirt.virStorageVol:
    volume = pool.createXML(
        f"<volume><name>{name}</name><capacity unit='bytes'>{len(data)}</capacity>"
        "<target><format type='raw'/></target></volume>",
        0,
    )
    upload(conn, volume, data)
    assert sha256(download(conn, volume)) == sha256(data), f"{name} did not arrive whole"
    return volume


def _remote_console(conn: libvirt.virConnect, pool: libvirt.virStoragePool, name: str) -> str:
    """The guest's console log, which libvirt writes in the pool's directory, read through the API."""
    pool.refresh(0)
    return download(conn, pool.storageVolLookupByName(name)).decode(errors="replace").replace("\r", "")


def _wait_remote_console(conn, pool, name: str, line: str, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            text = _remote_console(conn, pool, name)
        except libvirt.libvirtError:
            text = ""
        if line in text.splitlines():
            return text
        if time.monotonic() > deadline:
            raise TimeoutError(f"no line {line!r} on the console within {timeout:.0f} s:\n{text}")
        time.sleep(0.3)


def test_guest_boots_on_each_host_from_volumes_uploaded_over_ssh(
    ssh_hosts: tuple[RemoteHost, RemoteHost], connections: list[libvirt.virConnect], guest_image: lab.GuestImage,
    lab_timings: dict[str, list[float]],
) -> None:  # fmt: skip
    kernel = guest_image.kernel.read_bytes()
    initrd = guest_image.initrd.read_bytes()
    pools, domains = [], []
    try:
        for host, conn in zip(ssh_hosts, connections, strict=True):
            pool = _pool(conn, host)
            pools.append(pool)
            started = time.monotonic()
            kernel_volume = _upload_file(conn, pool, "vmlinuz", kernel)
            initrd_volume = _upload_file(conn, pool, "initrd.img", initrd)
            seconds = time.monotonic() - started
            lab_timings.setdefault("ssh: upload + read back of kernel and initrd, MiB/s", []).append(
                2 * (len(kernel) + len(initrd)) / seconds / (1 << 20)
            )
            _upload_file(conn, pool, "data", bytes(1 << 20))
            xml = guest.domain_xml(
                f"lab-{host.name}", guest_image, args=[f"--tag={host.name}"],
                serial_log=Path(pool_path(pool)) / "console.log", disk=guest.Volume(POOL, "data"),
                nics=[guest.Nic("user")], kernel=Path(kernel_volume.path()), initrd=Path(initrd_volume.path()),
            )  # fmt: skip
            domain = conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
            domains.append(domain)
            domain.create()
        for host, conn, pool in zip(ssh_hosts, connections, pools, strict=True):
            text = _wait_remote_console(conn, pool, "console.log", f"{guest.PREFIX}-READY tag={host.name} boot=1")
            assert f"{guest.PREFIX}-NICS count=1" in text.splitlines()
        for conn, pool, domain in zip(connections, pools, domains, strict=True):
            domain.destroy()
            sector = download(conn, pool.storageVolLookupByName("data"), 512)
            assert guest.parse_marker(sector) == (1, "up", domain.name().removeprefix("lab-"))
    finally:
        for domain in domains:
            if domain.isActive():
                domain.destroy()
            domain.undefine()
        for pool in pools:
            for volume in pool.listAllVolumes():
                volume.delete(0)
            pool.destroy()


def pool_path(pool: libvirt.virStoragePool) -> str:
    path = ElementTree.fromstring(pool.XMLDesc()).findtext("target/path")
    assert path
    return str(path)


def test_a_killed_daemon_fails_a_connection_quickly_and_the_other_host_still_answers(
    ssh_hosts: tuple[RemoteHost, RemoteHost], lab_timings: dict[str, list[float]]
) -> None:
    dead, alive = ssh_hosts
    before = _open(dead.uri)
    dead.kill_daemon()
    try:
        outcome: list[BaseException | libvirt.virConnect] = []

        def attempt() -> None:
            try:
                outcome.append(_open(dead.uri))
            except libvirt.libvirtError as error:
                outcome.append(error)

        started = time.monotonic()
        thread = threading.Thread(target=attempt, daemon=True)
        thread.start()
        thread.join(timeout=60)
        assert not thread.is_alive(), "connecting to a host whose daemon is dead hung"
        lab_timings.setdefault("ssh: failed connection to a killed daemon", []).append(time.monotonic() - started)
        assert len(outcome) == 1 and isinstance(outcome[0], libvirt.libvirtError), outcome
        assert "cannot connect" in str(outcome[0])
        # A connection made before the kill fails its next call; it does not hang either.
        with pytest.raises(libvirt.libvirtError):
            before.listAllDomains()
        other = _open(alive.uri)
        assert other.listAllDomains() == []
        other.close()
    finally:
        dead.start_daemon()
    again = _open(dead.uri)
    assert again.listAllDomains() == []
    again.close()
