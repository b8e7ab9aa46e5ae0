"""Restart policies on the unix backend, with real processes: `always`, `on-failure` (not after a clean
exit, nor after an exit status meaning "bad arguments": Solo5's 1, Mirage's 60-64), `never`; what
status shows of restarts and of the last exit; and `0xl restart` (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import wait_for

# Up long enough that `run` sees it start, then exits with the status written in CODE_FILE.
PROGRAM = """#!/bin/sh
echo "attempt"
sleep 1
exit $(cat {code_file})
"""


def _add(zx, site: FeedSite, tmp_path: Path, code: int, *extra: str) -> Path:
    code_file = tmp_path / "code"
    code_file.write_text(f"{code}\n")
    files = {"bin/web": (PROGRAM.format(code_file=code_file).encode(), 0o755)}
    url = site.publish("svc", [Impl("1.0", files=files)])
    r = zx("add", "svc", url, "--trust-key", site.publisher.fingerprint, *extra)
    assert r.rc == 0, r
    return code_file


def _status(zx) -> dict:
    return json.loads(zx("status", "svc", "--json").out)


def _ended(zx) -> dict:
    assert wait_for(lambda: _status(zx)["state"] != "running" and not _status(zx).get("runtime"), timeout=15)
    return _status(zx)


@pytest.mark.parametrize("code", [1, 60, 62, 64])
def test_on_failure_does_not_restart_an_exit_meaning_bad_arguments(
    site: FeedSite, zx, zhome: Path, tmp_path: Path, code: int
) -> None:
    _add(zx, site, tmp_path, code)
    assert zx("run", "svc").rc == 0
    s = _ended(zx)
    assert (s["state"], s["restarts"], s["last_exit"]) == ("failed", 0, str(code)), s
    assert "means bad arguments" in s["detail"], s
    assert zx("logs", "svc").out.count("attempt") == 1
    r = zx("status", "svc")
    assert f"last exit: {code}\n" in r.out and "bad arguments" in r.out, r


@pytest.mark.parametrize("code", [2, 59, 65, 70])
def test_on_failure_restarts_other_failures(site: FeedSite, zx, zhome: Path, tmp_path: Path, code: int) -> None:
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text("[unix]\nrestart_limit = 1\n")
    _add(zx, site, tmp_path, code)
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: "giving up" in _status(zx)["detail"], timeout=20)
    s = _status(zx)
    assert (s["state"], s["restarts"], s["last_exit"]) == ("failed", 1, str(code)), s


def test_on_failure_leaves_a_clean_exit_stopped(site: FeedSite, zx, tmp_path: Path) -> None:
    _add(zx, site, tmp_path, 0)
    assert zx("run", "svc").rc == 0
    s = _ended(zx)
    assert (s["state"], s["restarts"], s["last_exit"]) == ("stopped", 0, "0"), s


def test_always_restarts_a_clean_exit_too(site: FeedSite, zx, zhome: Path, tmp_path: Path) -> None:
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text("[unix]\nrestart_limit = 2\n")
    _add(zx, site, tmp_path, 0, "--restart", "always")
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: "giving up" in _status(zx)["detail"], timeout=20)
    s = _status(zx)
    assert (s["state"], s["restarts"], s["last_exit"], s["restart"]) == ("failed", 2, "0", "always"), s
    assert zx("logs", "svc").out.count("attempt") == 3


def test_always_restarts_an_exit_meaning_bad_arguments(site: FeedSite, zx, zhome: Path, tmp_path: Path) -> None:
    code_file = _add(zx, site, tmp_path, 1, "--restart", "always")
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: _status(zx)["restarts"] >= 1, timeout=15)
    code_file.write_text("0\n")
    assert zx("stop", "svc").rc == 0


def test_never_does_not_restart_a_failure(site: FeedSite, zx, tmp_path: Path) -> None:
    _add(zx, site, tmp_path, 7, "--restart", "never")
    assert zx("run", "svc").rc == 0
    s = _ended(zx)
    assert (s["state"], s["restarts"], s["last_exit"]) == ("failed", 0, "7"), s
    assert "the restart policy is never" in s["detail"], s


def test_set_restart_applies_from_the_next_start(site: FeedSite, zx, tmp_path: Path) -> None:
    _add(zx, site, tmp_path, 7)
    r = zx("set", "svc", "--restart", "never")
    assert r.rc == 0 and "svc: restart never" in r.out, r
    assert zx("run", "svc").rc == 0
    s = _ended(zx)
    assert (s["state"], s["restarts"]) == ("failed", 0), s
    r = zx("set", "svc", "--restart", "sometimes")
    assert r.rc == 2 and "invalid choice" in r.err, r


def test_restart_runs_a_new_process_and_keeps_it_desired_running(site: FeedSite, zx, tmp_path: Path) -> None:
    files = {"bin/web": (b"#!/bin/sh\necho up\nexec sleep 1000\n", 0o755)}
    url = site.publish("svc", [Impl("1.0", files=files)])
    assert zx("add", "svc", url, "--trust-key", site.publisher.fingerprint).rc == 0
    r = zx("restart", "svc")
    assert r.rc == 0 and r.out == "svc started (it was not running) (version 1.0)\n", r
    before = _status(zx)["pid"]
    r = zx("restart", "svc", "--json")
    assert r.rc == 0 and json.loads(r.out) == {"name": "svc", "version": "1.0", "was_running": True}, r
    after = _status(zx)
    assert after["state"] == "running" and after["pid"] != before, after
    assert not Path(f"/proc/{before}").exists()
    record = json.loads((tmp_path / "zhome" / "services" / "svc" / "service.json").read_text())
    assert record["desired"] == "running"


def test_restart_of_an_unknown_service_is_refused(zx, zhome: Path) -> None:
    r = zx("restart", "nosuch")
    assert r.rc == 3 and "0xl: error: no service named 'nosuch'" in r.err, r
