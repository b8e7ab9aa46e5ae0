"""`0xl host add|list|remove` and `--host` (docs/fleet.md): the registry of hosts under ZEROXL_HOME, with
the refusals of bad names, URIs and duplicates. The hosts reached over SSH are in tests/labs/libvirt."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import snapshot

DEAD = "qemu:///system?socket=/nonexistent/0xl-test/libvirt-sock"  # a daemon that is not there


def test_add_list_remove_and_the_default_host(zx, zhome: Path, site: FeedSite) -> None:
    url = site.publish("web", [Impl("1.0")])
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint).rc == 0  # on the host local
    r = zx("host", "list", "--json")
    assert r.rc == 0, r
    assert [(h["name"], h["default"], h["reachable"]) for h in json.loads(r.out)] == [("local", True, True)]
    r = zx("host", "add", "kvm1", DEAD, "--pool", "images", "--default")
    assert r.rc == 0 and r.out == f"added host kvm1: {DEAD} (the default host)\n", r
    assert json.loads((zhome / "hosts.json").read_text()) == {
        "default": "kvm1",
        "hosts": {"kvm1": {"pool": "images", "uri": DEAD}},
    }
    assert (zhome / "hosts.json").stat().st_mode & 0o777 == 0o600
    r = zx("host", "list", "--json")
    hosts = {h["name"]: h for h in json.loads(r.out)}
    assert hosts["local"]["default"] is False and hosts["kvm1"]["default"] is True
    assert hosts["kvm1"]["reachable"] is False and "cannot connect to libvirt" in hosts["kvm1"]["error"]
    r = zx("host", "list")
    assert r.rc == 0 and "kvm1 *" in r.out and "cannot connect to libvirt" in r.out, r
    r = zx("list", "--all-hosts", "--json")
    assert r.rc == 0 and [(d["host"], d["name"]) for d in json.loads(r.out)] == [("local", "web")], r
    r = zx("list", "--all-hosts")
    assert r.rc == 0 and r.out.splitlines()[0].split()[:2] == ["HOST", "NAME"] and "local" in r.out, r
    # The default host is where service commands go: web is on local, not on kvm1.
    r = zx("status", "web")
    assert r.rc == 3 and "no service named 'web'" in r.err, r
    r = zx("status", "web", "--host", "local")
    assert r.rc == 12 and "web" in r.out, r  # found on local; it does not run (docs/exit-status.md)
    r = zx("host", "remove", "kvm1")
    assert r.rc == 0 and r.out == f"removed host kvm1 ({DEAD})\n", r
    assert json.loads((zhome / "hosts.json").read_text()) == {"default": "local", "hosts": {}}


def test_refusals_change_nothing(zx, zhome: Path) -> None:
    assert zx("host", "add", "kvm1", DEAD).rc == 0
    cases = [
        (("host", "add", "kvm1", DEAD), 7, "there is a host kvm1 already"),
        (("host", "add", "local", DEAD), 2, "the host local is this machine"),
        (("host", "add", "Bad_Name", DEAD), 2, "'Bad_Name' is not a host name"),
        (("host", "add", "kvm2", "http://example.org/"), 2, "is not a libvirt URI 0xl can use"),
        (("host", "add", "kvm2", "lxc:///system"), 2, "is not a libvirt URI 0xl can use"),
        (("host", "add", "kvm2", "qemu+ssh://h/system\n"), 2, "is not a libvirt URI 0xl can use"),
        (("host", "add", "kvm2", DEAD, "--pool", "a/b"), 2, "is not a storage pool name"),
        (("host", "remove", "local"), 2, "the host local is this machine"),
        (("host", "remove", "kvm9"), 3, "no host kvm9"),
        (("status", "web", "--host", "kvm9"), 3, "no host kvm9"),
    ]
    for args, status, message in cases:
        before = snapshot(zhome)
        hosts = (zhome / "hosts.json").read_bytes()
        r = zx(*args)
        assert r.rc == status and "0xl: error: " in r.err and message in r.err, (args, r)
        assert snapshot(zhome) == before and (zhome / "hosts.json").read_bytes() == hosts


def test_zeroxl_host_selects_the_host(zx, zhome: Path, monkeypatch) -> None:
    monkeypatch.setenv("ZEROXL_HOST", "kvm9")
    r = zx("status", "web")
    assert r.rc == 3 and "no host kvm9" in r.err, r


def test_every_command_that_takes_host_chooses_the_host_it_works_on() -> None:
    # cli.main keeps its own copy of the list (it must not import the parser to start fast): the two
    # must agree, or a command would accept --host and then work on the host local.
    from zeroxl.cli import host_cmds, main

    assert {*host_cmds.SERVICE_COMMANDS, "disk"} == main._HOST_COMMANDS  # disk: its list and delete


def test_restart_and_set_go_to_the_host_named(zx, zhome: Path, site: FeedSite) -> None:
    url = site.publish("web", [Impl("1.0")])
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint).rc == 0  # on the host local
    assert zx("host", "add", "kvm1", DEAD).rc == 0
    before = snapshot(zhome)
    for args in (("restart", "web"), ("set", "web", "--restart", "never")):
        r = zx(*args, "--host", "kvm1")
        # Looked up among kvm1's services (none), not the host local's.
        assert r.rc == 3 and "no service named 'web'" in r.err, (args, r)
        r = zx(*args, "--host", "kvm2")
        assert r.rc == 3 and "no host kvm2" in r.err, (args, r)
    assert snapshot(zhome) == before  # the host local's web was left alone
    assert zx("set", "web", "--restart", "never").rc == 0  # which is there


def test_move_refusals_change_nothing(zx, zhome: Path, site: FeedSite) -> None:
    # The moves themselves, between hosts reached over SSH: tests/labs/libvirt/test_fleet_move.py.
    url = site.publish("web", [Impl("1.0")])
    assert zx("add", "mover", url, "--trust-key", site.publisher.fingerprint).rc == 0  # a unix service
    assert zx("host", "add", "kvm1", DEAD).rc == 0
    cases = [
        (("move", "mover", "--to", "kvm1"), 2, "mover runs on the unix backend: only a libvirt service moves"),
        (("move", "mover", "--to", "local"), 2, "mover is on the host local already"),
        (("move", "mover", "--to", "kvm9"), 3, "no host kvm9"),
        (("move", "mover", "--to", "Bad_Name"), 2, "'Bad_Name' is not a host name"),
        (("move", "nosuch", "--to", "kvm1"), 3, "no service named 'nosuch'"),
        (("move", "mover", "--host", "kvm1", "--to", "local"), 3, "no service named 'mover'"),
        (("disk", "delete", "mover", "data", "--host", "kvm9"), 3, "no host kvm9"),
        (("history", "mover", "--host", "kvm9"), 3, "no host kvm9"),
        (("history", "mover", "--host", "kvm1"), 3, "no service named 'mover'"),
    ]
    for args, status, message in cases:
        before = snapshot(zhome)
        r = zx(*args)
        assert r.rc == status and "0xl: error: " in r.err and message in r.err, (args, r)
        assert snapshot(zhome) == before and not (zhome / "hosts" / "kvm1" / "services" / "mover").exists()
