"""`0xl rollback` killed with SIGKILL at each point of a rollback: the service ends up running one whole
version, with a record and a history that say which, and its disk untouched. Whoever takes the service's
lock next finishes or undoes the rollback: its guardian at once, or, when the guardian was killed too (as
a host crash would), the next command on the service or `0xl doctor`. Rolling back again completes it.

0xl is stopped at each point by its test hook (ZEROXL_TEST_STOP_AT) and killed there for real.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.killing import Stoppable
from tests.support.updating import FAST, add_running, answers, history, publish, record
from tests.support.zx import wait_for
from zeroxl.testhooks import Point

BEFORE = [("add", None, "1.0", "ok"), ("update", "1.0", "2.0", "ok")]
INTERRUPTED = [("rollback", "2.0", "1.0", "interrupted")]
FINISHED = [("rollback", "2.0", "1.0", "ok")]
FAILED = [("rollback", "2.0", "1.0", "failed"), ("auto-rollback", "1.0", "2.0", "ok")]
UNDONE = "undid the interrupted rollback of web to 1.0: 2.0 runs again"

# point: (the version that runs once the rollback was finished or undone, the history entries it leaves,
# what `0xl doctor` says it did)
POINTS = {
    # 1.0 fetched again (the store no longer had it) and verified; nothing else changed yet.
    "rollback-fetched": ("2.0", [], None),
    # 2.0 stopped, 1.0 not started: undone, 2.0 runs again.
    "stopped": ("2.0", INTERRUPTED, UNDONE),
    # 1.0 started, its health not yet checked: undone too.
    "started": ("2.0", INTERRUPTED, UNDONE),
    # 1.0 healthy and recorded, its history entry not yet written: finished.
    "done": ("1.0", FINISHED, "finished the interrupted rollback of web to 1.0"),
    # The history entry written, the journal not yet dropped: finished, without a second entry.
    "recorded": ("1.0", FINISHED, "finished the interrupted rollback of web to 1.0"),
    # 1.0 failed its readiness check and was stopped, 2.0 not yet started again: the rollback back is finished.
    "rolling-back": ("2.0", FAILED, UNDONE),
    # 2.0 runs again and the history says so, the journal not yet dropped: finished, no entry twice.
    "rolled-back": ("2.0", FAILED, UNDONE),
}
# 1.0 never prints 2.0's line, so with this it fails its readiness check and 0xl goes back to 2.0.
FAILS_READINESS = ("--ready-log", r"web 2\.0 listening", "--ready-timeout", "2")


class Web:
    """The service web, which ran 1.0 and runs 2.0, with data on its disk. The store keeps one version
    per service (`[store] keep = 1`), so a rollback to 1.0 fetches it again and verifies it."""

    def __init__(self, zx, site: FeedSite, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text("[store]\nkeep = 1\n")
        self.zx, self.home = zx, home
        self.port = add_running(zx, site, "web", [Impl("1.0")], "--disk", "1M")
        self.v1 = record(home, "web")["current"]["digest"]
        self.disk = home / "disks" / "web" / "data.img"
        with self.disk.open("r+b") as f:
            f.write(b"the service's data")
        self.data, self.inode = self.disk.read_bytes(), self.disk.stat().st_ino
        publish(site, "web", [Impl("1.0"), Impl("2.0")])
        r = zx("update", "web", *FAST)
        assert r.rc == 0, r
        assert not (home / "store" / self.v1).exists()

    def kill_rollback_at(self, point: Point, *, guardian_too: bool) -> None:
        extra = FAILS_READINESS if point in ("rolling-back", "rolled-back") else ()
        rollback = Stoppable(self.home, point, "rollback", "web", *FAST, *extra)
        rollback.wait_stopped()
        t = record(self.home, "web")["transition"]
        if guardian_too and t is not None:
            os.kill(t["guardian"], signal.SIGKILL)  # as a host crash or the OOM killer might
        rollback.kill()

    def settled(self) -> bool:
        return record(self.home, "web")["transition"] is None

    def runs_one_whole_version(self) -> str:
        """The version web runs: the one its record names, whose answer it gives; its disk as it was."""
        rec = record(self.home, "web")
        assert rec["transition"] is None, rec
        status = json.loads(self.zx("status", "web", "--json").out)
        assert (status["state"], status["version"]) == ("running", rec["current"]["version"]), status
        assert wait_for(lambda: answers(self.port) == rec["current"]["version"], timeout=10), rec
        assert (self.disk.read_bytes(), self.disk.stat().st_ino) == (self.data, self.inode)
        return str(rec["current"]["version"])

    def rolls_back_to_1_0(self) -> None:
        r = self.zx("rollback", "web", "--to", "1.0", *FAST)
        assert r.rc == 0, r
        assert self.runs_one_whole_version() == "1.0"


# One point per phase of the journal (swap, done, rollback): the guardian takes the lock as doctor does.
@pytest.mark.parametrize("point", ["stopped", "done", "rolling-back"])
def test_rollback_killed_is_finished_or_undone_by_its_guardian(site: FeedSite, zx, zhome: Path, point: Point) -> None:
    web = Web(zx, site, zhome)
    web.kill_rollback_at(point, guardian_too=False)

    assert wait_for(web.settled, timeout=20), (zhome / "guardian.log").read_text()
    version, entries, _ = POINTS[point]
    assert web.runs_one_whole_version() == version
    assert history(zx, "web") == BEFORE + entries

    web.rolls_back_to_1_0()
    assert history(zx, "web")[: len(BEFORE + entries)] == BEFORE + entries


@pytest.mark.parametrize("point", list(POINTS))
def test_rollback_killed_with_its_guardian_is_finished_or_undone_by_doctor(
    site: FeedSite, zx, zhome: Path, point: Point
) -> None:
    web = Web(zx, site, zhome)
    web.kill_rollback_at(point, guardian_too=True)

    r = zx("doctor")
    assert r.rc == 0, r
    version, entries, done = POINTS[point]
    assert r.out == (f"{done}\n" if done else "nothing to do: no change was left half done\n")
    assert web.runs_one_whole_version() == version
    assert history(zx, "web") == BEFORE + entries

    web.rolls_back_to_1_0()


def test_rollback_killed_with_its_guardian_is_undone_by_the_next_command(site: FeedSite, zx, zhome: Path) -> None:
    web = Web(zx, site, zhome)
    web.kill_rollback_at("stopped", guardian_too=True)
    assert answers(web.port) is None  # nothing runs web until 0xl is run again
    assert "rollback 2.0 -> 1.0, interrupted: the next 0xl command on web finishes it" in zx("status", "web").out

    r = zx("rollback", "web", "--to", "1.0", *FAST)

    assert r.rc == 0, r
    assert f"0xl: {UNDONE}" in r.err
    assert web.runs_one_whole_version() == "1.0"
    assert history(zx, "web") == [*BEFORE, *INTERRUPTED, *FINISHED]
