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
