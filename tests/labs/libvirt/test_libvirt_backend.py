"""The libvirt backend against the lab's private libvirtd and the virtio test guest (README.md): 0xl as its
users run it (a subprocess), the guest published as a signed Virtio-x86_64 feed served on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from tests.labs.libvirt import guest, lab, services
from tests.support.feeds import FeedSite

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
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--backend", "libvirt", "--arg", "tag=web", "--disk", "storage=32M")
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
    return [int(line.split("boot=")[1]) for line in console(home, name).lines() if line.startswith("0XL-LIBVIRT-GUEST-UP")]


def test_disk_data_survive_stop_run_update_rollback_and_a_broken_version_rolled_back(
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
