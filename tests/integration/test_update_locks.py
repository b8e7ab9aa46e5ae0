"""Commands that meet an update: a command on a service being updated fails at once with a message that
says so, or waits for it with --wait; overlapping `update --all` runs (the timer's and one by hand)
never work on the same services at once. 0xl is held still at a point by its test hook and let go
with SIGCONT, so that each meeting happens for sure."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.feeds import FeedSite, Impl
from tests.support.killing import Stoppable
from tests.support.updating import FAST, add_running, all_serve, answers, publish, record
from tests.support.zx import wait_for


def test_command_on_a_service_during_its_update_fails_clearly_or_waits(site: FeedSite, zx, zhome: Path) -> None:
    port = add_running(zx, site, "web", [Impl("1.0")])
    publish(site, "web", [Impl("1.0"), Impl("2.0")])
    update = Stoppable(zhome, "started", "update", "web", *FAST)
    update.wait_stopped()

    r = zx("stop", "web")
    assert r.rc == 7, r
    assert "service web is busy: 0xl is replacing version 1.0 with 2.0" in r.err
    assert "--wait" in r.err
    status = json.loads(zx("status", "web", "--json").out)
    assert status["transition"]["live"] is True
    assert f"update 1.0 -> 2.0, in progress (pid {update.proc.pid})" in zx("status", "web").out

    waiting = Stoppable(zhome, None, "stop", "web", "--wait", "30")
    assert wait_for(lambda: waiting.has_open("service-web.lock")), waiting.output()
    assert update.resume() == 0, update.output()
    assert waiting.proc.wait(timeout=30) == 0, waiting.output()
    # The stop came after the whole update: 2.0 is recorded, and nothing runs.
    rec = record(zhome, "web")
    assert (rec["current"]["version"], rec["desired"], rec["transition"]) == ("2.0", "stopped", None)
    assert answers(port) is None


def test_overlapping_update_all_runs_do_not_collide(site: FeedSite, zx, zhome: Path) -> None:
    ports = {name: add_running(zx, site, name, [Impl("1.0")]) for name in ("a", "b")}
    for name in ports:
        publish(site, name, [Impl("1.0"), Impl("2.0")])
    first = Stoppable(zhome, "fetched", "update", "--all", *FAST)
    first.wait_stopped()

    r = zx("update", "--all", *FAST)
    assert r.rc == 7, r
    assert "0xl update --all is busy: another 0xl update --all is running" in r.err

    second = Stoppable(zhome, None, "update", "--all", "--wait", "60", *FAST)
    assert wait_for(lambda: second.has_open("update-all.lock")), second.output()
    assert first.resume() == 0, first.output()
    assert second.proc.wait(timeout=60) == 0, second.output()
    assert "a: updated 1.0 -> 2.0" in first.output()
    assert second.output().splitlines() == ["a: 2.0 is current", "b: 2.0 is current"]
    assert all_serve(ports, {"a": "2.0", "b": "2.0"})
