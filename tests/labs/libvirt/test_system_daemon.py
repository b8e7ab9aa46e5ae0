"""The lab against a real, private libvirtd as root: the test guest defined from XML (validated), booted,
its console read from libvirt's serial log, its disk kept across two boots, its NIC on an isolated
network, the stop policy for a guest without ACPI power-off, and volume upload through a storage pool.
This is what the libvirt backend (issue 12) is tested on; see README.md."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest
from defusedxml import ElementTree

from tests.labs.libvirt import guest, lab
from tests.labs.libvirt.support import defined_domain, download, sha256, stop_domain, upload, wait_for_state

pytestmark = pytest.mark.libvirt

NETWORK = "0xl-lab-isolated"
MAC = "52:54:00:0a:00:02"


@pytest.fixture(scope="module")
def conn(libvirt_daemon: lab.SystemDaemon) -> Iterator[libvirt.virConnect]:
    connection = libvirt.open(libvirt_daemon.uri)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture(scope="module")
def isolated_network(conn: libvirt.virConnect) -> Iterator[str]:
    """A libvirt network with no <forward> and no <ip>: a bridge with no address and no DHCP, in the
    daemon's own network namespace. Guests on it reach nothing and nothing reaches them."""
    network = conn.networkDefineXML(
        f"<network><name>{NETWORK}</name><bridge name='lab0' stp='off' delay='0'/></network>"
    )
    network.create()
    try:
        yield NETWORK
    finally:
        network.destroy()
        network.undefine()


def _disk(path: Path, size: int = 1 << 20) -> Path:
    with path.open("wb") as f:
        f.truncate(size)
    return path


def test_the_daemon_is_private_and_uses_the_software_cpu(
    conn: libvirt.virConnect, libvirt_daemon: lab.SystemDaemon
) -> None:
    assert conn.getType() == "QEMU"
    assert libvirt_daemon.uri.startswith("qemu:///system?socket=")
    assert str(libvirt_daemon.root) in conn.getURI()
    guest_types = ElementTree.fromstring(conn.getCapabilities()).findall(
        "guest/arch[@name='x86_64']/domain[@type='qemu']"
    )
    assert guest_types, "QEMU's software CPU is not offered"
    # Everything the daemon runs is in its own network namespace, ended by stop().
    assert len(libvirt_daemon.pids()) >= 2  # virtlogd and libvirtd


def _cgroups(pid: int) -> str:
    return Path(f"/proc/{pid}/cgroup").read_text()


def test_guest_keeps_its_disk_across_two_boots_and_reports_its_nic(
    conn: libvirt.virConnect, guest_image: lab.GuestImage, isolated_network: str, tmp_path: Path,
    *, libvirt_daemon: lab.SystemDaemon, lab_timings: dict[str, list[float]],
) -> None:  # fmt: skip
    disk = _disk(tmp_path / "data.raw")
    for boot in (1, 2):
        console = guest.Console(tmp_path / f"console-{boot}.log")
        xml = guest.domain_xml(
            "lab-guest", guest_image, args=["--tag=first"], serial_log=console.path, disk=disk,
            nics=[guest.Nic("network", isolated_network, MAC)],
        )  # fmt: skip
        started = time.monotonic()
        with defined_domain(conn, xml) as domain:
            lab_timings.setdefault("define (validated)", []).append(time.monotonic() - started)
            assert domain.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
            assert domain.name() in [d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE)]
            started = time.monotonic()
            domain.create()
            lab_timings.setdefault("create()", []).append(time.monotonic() - started)
            console.wait_for(rf"^{guest.PREFIX}-UP tag=first boot={boot}$")
            lab_timings.setdefault("create() to the console's UP line", []).append(time.monotonic() - started)
            console.wait_for(rf"^{guest.PREFIX}-READY ")
            previous = console.wait_for(rf"^{guest.PREFIX}-PREVIOUS (.*)$").group(1)
            if boot == 1:
                assert previous == "none"
            else:
                assert previous == f"{guest.PREFIX}-DISK boot=1 state=up tag=first"
            assert console.nics() == [{"index": "0", "name": "eth0", "mac": MAC}]
            console.wait_for(rf"^{guest.PREFIX}-NICS count=1$")
            if boot == 1:
                # No cgroup of libvirt's own (qemu.conf has no controllers): QEMU stays in libvirtd's.
                qemu = int((libvirt_daemon.root / "fs/run/libvirt/qemu/lab-guest.pid").read_text())
                libvirtd = int((libvirt_daemon.root / "libvirtd.pid").read_text())
                assert _cgroups(qemu) == _cgroups(libvirtd)
            started = time.monotonic()
            # No ACPI here, as for a virtio unikernel: the shutdown request is ignored, destroy ends it.
            assert stop_domain(domain, timeout=3) == "destroyed"
            lab_timings.setdefault("stop (3 s shutdown wait, then destroy)", []).append(time.monotonic() - started)
        assert guest.disk_marker(disk) == (boot, "up", "first")
    assert "lab-guest" not in [d.name() for d in conn.listAllDomains()]


def test_validation_refuses_an_element_that_plain_define_drops(
    conn: libvirt.virConnect, guest_image: lab.GuestImage, tmp_path: Path
) -> None:
    xml = guest.domain_xml("lab-invalid", guest_image, serial_log=tmp_path / "console.log")
    invalid = xml.replace("<devices>", "<devices><not-a-device/>")
    with pytest.raises(libvirt.libvirtError, match="(?i)schema|relax|element"):
        conn.defineXMLFlags(invalid, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    domain = conn.defineXML(invalid)  # without the flag libvirt drops what it does not know
    try:
        assert "not-a-device" not in domain.XMLDesc()
    finally:
        domain.undefine()


def test_guest_with_acpi_shuts_down_cleanly_and_marks_its_disk(
    conn: libvirt.virConnect, guest_image: lab.GuestImage, tmp_path: Path, lab_timings: dict[str, list[float]]
) -> None:
    disk = _disk(tmp_path / "data.raw")
    console = guest.Console(tmp_path / "console.log")
    xml = guest.domain_xml(
        "lab-acpi", guest_image, args=["--tag=acpi", "--acpi"], serial_log=console.path, disk=disk, acpi=True
    )
    with defined_domain(conn, xml) as domain:
        domain.create()
        console.wait_for(rf"^{guest.PREFIX}-ACPI power-button=yes$")
        console.wait_for(rf"^{guest.PREFIX}-READY ")
        started = time.monotonic()
        assert stop_domain(domain, timeout=60) == "shutdown"
        lab_timings.setdefault("shutdown() of a guest with --acpi, to shut off", []).append(time.monotonic() - started)
        assert domain.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN]
        console.wait_for(rf"^{guest.PREFIX}-DOWN tag=acpi boot=1$", timeout=5)
    assert guest.disk_marker(disk) == (1, "down", "acpi")


def test_argument_error_exits_64_and_halts_like_a_virtio_unikernel(
    conn: libvirt.virConnect, guest_image: lab.GuestImage, tmp_path: Path
) -> None:
    disk = _disk(tmp_path / "data.raw")
    console = guest.Console(tmp_path / "console.log")
    xml = guest.domain_xml(
        "lab-bad-arg", guest_image, args=["--tag=bad", "--no-such-option=1"], serial_log=console.path, disk=disk
    )
    with defined_domain(conn, xml) as domain:
        domain.create()
        console.wait_for(r"^Solo5: Halted$")
        lines = console.lines()
        assert f"{guest.PREFIX}-ERROR unknown option '--no-such-option'" in lines
        assert "Solo5: solo5_exit(64) called" in lines
        assert not [line for line in lines if line.startswith(f"{guest.PREFIX}-UP")]
        # The CPU is halted but, as for Solo5 on virtio, libvirt still sees a running domain.
        time.sleep(1)
        assert domain.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert guest.disk_marker(disk) is None  # an argument error comes before any device is used


def test_guest_exit_status_is_on_its_console_and_acpi_powers_it_off(
    conn: libvirt.virConnect, guest_image: lab.GuestImage, tmp_path: Path
) -> None:
    console = guest.Console(tmp_path / "console.log")
    xml = guest.domain_xml("lab-exit", guest_image, args=["--exit=3", "--acpi"], serial_log=console.path, acpi=True)
    with defined_domain(conn, xml) as domain:
        domain.create()
        console.wait_for(r"^Solo5: solo5_exit\(3\) called$")
        assert wait_for_state(domain, libvirt.VIR_DOMAIN_SHUTOFF, 30), "the guest did not power off"
    assert "Solo5: Halted" not in console.lines()


def test_guest_answers_on_a_bridge_in_the_daemons_network_namespace(
    conn: libvirt.virConnect, guest_image: lab.GuestImage, libvirt_daemon: lab.SystemDaemon, tmp_path: Path
) -> None:
    bridge = f"br{secrets.token_hex(3)}"
    libvirt_daemon.netns_run("ip", "link", "add", bridge, "type", "bridge")
    try:
        libvirt_daemon.netns_run("ip", "addr", "add", "10.0.0.1/24", "dev", bridge)
        libvirt_daemon.netns_run("ip", "link", "set", bridge, "up")
        console = guest.Console(tmp_path / "console.log")
        xml = guest.domain_xml(
            "lab-net", guest_image, args=["--tag=net", "--ip=10.0.0.2/24"], serial_log=console.path,
            nics=[guest.Nic("bridge", bridge, MAC)],
        )  # fmt: skip
        with defined_domain(conn, xml) as domain:
            domain.create()
            console.wait_for(rf"^{guest.PREFIX}-NET 10.0.0.2/24$")
            answer = libvirt_daemon.http_get("http://10.0.0.2/")
            assert answer.stdout.strip() == f"{guest.PREFIX}-UP tag=net boot=1", answer.stderr
            target = ElementTree.fromstring(domain.XMLDesc()).find("devices/interface/target")
            assert target is not None
            tap = target.get("dev", "")
            assert bridge in libvirt_daemon.netns_run("ip", "-o", "link", "show", "dev", tap).stdout
        # The bridge is in the daemon's namespace, not on this host.
        assert not Path(f"/sys/class/net/{bridge}").exists()
    finally:
        libvirt_daemon.netns_run("ip", "link", "delete", bridge, check=False)


def test_volume_upload_reads_back_with_the_same_digest(
    conn: libvirt.virConnect, tmp_path: Path, lab_timings: dict[str, list[float]]
) -> None:
    pool_dir = tmp_path / "pool"
    pool_dir.mkdir()
    pool = conn.storagePoolCreateXML(
        f"<pool type='dir'><name>lab-pool</name><target><path>{pool_dir}</path></target></pool>", 0
    )
    try:
        data = os.urandom(32 << 20)
        volume = pool.createXML(
            f"<volume><name>blob</name><capacity unit='bytes'>{len(data)}</capacity>"
            "<target><format type='raw'/></target></volume>",
            0,
        )
        started = time.monotonic()
        upload(conn, volume, data)
        lab_timings.setdefault("volume upload, MiB/s", []).append(32 / (time.monotonic() - started))
        assert sha256(download(conn, volume)) == sha256(data)
        assert sha256((pool_dir / "blob").read_bytes()) == sha256(data)
        assert volume.info()[1] == len(data)
        volume.delete(0)
    finally:
        pool.destroy()
