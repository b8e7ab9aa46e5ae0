"""Work across hosts (docs/fleet.md) on the lab's two "remote" hosts (remote.py: each its own
qemu:///session libvirtd behind its own sshd, reached over qemu+ssh): per-host policy, placement
(`add --host auto`), and `update --all --all-hosts` while one host's daemon is dead or does not answer."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.labs.libvirt import lab, services
from tests.labs.libvirt.remote import RemoteHost
from tests.labs.libvirt.services import POOL
from tests.support.feeds import FeedSite
from tests.support.killing import Stoppable
from tests.support.zx import snapshot, wait_for

pytestmark = pytest.mark.libvirt

CONFIG = '[libvirt]\ndomain_type = "qemu"\nstop_timeout = 2\n'


def add(zx, site: FeedSite, name: str, url: str, host: str, *extra: str):
    return zx("add", name, url, "--host", host, "--trust-key", site.publisher.fingerprint, "--backend", "libvirt",
              "--arg", f"tag={name}", "--disk", "storage=32M", *extra)  # fmt: skip


def recorded(zhome: Path, host: str, name: str) -> str:
    """The version of NAME on HOST as the operator's records say."""
    return str(
        json.loads((zhome / "hosts" / host / "services" / name / "service.json").read_text())["current"]["version"]
    )


def register(zx, h1: RemoteHost, h2: RemoteHost) -> None:
    assert zx("host", "add", "h1", h1.uri, "--pool", POOL).rc == 0
    assert zx("host", "add", "h2", h2.uri, "--pool", POOL).rc == 0


def test_a_hosts_policy_applies_on_that_host_and_placement_passes_over_a_host_it_rules_out(
    hosts,
    zx,
    zhome: Path,
    site: FeedSite,
    guest_image: lab.GuestImage,
) -> None:
    (h1, c1), (h2, c2) = hosts
    register(zx, h1, h2)
    # The feed asks for 128 MiB: over h1's limit, within [policy]'s, which h2 has.
    (zhome / "config.toml").write_text(CONFIG + "[policy]\nmax_memory = 512\n[hosts.h1.policy]\nmax_memory = 100\n")
    url = services.publish(site, guest_image)

    before = snapshot(zhome)
    r = add(zx, site, "web", url, "h1")
    assert r.rc == 9, r
    assert "128 MiB of memory is over the host's limit of 100 MiB per service" in r.err, r
    assert snapshot(zhome) == before and "web" not in [d.name() for d in c1.listAllDomains()]
    r = add(zx, site, "web", url, "h2")
    assert r.rc == 0, r
    assert "web" in [d.name() for d in c2.listAllDomains()]

    # auto: h1 is ruled out by its policy, the host local has no libvirt: h2, with the reason for each other.
    r = add(zx, site, "api", url, "auto")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0].startswith("placing api on h2: ") and "the service needs 128 MiB" in lines[0], r
    # The host local's [libvirt] is qemu:///system, where the lab runs no daemon.
    assert any(line.startswith("passed over local: cannot connect to libvirt at qemu:///system") for line in lines), r
    assert any(
        line.startswith("passed over h1: api: 128 MiB of memory is over the host's limit of 100 MiB") for line in lines
    ), r
    assert (zhome / "hosts" / "h2" / "services" / "api" / "service.json").is_file()
    assert "api" in [d.name() for d in c2.listAllDomains()]
    assert json.loads(zx("status", "api", "--host", "h2", "--json").out)["state"] == "stopped"

    # Without h1's table, both fit: the one with the most free memory (the same machine: about the same).
    (zhome / "config.toml").write_text(CONFIG + "[policy]\nmax_memory = 512\n")
    r = add(zx, site, "db", url, "auto", "--json")
    assert r.rc == 0, r
    placed = r.err.splitlines()[0]  # under --json, stdout is add's JSON alone
    chosen, other = ("h1", "h2") if placed.startswith("placing db on h1: ") else ("h2", "h1")
    assert placed.startswith(f"placing db on {chosen}: "), r
    assert f"passed over {other}: it fits too, with " in r.err, r
    assert json.loads(r.out)["name"] == "db"
    assert "db" in [d.name() for d in {"h1": c1, "h2": c2}[chosen].listAllDomains()]
    assert zx("destroy", "db", "--host", chosen).rc == 0

    # More memory than any host has free: nothing fits, each host's reason, nothing changed.
    (zhome / "config.toml").write_text(CONFIG)
    before = snapshot(zhome)
    r = add(zx, site, "big", url, "auto", "--memory", str(1 << 30))
    assert r.rc == 8, r
    assert "no host can take big: " in r.err, r
    for name in ("h1", "h2"):
        assert f"{name}: " in r.err and "MiB of memory free, the service needs 1073741824 MiB" in r.err, r
    assert snapshot(zhome) == before

    # A table for a host there is not is refused, with the closest name; so is host remove of one named.
    (zhome / "config.toml").write_text(CONFIG + "[hosts.h11.policy]\nmax_memory = 100\n")
    r = zx("status", "web", "--host", "h2")
    assert r.rc == 11 and "[hosts.h11.policy] names no host" in r.err and "[hosts.h1.policy]" in r.err, r
    (zhome / "config.toml").write_text(CONFIG + "[hosts.h1.policy]\nmax_memory = 100\n")
    r = zx("host", "remove", "h1")
    assert r.rc == 7 and "config.toml has a policy for the host h1" in r.err, r
    for name, host in (("web", "h2"), ("api", "h2")):
        assert zx("destroy", name, "--host", host).rc == 0


def test_update_all_hosts_updates_every_host_at_once_and_reports_a_dead_one_or_one_that_does_not_answer(
    hosts,
    zx,
    zhome: Path,
    site: FeedSite,
    guest_image: lab.GuestImage,
) -> None:
    (h1, _), (h2, _) = hosts
    register(zx, h1, h2)
    url = services.publish(site, guest_image, "1.0")
    # The same name on both hosts: each host's service has a lock of its own.
    assert add(zx, site, "web", url, "h1").rc == 0
    assert add(zx, site, "web", url, "h2").rc == 0
    assert add(zx, site, "api", url, "h2").rc == 0
    services.publish(site, guest_image, "1.0", "2.0")

    r = zx("update", "--check", "--all", "--all-hosts", "--json")
    assert r.rc == 0, r
    assert sorted((d["host"], d["name"], d["state"], d["to"]) for d in json.loads(r.out)) == [
        ("h1", "web", "available", "2.0"),
        ("h2", "api", "available", "2.0"),
        ("h2", "web", "available", "2.0"),
    ], r

    # h2's daemon dies: h1's service is updated, h2 is reported and its services failed (status 6: libvirt).
    h2.kill_daemon()
    try:
        r = zx("update", "--all", "--all-hosts", "--timeout", "30", timeout=300)
        assert r.rc == 6, r
        assert "h1: web: updated 1.0 -> 2.0" in r.out, r
        assert "0xl: warning: host h2 is not updated: cannot connect to libvirt" in r.err, r
        assert "2 of 3 services were not updated: h2/api, h2/web" in r.err, r
        assert recorded(zhome, "h1", "web") == "2.0"  # it does not run: 2.0 is what starts next
    finally:
        h2.start_daemon()
    assert recorded(zhome, "h2", "web") == recorded(zhome, "h2", "api") == "1.0"

    # h2's daemon does not answer (stopped): reported after the timeout, h1 is not held up.
    pid = h2.daemon_pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        r = zx("update", "--all", "--all-hosts", "--timeout", "3", "--json", timeout=120)
        took = time.monotonic() - started
        assert r.rc == 6, r
        rows = {(d["host"], d["name"]): d for d in json.loads(r.out)}
        assert rows["h1", "web"]["state"] == "current" and rows["h1", "web"]["error"] is None, rows
        assert rows["h2", "web"]["state"] == "failed", rows
        assert rows["h2", "api"]["error"]["message"] == "host h2 did not answer within 3 s", rows
        assert took < 60, took  # not a timing assertion: it would hang without the timeout
    finally:
        os.kill(pid, signal.SIGCONT)

    r = zx("update", "--all", "--all-hosts", timeout=300)
    assert r.rc == 0, r
    assert "h1: web: 2.0 is current" in r.out, r
    assert "h2: api: updated 1.0 -> 2.0" in r.out and "h2: web: updated 1.0 -> 2.0" in r.out, r
    assert recorded(zhome, "h1", "web") == recorded(zhome, "h2", "web") == recorded(zhome, "h2", "api") == "2.0"
    for name, host in (("web", "h1"), ("web", "h2"), ("api", "h2")):
        assert zx("destroy", name, "--host", host).rc == 0


def test_an_update_across_hosts_killed_after_the_new_version_started_is_undone_on_that_host_by_its_guardian(
    hosts,
    zx,
    zhome: Path,
    site: FeedSite,
    guest_image: lab.GuestImage,
) -> None:
    (h1, c1), (h2, _) = hosts
    register(zx, h1, h2)
    url = services.publish(site, guest_image, "1.0")
    assert add(zx, site, "web", url, "h1").rc == 0
    assert zx("run", "web", "--host", "h1").rc == 0
    services.publish(site, guest_image, "1.0", "2.0")
    # The health check is one made from here: the console of a remote host is a copy (docs/fleet.md).
    update = Stoppable(zhome, "started", "update", "--all", "--all-hosts", "--settle", "1", "--ready-timeout", "120")
    update.wait_stopped(timeout=180)
    assert services.metadata(c1.lookupByName("web"))["version"] == "2.0"  # the new one runs, unrecorded
    update.kill()
    # The guardian works on h1 (its URI, this machine's locks): 1.0 runs there again, as the record says.
    assert wait_for(lambda: services.metadata(c1.lookupByName("web"))["version"] == "1.0", timeout=180), (
        zhome / "hosts" / "h1" / "guardian.log"
    ).read_text()
    assert wait_for(lambda: c1.lookupByName("web").isActive(), timeout=60)
    assert wait_for(
        lambda: (
            json.loads((zhome / "hosts" / "h1" / "services" / "web" / "service.json").read_text()).get("transition")
            is None
        ),
        timeout=180,
    )
    assert recorded(zhome, "h1", "web") == "1.0"
    status = json.loads(zx("status", "web", "--host", "h1", "--json").out)
    assert (status["state"], status["version"]) == ("running", "1.0"), status
    assert zx("destroy", "web", "--host", "h1").rc == 0
