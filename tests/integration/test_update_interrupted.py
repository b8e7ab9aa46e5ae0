"""`0xl update` killed with SIGKILL at several points of an update: each service ends up running one
whole version, with a record and a history that say which, and running the update again completes it.

0xl is stopped at each point by its test hook (ZEROXL_TEST_STOP_AT) and killed there for real. Right
after the kill, its guardian finishes or undoes what it was doing; if the guardian is killed too (as a
host crash would), the next command on the service, or `0xl doctor`, does.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl, web_files
from tests.support.killing import Stoppable
from tests.support.updating import FAST, add_running, answers, history, publish, record
from tests.support.zx import wait_for
from zeroxl.testhooks import Point


def two_services(zx, site: FeedSite, *, bad: bool = False) -> dict[str, int]:
    """Services a and b running 1.0, with 2.0 published for both (a's 2.0 exits at start if BAD)."""
    ports = {name: add_running(zx, site, name, [Impl("1.0")]) for name in ("a", "b")}
    a2 = Impl("2.0", files=web_files("2.0-bad")) if bad else Impl("2.0")
    publish(site, "a", [Impl("1.0"), a2])
    publish(site, "b", [Impl("1.0"), Impl("2.0")])
    return ports


def settled(home: Path) -> bool:
    return all(record(home, n)["transition"] is None for n in ("a", "b"))


def assert_whole_versions(zx, home: Path, ports: dict[str, int]) -> dict[str, str]:
    """Each service runs the version its record names, and answers with it."""
    running = {}
    for name, port in ports.items():
        rec = record(home, name)
        assert rec["transition"] is None
        s = json.loads(zx("status", name, "--json").out)
        assert s["state"] == "running", (name, s)
        assert wait_for(lambda p=port, v=rec["current"]["version"]: answers(p) == v, timeout=10), (name, rec)
        running[name] = rec["current"]["version"]
    return running


@pytest.mark.parametrize(
    ("point", "after_kill", "a_history"),
    [
        # Feeds verified and 2.0 downloaded; nothing else changed yet.
        ("fetched", {"a": "1.0", "b": "1.0"}, [("add", None, "1.0", "ok")]),
        # a's 1.0 stopped, 2.0 not started: undone, 1.0 runs again.
        ("stopped", {"a": "1.0", "b": "1.0"}, [("add", None, "1.0", "ok"), ("update", "1.0", "2.0", "interrupted")]),
        # a's 2.0 started, its health not yet checked: undone too.
        ("started", {"a": "1.0", "b": "1.0"}, [("add", None, "1.0", "ok"), ("update", "1.0", "2.0", "interrupted")]),
        # a's 2.0 healthy and recorded, its history entry not yet written: finished.
        ("done", {"a": "2.0", "b": "1.0"}, [("add", None, "1.0", "ok"), ("update", "1.0", "2.0", "ok")]),
    ],
)
def test_update_killed_leaves_whole_versions_and_a_rerun_completes(  # noqa: PLR0917 - fixtures and cases
    site: FeedSite, zx, zhome: Path, point: Point, after_kill: dict[str, str], a_history: list
) -> None:
    ports = two_services(zx, site)
    update = Stoppable(zhome, point, "update", "--all", *FAST)
    update.wait_stopped()
    update.kill()

    assert wait_for(lambda: settled(zhome), timeout=20), (zhome / "guardian.log").read_text()
    assert assert_whole_versions(zx, zhome, ports) == after_kill
    assert history(zx, "a") == a_history

    r = zx("update", "--all", "--wait", "30", *FAST)
    assert r.rc == 0, r
    assert assert_whole_versions(zx, zhome, ports) == {"a": "2.0", "b": "2.0"}
    assert history(zx, "a")[-1] == ("update", "1.0", "2.0", "ok")
    assert history(zx, "b") == [("add", None, "1.0", "ok"), ("update", "1.0", "2.0", "ok")]


def test_update_killed_while_rolling_back_finishes_the_rollback(site: FeedSite, zx, zhome: Path) -> None:
    ports = two_services(zx, site, bad=True)
    update = Stoppable(zhome, "rolling-back", "update", "--all", *FAST)
    update.wait_stopped()
    update.kill()

    assert wait_for(lambda: settled(zhome), timeout=20), (zhome / "guardian.log").read_text()
    assert assert_whole_versions(zx, zhome, ports) == {"a": "1.0", "b": "1.0"}
    assert history(zx, "a")[-2:] == [("update", "1.0", "2.0", "failed"), ("auto-rollback", "2.0", "1.0", "ok")]

    r = zx("update", "--all", "--wait", "30", *FAST)
    assert r.rc == 0, r
    assert "a: 1.0 is current (passing over 2.0" in r.out
    assert assert_whole_versions(zx, zhome, ports) == {"a": "1.0", "b": "2.0"}


def kill_with_guardian(home: Path, point: Point) -> None:
    """Stop `0xl update a` at POINT, then kill its guardian and it, as a host crash or the OOM killer might."""
    update = Stoppable(home, point, "update", "a", *FAST)
    update.wait_stopped()
    guardian = record(home, "a")["transition"]["guardian"]
    os.kill(guardian, signal.SIGKILL)
    update.kill()


def test_update_killed_with_its_guardian_is_finished_by_the_next_command(site: FeedSite, zx, zhome: Path) -> None:
    ports = two_services(zx, site)
    kill_with_guardian(zhome, "stopped")
    assert answers(ports["a"]) is None  # nothing runs a until 0xl is run again
    s = json.loads(zx("status", "a", "--json").out)
    assert (s["transition"]["from"], s["transition"]["to"], s["transition"]["live"]) == ("1.0", "2.0", False)
    assert "update 1.0 -> 2.0, interrupted: the next 0xl command on a finishes it" in zx("status", "a").out

    r = zx("update", "a", *FAST)
    assert r.rc == 0, r
    assert "0xl: undid the interrupted update of a to 2.0: 1.0 runs again" in r.err
    assert assert_whole_versions(zx, zhome, ports) == {"a": "2.0", "b": "1.0"}
    assert history(zx, "a") == [
        ("add", None, "1.0", "ok"),
        ("update", "1.0", "2.0", "interrupted"),
        ("update", "1.0", "2.0", "ok"),
    ]


def test_doctor_undoes_an_update_whose_0xl_and_guardian_were_killed(site: FeedSite, zx, zhome: Path) -> None:
    ports = two_services(zx, site)
    kill_with_guardian(zhome, "started")
    r = zx("doctor")
    assert r.rc == 0, r
    assert r.out == "undid the interrupted update of a to 2.0: 1.0 runs again\n"
    assert assert_whole_versions(zx, zhome, ports) == {"a": "1.0", "b": "1.0"}
    assert zx("doctor").out == "nothing to do: no change was left half done\n"


def test_ctrl_c_during_an_update_undoes_it_before_exiting(site: FeedSite, zx, zhome: Path) -> None:
    ports = two_services(zx, site)
    update = Stoppable(zhome, "started", "update", "a", *FAST)
    update.wait_stopped()
    update.proc.send_signal(signal.SIGINT)  # delivered when it goes on
    assert update.resume() == 130, update.output()
    assert "0xl: interrupted" in update.output()
    # Undone by 0xl itself, not left to its guardian.
    assert record(zhome, "a")["transition"] is None
    assert assert_whole_versions(zx, zhome, ports) == {"a": "1.0", "b": "1.0"}
    assert history(zx, "a")[-1] == ("update", "1.0", "2.0", "interrupted")
    assert "guardian" not in (zhome / "guardian.log").read_text()


def test_doctor_does_not_call_a_killed_0xl_busy(site: FeedSite, zx, zhome: Path) -> None:
    # While the guardian of a killed update waits for the service's lock (held here, as another command
    # would hold it), doctor used to say "0xl is replacing version 1.0 with 2.0 (pid N)" of the dead 0xl.
    import fcntl

    ports = two_services(zx, site)
    update = Stoppable(zhome, "stopped", "update", "a", *FAST)
    update.wait_stopped()
    guardian = record(zhome, "a")["transition"]["guardian"]
    os.kill(guardian, signal.SIGSTOP)
    dead = update.proc.pid
    update.kill()
    fd = os.open(zhome / "locks" / "service-a.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.kill(guardian, signal.SIGCONT)
        r = zx("doctor")
        assert r.rc == 7, r
        assert (
            f"service a is busy: the 0xl that was replacing version 1.0 with 2.0 (pid {dead}) ended; "
            f"its guardian (pid {guardian}) is finishing or undoing that change" in r.err
        ), r
        assert "0xl is replacing" not in r.err, r
    finally:
        os.close(fd)
    assert wait_for(lambda: record(zhome, "a")["transition"] is None, timeout=30)
    assert assert_whole_versions(zx, zhome, ports) == {"a": "1.0", "b": "1.0"}
