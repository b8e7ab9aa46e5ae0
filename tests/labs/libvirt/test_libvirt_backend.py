"""The libvirt backend against the lab's private libvirtd and the virtio test guest (README.md): 0xl as its
users run it (a subprocess), the guest published as a signed Virtio-x86_64 feed served on 127.0.0.1."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import libvirt
import pytest

from tests.labs.libvirt import guest, lab, services, support
from tests.support.feeds import FeedSite
from tests.support.killing import Stoppable
from tests.support.zx import snapshot, wait_for

pytestmark = pytest.mark.libvirt


@pytest.fixture(scope="module")
def conn(libvirt_daemon: lab.SystemDaemon) -> Iterator[libvirt.virConnect]:
    connection = libvirt.open(libvirt_daemon.uri)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def home(zhome: Path, libvirt_daemon: lab.SystemDaemon, conn: libvirt.virConnect) -> Iterator[Path]:
    services.configure(zhome, libvirt_daemon.uri)
    try:
        yield zhome
    finally:
        services.clean_daemon(conn)


def console(home: Path, name: str) -> guest.Console:
    return guest.Console(home / "services" / name / "libvirt" / "console.log")


def test_add_defines_run_boots_logs_show_the_console_destroy_keeps_the_volume(
    home: Path, zx, site: FeedSite, guest_image: lab.GuestImage, conn: libvirt.virConnect
) -> None:
    url = services.publish(site, guest_image)
    r = zx(
        "add",
        "web",
        url,
        "--trust-key",
        site.publisher.fingerprint,
        "--backend",
        "libvirt",
        "--arg",
        "tag=web",
        "--disk",
        "storage=32M",
    )
    assert r.rc == 0, r
    dom = conn.lookupByName("web")  # defined at add: `virsh list --all` shows it
    assert not dom.isActive()
    record = json.loads((home / "services" / "web" / "service.json").read_text())
    assert services.metadata(dom) == {
        "name": "web",
        "feed": url,
        "version": "1.0",
        "digest": record["current"]["digest"],
    }
    r = zx("config", "web")
    assert r.rc == 0 and r.out.startswith('<domain xmlns:zeroxl="urn:x-0xl:libvirt:1" type="qemu">'), r
    assert f"<zeroxl:feed>{url}</zeroxl:feed>" in r.out and "<cmdline>--tag=web</cmdline>" in r.out, r
    r = zx("run", "web")
    assert r.rc == 0, r
    assert dom.isActive()
    console(home, "web").wait_for(r"^0XL-LIBVIRT-GUEST-UP tag=web boot=1$")
    r = zx("logs", "web")
    assert "0XL-LIBVIRT-GUEST-UP tag=web boot=1" in r.out, r
    r = zx("status", "web", "--json")
    assert r.rc == 0, r
    print(r.out)
    r = zx("stop", "web")
    assert r.rc == 0, r
    assert not dom.isActive()
    r = zx("destroy", "web")
    assert r.rc == 0, r
    assert "web" not in [d.name() for d in conn.listAllDomains()]
    r = zx("disk", "list")
    assert "0xl-web-storage" in r.out, r


READY = ["--ready-log", "^0XL-LIBVIRT-GUEST-READY", "--ready-timeout", "120", "--settle", "1"]


def boots(home: Path, name: str) -> list[int]:
    """The boot numbers the guest's disk marker counted, from the console, in order."""
    return [
        int(line.split("boot=")[1]) for line in console(home, name).lines() if line.startswith("0XL-LIBVIRT-GUEST-UP")
    ]


def test_disk_data_survive_stop_run_update_rollback_and_a_broken_version_rolled_back(  # noqa: PLR0917 - the lab's fixtures
    home: Path, zx, site: FeedSite, guest_image: lab.GuestImage, conn: libvirt.virConnect, tmp_path: Path
) -> None:
    url = services.publish(site, guest_image, "1.0")
    fpr = site.publisher.fingerprint
    r = zx("add", "db", url, "--trust-key", fpr, "--backend", "libvirt", "--arg", "tag=db", "--disk", "storage=32M")
    assert r.rc == 0, r
    assert zx("run", "db").rc == 0
    console(home, "db").wait_for(r"^0XL-LIBVIRT-GUEST-READY tag=db boot=1$")
    assert zx("stop", "db").rc == 0
    assert zx("run", "db").rc == 0
    console(home, "db").wait_for(r"^0XL-LIBVIRT-GUEST-READY tag=db boot=2$")
    console(home, "db").wait_for(r"^0XL-LIBVIRT-GUEST-PREVIOUS 0XL-LIBVIRT-GUEST-DISK boot=1 state=up tag=db$")

    site.publish("guest", [services.guest_impl(guest_image, "1.0"), services.guest_impl(guest_image, "2.0")])
    r = zx("update", "db", *READY, timeout=300)
    assert r.rc == 0, r
    console(home, "db").wait_for(r"^0XL-LIBVIRT-GUEST-READY tag=db boot=3$")
    assert services.metadata(conn.lookupByName("db"))["version"] == "2.0"

    r = zx("rollback", "db", *READY, timeout=300)
    assert r.rc == 0, r
    console(home, "db").wait_for(r"^0XL-LIBVIRT-GUEST-READY tag=db boot=4$")
    assert services.metadata(conn.lookupByName("db"))["version"] == "1.0"

    impls = [services.guest_impl(guest_image, v) for v in ("1.0", "2.0")]
    site.publish("guest", [*impls, services.broken_impl(guest_image, "3.0", tmp_path)])
    r = zx("update", "db", *READY, timeout=300)
    assert r.rc != 0, r
    assert "rolled back" in r.err or "rolled back" in r.out, r
    # Found from the console at once (libvirt still says "running": the unikernel halted its CPU), not after
    # the ready timeout.
    assert "exited with status 3" in r.err, r
    assert "0XL-LIBVIRT-GUEST-BROKEN" in console(home, "db").text()
    # Back on the version it ran before, on the same disk: the broken one never wrote it.
    console(home, "db").wait_for(r"^0XL-LIBVIRT-GUEST-READY tag=db boot=5$")
    assert boots(home, "db") == [1, 2, 3, 4, 5]
    status = json.loads(zx("status", "db", "--json").out)
    # 3.0 was tried from 1.0 (2.0 was rolled back from, so update passes it over without --retry).
    assert (status["state"], status["version"]) == ("running", "1.0"), status
    assert services.metadata(conn.lookupByName("db"))["version"] == "1.0"
    history = zx("history", "db").out
    assert "3.0" in history, history


def add(zx, site: FeedSite, name: str, url: str, *extra: str):
    return zx(
        "add",
        name,
        url,
        "--trust-key",
        site.publisher.fingerprint,
        "--backend",
        "libvirt",
        "--arg",
        f"tag={name}",
        *extra,
    )


def test_destroy_keeps_the_volume_add_reuses_it_delete_disks_deletes_it_and_a_volume_not_0xls_is_left_alone(
    home: Path, zx, site: FeedSite, guest_image: lab.GuestImage, conn: libvirt.virConnect
) -> None:
    url = services.publish(site, guest_image)
    assert add(zx, site, "mail", url, "--disk", "storage=32M").rc == 0
    pool = conn.storagePoolLookupByName("0xl")
    assert pool.storageVolLookupByName("0xl-mail-storage").info()[1] == 32 << 20
    assert zx("destroy", "mail").rc == 0
    assert "0xl-mail-storage" in pool.listVolumes()
    assert "mail" in zx("disk", "list").out

    r = add(zx, site, "mail", url, "--disk", "storage=32M")
    assert r.rc == 0, r
    assert "reusing the kept disk storage of mail" in r.err + r.out, r
    r = zx("destroy", "mail", "--delete-disks")
    assert r.rc == 0, r
    pool.refresh(0)
    assert "0xl-mail-storage" not in pool.listVolumes()

    # A volume of the name 0xl would make, made by someone else: add refuses it and leaves it be.
    pool.createXML("<volume><name>0xl-news-storage</name><capacity unit='M'>1</capacity></volume>", 0)
    before = snapshot(home)
    r = add(zx, site, "news", url, "--disk", "storage=32M")
    assert r.rc != 0 and "not one 0xl made" in r.err, r
    assert "0xl-news-storage" in pool.listVolumes()
    assert snapshot(home) == before
    assert "news" not in [d.name() for d in conn.listAllDomains()]
    # ... and `0xl disk list` does not show it as 0xl's.
    assert "news" not in zx("disk", "list").out
    pool.storageVolLookupByName("0xl-news-storage").delete(0)


def test_a_domain_0xl_did_not_define_is_left_alone(  # noqa: PLR0917 - the lab's fixtures
    home: Path, zx, site: FeedSite, guest_image: lab.GuestImage, conn: libvirt.virConnect, tmp_path: Path
) -> None:
    url = services.publish(site, guest_image)
    xml = guest.domain_xml("blog", guest_image, serial_log=tmp_path / "blog.log")
    with support.defined_domain(conn, xml) as dom:
        before = snapshot(home)
        r = add(zx, site, "blog", url, "--disk", "storage=32M")
        assert r.rc != 0 and "0xl did not define" in r.err, r
        assert snapshot(home) == before
        assert dom.XMLDesc(0) == conn.lookupByName("blog").XMLDesc(0)


def test_policy_refusals_change_nothing(  # noqa: PLR0917 - the lab's fixtures
    home: Path,
    zx,
    site: FeedSite,
    guest_image: lab.GuestImage,
    conn: libvirt.virConnect,
    libvirt_daemon: lab.SystemDaemon,
) -> None:
    services.configure(
        home,
        libvirt_daemon.uri,
        """\
        [policy]
        max_memory = 100
        max_disk_size = "64M"
        bridges = ["br-ok", "network:allowed"]
        """,
    )
    url = services.publish(site, guest_image, network=True)
    cases = [
        (("--memory", "128", "--disk", "storage=32M", "--net", "br-ok"), 9, "memory"),
        (("--memory", "64", "--disk", "storage=128M", "--net", "br-ok"), 9, "disk"),
        (("--memory", "64", "--disk", "storage=32M", "--net", "br-other"), 9, "br-other"),
        (("--memory", "64", "--disk", "storage=32M", "--net", "network:other"), 9, "network:other"),
    ]
    for extra, status, word in cases:
        before = snapshot(home)
        r = add(zx, site, "shop", url, *extra)
        assert r.rc == status and word in r.err, (extra, r)
        assert snapshot(home) == before
        assert "shop" not in [d.name() for d in conn.listAllDomains()]
        pool = next((p for p in conn.listAllStoragePools() if p.name() == "0xl"), None)
        assert pool is None or "0xl-shop-storage" not in pool.listVolumes()


def test_a_missing_bridge_fails_the_run_and_leaves_nothing_running(
    home: Path, zx, site: FeedSite, guest_image: lab.GuestImage, conn: libvirt.virConnect
) -> None:
    url = services.publish(site, guest_image, network=True)
    assert add(zx, site, "cache", url, "--disk", "storage=32M", "--net", "br-missing").rc == 0
    before = snapshot(home)
    r = zx("run", "cache")
    assert r.rc != 0 and "cache did not start" in r.err and "br-missing" in r.err, r
    assert not conn.lookupByName("cache").isActive()
    assert snapshot(home) == before
    assert json.loads(zx("status", "cache", "--json").out)["state"] == "stopped"
    # A libvirt network is looked up at add: one that does not exist is refused before anything is made.
    before = snapshot(home)
    r = add(zx, site, "proxy", url, "--disk", "storage=32M", "--net", "network:nosuch")
    assert r.rc == 3 and "libvirt has no network nosuch" in r.err, r
    assert snapshot(home) == before
    assert "proxy" not in [d.name() for d in conn.listAllDomains()]


def test_status_counts_the_bytes_the_guest_received_and_sent_from_its_side(  # noqa: PLR0917 - the lab's fixtures
    home: Path, zx, site: FeedSite, guest_image: lab.GuestImage, conn: libvirt.virConnect,
    libvirt_daemon: lab.SystemDaemon,
) -> None:  # fmt: skip
    # The guest answers HTTP on a bridge in the daemon's network namespace (never this host's network).
    bridge = f"br{secrets.token_hex(3)}"
    libvirt_daemon.netns_run("ip", "link", "add", bridge, "type", "bridge")
    try:
        libvirt_daemon.netns_run("ip", "addr", "add", "10.0.0.1/24", "dev", bridge)
        libvirt_daemon.netns_run("ip", "link", "set", bridge, "up")
        url = services.publish(site, guest_image, network=True)
        r = add(zx, site, "net", url, "--disk", "storage=32M", "--net", bridge, "--arg", "ip=10.0.0.2/24")
        assert r.rc == 0, r
        assert zx("run", "net").rc == 0
        console(home, "net").wait_for(rf"^{guest.PREFIX}-NET 10.0.0.2/24$")
        for _ in range(3):
            answer = libvirt_daemon.http_get("http://10.0.0.2/")
            assert answer.stdout.strip() == f"{guest.PREFIX}-UP tag=net boot=1", answer.stderr
        target = ElementTree.fromstring(conn.lookupByName("net").XMLDesc(0)).find("devices/interface/target")  # noqa: S314 - libvirt's answer
        assert target is not None
        tap = target.get("dev", "")

        def tap_bytes() -> tuple[int, int]:
            # The oracle: the kernel's counters of the host's side of the tap, where what the guest sent
            # is received, and what it received was sent.
            read = [
                int(libvirt_daemon.netns_run("cat", f"/sys/class/net/{tap}/statistics/{c}_bytes").stdout)
                for c in ("rx", "tx")
            ]
            return read[0], read[1]

        host_rx1, host_tx1 = tap_bytes()
        r = zx("status", "net", "--json")
        host_rx2, host_tx2 = tap_bytes()
        assert r.rc == 0, r
        resources = json.loads(r.out)["resources"]
        assert host_tx1 <= resources["net_rx_bytes"] <= host_tx2, (resources, host_tx1, host_tx2)
        assert host_rx1 <= resources["net_tx_bytes"] <= host_rx2, (resources, host_rx1, host_rx2)
        assert resources["net_tx_bytes"] > 3 * len(answer.stdout), resources  # three answers went out
        r = zx("status", "net")
        assert "network:" in r.out and "received" in r.out, r
        assert zx("stop", "net").rc == 0
        r = zx("status", "net", "--json")
        assert "net_rx_bytes" not in (json.loads(r.out).get("resources") or {}), r
    finally:
        libvirt_daemon.netns_run("ip", "link", "delete", bridge, check=False)


@pytest.fixture
def network(conn: libvirt.virConnect) -> Iterator[str]:
    """A libvirt network with no <forward> and no <ip>, in the daemon's namespace: guests reach nothing."""
    net = conn.networkDefineXML("<network><name>zxl-side</name><bridge name='zxlside0' stp='off' delay='0'/></network>")
    net.create()
    try:
        yield "zxl-side"
    finally:
        net.destroy()
        net.undefine()


def test_two_services_side_by_side_on_a_libvirt_network_with_their_own_macs(  # noqa: PLR0917 - the lab's fixtures
    home: Path, zx, site: FeedSite, guest_image: lab.GuestImage, conn: libvirt.virConnect, network: str
) -> None:
    url = services.publish(site, guest_image, network=True)
    for name in ("left", "right"):
        r = add(zx, site, name, url, "--disk", "storage=32M", "--net", f"network:{network}")
        assert r.rc == 0, r
        assert zx("run", name).rc == 0
    for name in ("left", "right"):
        console(home, name).wait_for(rf"^0XL-LIBVIRT-GUEST-READY tag={name} boot=1$")
        record = json.loads((home / "services" / name / "service.json").read_text())
        assert [nic["mac"] for nic in console(home, name).nics()] == record["macs"]
        assert conn.lookupByName(name).isActive()
    r = zx("list")
    assert r.out.count("running") == 2, r
    for name in ("left", "right"):
        assert zx("stop", name).rc == 0


def test_an_update_killed_after_the_new_version_started_is_undone_by_its_guardian(
    home: Path, zx, site: FeedSite, guest_image: lab.GuestImage, conn: libvirt.virConnect
) -> None:
    url = services.publish(site, guest_image, "1.0")
    assert add(zx, site, "kv", url, "--disk", "storage=32M").rc == 0
    assert zx("run", "kv").rc == 0
    console(home, "kv").wait_for(r"^0XL-LIBVIRT-GUEST-READY tag=kv boot=1$")
    site.publish("guest", [services.guest_impl(guest_image, v) for v in ("1.0", "2.0")])
    update = Stoppable(home, "started", "update", "kv", *READY)
    update.wait_stopped(timeout=120)
    assert services.metadata(conn.lookupByName("kv"))["version"] == "2.0"  # the new one runs, unrecorded
    console(home, "kv").wait_for(r"^0XL-LIBVIRT-GUEST-READY tag=kv boot=2$")  # and has booted on the disk
    update.kill()
    # The guardian notices at once, and 1.0 runs again on the same disk.
    assert wait_for(lambda: services.metadata(conn.lookupByName("kv"))["version"] == "1.0", timeout=120)
    console(home, "kv").wait_for(r"^0XL-LIBVIRT-GUEST-READY tag=kv boot=3$")
    assert conn.lookupByName("kv").isActive()
    # The guardian writes the history once the old version has passed its health check again.
    assert wait_for(lambda: "interrupted" in zx("history", "kv").out, timeout=120), zx("history", "kv")
    status = json.loads(zx("status", "kv", "--json").out)
    assert (status["state"], status["version"]) == ("running", "1.0"), status
