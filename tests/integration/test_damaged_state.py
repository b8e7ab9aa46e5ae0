"""Damaged state under ZEROXL_HOME (issue 10, point 10), with real supervised processes: a record or a
unix state file that cannot be read affects only its own service, is shown as damaged with a hint, and
never makes 0xl start a second copy of a program that runs."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import snapshot, wait_for

SLEEPER = {"bin/web": (b"#!/bin/sh\necho started $$\nexec sleep 1000\n", 0o755)}

DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda good: good[: len(good) // 2],
    "empty": lambda good: b"",
    "a list": lambda good: b"[]\n",
    "null": lambda good: b"null\n",
    "no fields": lambda good: b"{}\n",
    "not utf-8": lambda good: b"\xff\xfe" + good,
    "a field of the wrong type": lambda good: json.dumps({**json.loads(good), "current": "1.0"}).encode(),
    "a field missing": lambda good: json.dumps({k: v for k, v in json.loads(good).items() if k != "feed"}).encode(),
    "another service's": lambda good: json.dumps({**json.loads(good), "name": "other"}).encode(),
}


def _add_two(zx, site: FeedSite) -> None:
    url = site.publish("web", [Impl("1.0", files=SLEEPER)])
    for name in ("a", "b"):
        r = zx("add", name, url, "--trust-key", site.publisher.fingerprint)
        assert r.rc == 0, r


def _damage(zhome: Path, name: str, how: str) -> None:
    path = zhome / "services" / name / "service.json"
    path.write_bytes(DAMAGE[how](path.read_bytes()))


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_damaged_record_is_shown_damaged_and_the_other_services_work(site: FeedSite, zx, zhome: Path, how: str) -> None:
    _add_two(zx, site)
    _damage(zhome, "a", how)

    r = zx("list")
    assert r.rc == 0, r
    rows = [line.split()[:2] for line in r.out.splitlines()[1:]]
    assert rows == [["a", "damaged"], ["b", "stopped"]], r
    assert "0xl: hint: a: its record is damaged; 0xl doctor says what to do" in r.err, r

    listed = json.loads(zx("list", "--json").out)
    assert [(d["name"], d["state"]) for d in listed] == [("a", "damaged"), ("b", "stopped")]
    damaged = listed[0]
    assert set(listed[1]) <= set(damaged)  # the same fields as any service, for scripts that read them
    assert "cannot be read" in damaged["detail"] and damaged["hint"] == "0xl doctor says what to do", damaged

    r = zx("status", "a")
    assert r.rc == 1, r  # its state is not known (docs/exit-status.md)
    assert r.out.startswith("name:  a\nstate: damaged (the record of service a ("), r
    assert r.out.endswith(")\nhint:  0xl doctor says what to do\n"), r
    assert json.loads(zx("status", "a", "--json").out) == damaged

    # Commands on it refuse, clearly, and change nothing; the other service works as before.
    before = snapshot(zhome)
    for args in (("run", "a"), ("stop", "a"), ("destroy", "a"), ("update", "a"), ("logs", "a")):
        r = zx(*args)
        assert r.rc == 1, (args, r)
        assert r.err.startswith("0xl: error: the record of service a ("), (args, r)
        assert "0xl: hint: 0xl doctor says what to do" in r.err and "internal error" not in r.err, (args, r)
    assert snapshot(zhome) == before
    assert zx("run", "b").rc == 0
    assert zx("stop", "b").rc == 0


def test_doctor_says_what_to_do_with_a_damaged_record(site: FeedSite, zx, zhome: Path) -> None:
    _add_two(zx, site)
    _damage(zhome, "a", "truncated")
    before = snapshot(zhome)
    r = zx("doctor")
    assert r.rc == 1, r
    assert f"0xl: error: a: the record of service a ({zhome}/services/a/service.json) cannot be read" in r.err, r
    assert "0xl: hint: put back a copy of it if you have one" in r.err, r
    assert snapshot(zhome) == before


def test_gc_refuses_while_a_record_is_damaged(site: FeedSite, zx, zhome: Path) -> None:
    # What the damaged service needs is unknown: gc must not guess that it needs nothing.
    _add_two(zx, site)
    assert zx("destroy", "b").rc == 0
    _damage(zhome, "a", "a list")
    before = snapshot(zhome)
    r = zx("gc")
    assert r.rc == 1, r
    assert "the record of service a" in r.err and "internal error" not in r.err, r
    assert snapshot(zhome) == before


def test_disk_list_counts_the_disks_of_a_damaged_service_as_in_use(site: FeedSite, zx, zhome: Path) -> None:
    url = site.publish("web", [Impl("1.0", files=SLEEPER)])
    assert zx("add", "a", url, "--trust-key", site.publisher.fingerprint, "--disk", "1M").rc == 0
    _damage(zhome, "a", "truncated")
    r = zx("disk", "list", "--json")
    assert r.rc == 0, r
    assert [(d["service"], d["name"], d["in_use"]) for d in json.loads(r.out)] == [("a", "data", True)]
    r = zx("disk", "delete", "a", "data")
    assert r.rc == 1 and "the record of service a" in r.err, r


# -- the unix backend's state file ---------------------------------------------------------------------


def _copies(zhome: Path) -> tuple[list[int], list[int]]:
    """The supervisors of service a under ZEROXL_HOME, and the processes its program runs as, from /proc."""
    service_dir = str(zhome / "services" / "a")
    supervisors, programs = [], []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if argv[1:4] == [b"-m", b"zeroxl.backends.unix.supervisor", service_dir.encode()]:
            supervisors.append(int(entry))
        elif cwd == f"{service_dir}/data":
            programs.append(int(entry))
    return supervisors, programs


def _truncate_state(zhome: Path) -> None:
    path = zhome / "services" / "a" / "unix" / "state.json"
    path.write_bytes(path.read_bytes()[:40])


def test_truncated_unix_state_of_a_running_service_never_starts_a_second_copy(site: FeedSite, zx, zhome: Path) -> None:
    _add_two(zx, site)
    assert zx("run", "a").rc == 0
    running = _copies(zhome)
    assert [len(x) for x in running] == [1, 1], running
    _truncate_state(zhome)

    s = json.loads(zx("status", "a", "--json").out)
    assert s["state"] == "running", s
    assert "its state file" in s["detail"] and "is damaged" in s["detail"], s
    assert s["pid"] == running[1][0], s

    r = zx("run", "a")
    assert r.rc == 0 and "a is already running" in r.out, r
    assert _copies(zhome) == running
    assert zx("logs", "a").out.count("started version") == 1

    r = zx("doctor")
    assert r.rc == 1 and "0xl: error: a: its state file" in r.err, r
    assert "0xl: hint: 0xl stop a ends what runs of it" in r.err, r
    assert _copies(zhome) == running

    # stop finds what runs without the file, and ends it; run then starts it afresh.
    r = zx("stop", "a")
    assert r.rc == 0 and "a stopped" in r.out, r
    assert wait_for(lambda: _copies(zhome) == ([], []), timeout=10), _copies(zhome)
    assert json.loads(zx("status", "a", "--json").out)["state"] == "stopped"
    assert zx("run", "a").rc == 0
    assert [len(x) for x in _copies(zhome)] == [1, 1]


def test_truncated_unix_state_of_a_stopped_service_lets_it_start(site: FeedSite, zx, zhome: Path) -> None:
    _add_two(zx, site)
    assert zx("run", "a").rc == 0
    assert zx("stop", "a").rc == 0
    _truncate_state(zhome)
    s = json.loads(zx("status", "a", "--json").out)
    assert s["state"] == "stopped" and "nothing of it runs" in s["detail"], s
    assert zx("run", "a").rc == 0
    assert [len(x) for x in _copies(zhome)] == [1, 1]


def test_truncated_unix_state_and_a_killed_supervisor_never_start_a_second_copy(
    site: FeedSite, zx, zhome: Path
) -> None:
    # The program outlives its supervisor here only if it ignores the parent-death signal, which it
    # cannot; what can outlive it is what the program started. A child that stays in the working
    # directory with the service's environment is found and ended by stop.
    url = site.publish(
        "kids", [Impl("1.0", files={"bin/web": (b"#!/bin/sh\nsleep 1000 &\necho child $!\nexec sleep 1000\n", 0o755)})]
    )
    assert zx("add", "a", url, "--trust-key", site.publisher.fingerprint).rc == 0
    assert zx("run", "a").rc == 0
    assert wait_for(lambda: "child" in zx("logs", "a").out)
    child = int(zx("logs", "a").out.split("child ")[1].split()[0])
    (supervisor,), _ = _copies(zhome)
    _truncate_state(zhome)
    os.kill(supervisor, 9)
    assert wait_for(lambda: _copies(zhome)[1] == [child], timeout=5), _copies(zhome)

    s = json.loads(zx("status", "a", "--json").out)
    assert s["state"] == "running" and f"{child}" in s["detail"], s
    r = zx("run", "a")
    assert r.rc == 0 and "already running" in r.out, r
    assert _copies(zhome) == ([], [child])
    assert zx("stop", "a").rc == 0
    assert wait_for(lambda: _copies(zhome) == ([], []), timeout=5), _copies(zhome)
