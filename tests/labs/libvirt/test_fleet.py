"""Many hosts from one place (docs/fleet.md): 0xl on this machine manages services on the lab's two
"remote" hosts (remote.py: each its own qemu:///session libvirtd behind its own sshd), through their
qemu+ssh URIs only: the kernel and initrd uploaded into the host's pool and read back, the disk a volume
there, the domain defined there with 0xl's metadata; `host list` asks the hosts concurrently, and a host
whose daemon is killed is reported without holding up the other."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.labs.libvirt import lab, services
from tests.labs.libvirt.services import POOL, volumes
from tests.support.feeds import FeedSite
from tests.support.zx import wait_for

pytestmark = pytest.mark.libvirt

def host_list(zx, *extra: str) -> dict[str, dict]:
    r = zx("host", "list", "--json", *extra)
    assert r.rc == 0, r
    return {h["name"]: h for h in json.loads(r.out)}


def test_a_service_added_on_a_remote_host_over_ssh_and_a_host_whose_daemon_died(
    hosts, zx, zhome: Path, site: FeedSite, guest_image: lab.GuestImage
) -> None:
    (h1, c1), (h2, c2) = hosts
    assert zx("host", "add", "h1", h1.uri, "--pool", POOL).rc == 0
    assert zx("host", "add", "h2", h2.uri, "--pool", POOL).rc == 0
    listed = host_list(zx)
    for name in ("h1", "h2"):
        assert listed[name]["reachable"] is True, listed
        assert listed[name]["hypervisor"] == "QEMU" and listed[name]["free_memory_bytes"] > 0, listed
        assert listed[name]["services"] == []

    url = services.publish(site, guest_image)
    r = zx("add", "web", url, "--host", "h1", "--trust-key", site.publisher.fingerprint, "--backend", "libvirt",
           "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
    assert r.rc == 0, r
    assert "disk storage (images/0xl-web-storage)" in r.out, r
    # Defined on h1, with 0xl's metadata, booting from volumes uploaded into h1's pool; nothing on h2.
    dom = c1.lookupByName("web")
    assert services.metadata(dom)["feed"] == url
    kernel = hashlib.sha256(guest_image.kernel.read_bytes()).hexdigest()
    on_h1 = volumes(c1)
    assert {f"0xl-boot.{kernel}", "0xl-web-storage"} <= set(on_h1)
    assert f"<kernel>{on_h1['0xl-boot.' + kernel]}</kernel>" in dom.XMLDesc(0)
    assert on_h1["0xl-boot." + kernel].startswith(str(h1.home))
    assert "web" not in [d.name() for d in c2.listAllDomains()] and volumes(c2) == {}
    # The records are the operator's, per host; the host local has none.
    assert (zhome / "hosts" / "h1" / "services" / "web" / "service.json").is_file()
    assert not (zhome / "services" / "web").exists()
    r = zx("status", "web", "--host", "h1", "--json")
    assert r.rc == 12 and json.loads(r.out)["state"] == "stopped", r  # 12: it does not run
    # The store is shared by the hosts: gc keeps what a service on h1 needs, whichever host is the default.
    digest = json.loads((zhome / "hosts" / "h1" / "services" / "web" / "service.json").read_text())["current"]["digest"]
    r = zx("gc")
    assert r.rc == 0 and (zhome / "store" / digest).is_dir(), r
    r = zx("status", "web")
    assert r.rc == 3, r
    assert host_list(zx)["h1"]["services"] == ["web"]

    r = zx("add", "api", url, "--host", "h2", "--trust-key", site.publisher.fingerprint, "--backend", "libvirt",
           "--arg", "tag=api", "--disk", "storage=32M")  # fmt: skip
    assert r.rc == 0, r
    r = zx("list", "--all-hosts", "--json")
    assert r.rc == 0, r
    assert [(d["host"], d["name"], d["state"]) for d in json.loads(r.out)] == [
        ("h1", "web", "stopped"),
        ("h2", "api", "stopped"),
    ], r

    # h2's daemon dies: h2 is reported unreachable, h1 as before.
    h2.kill_daemon()
    try:
        listed = host_list(zx, "--timeout", "30")
        assert listed["h2"]["reachable"] is False and "cannot connect to libvirt" in listed["h2"]["error"], listed
        assert listed["h1"]["reachable"] is True and listed["h1"]["services"] == ["web"], listed
        r = zx("list", "--all-hosts", "--json", "--timeout", "30")
        assert r.rc == 0, r
        rows = {d["host"]: d for d in json.loads(r.out)}
        assert rows["h1"]["state"] == "stopped", rows
        assert rows["h2"]["state"] == "failed" and "cannot connect to libvirt" in rows["h2"]["detail"], rows
    finally:
        h2.start_daemon()
    assert zx("destroy", "api", "--host", "h2").rc == 0

    # Run there: the console is a file in h1's pool, read back over libvirt (a volume download).
    r = zx("run", "web", "--host", "h1")
    assert r.rc == 0, r
    assert dom.isActive()
    assert wait_for(
        lambda: "0XL-LIBVIRT-GUEST-READY tag=web boot=1" in zx("logs", "web", "--host", "h1").out,
        timeout=120,
        interval=1,
    ), zx("logs", "web", "--host", "h1")
    assert "0xl-console.web.log" in volumes(c1)
    r = zx("status", "web", "--host", "h1", "--json")
    assert r.rc == 0 and json.loads(r.out)["state"] == "running", r
    r = zx("stop", "web", "--host", "h1")
    assert r.rc == 0 and not dom.isActive(), r

    r = zx("host", "remove", "h1")
    assert r.rc == 7 and "0xl has services on the host h1: web" in r.err, r
    r = zx("destroy", "web", "--host", "h1")
    assert r.rc == 0, r
    assert "delete it with: 0xl disk delete web storage --host h1" in r.out, r  # the disk is h1's
    assert "web" not in [d.name() for d in c1.listAllDomains()]
    assert set(volumes(c1)) == {"0xl-web-storage"}  # the boot volumes went with the last domain; the data stays
    assert zx("host", "remove", "h1").rc == 0
