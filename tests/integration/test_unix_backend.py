"""The unix backend with real processes: supervision, restarts, stop, logs, and honesty of status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import free_port, http_get, wait_for


def script(body: str) -> dict[str, tuple[bytes, int]]:
    return {"bin/web": (("#!/bin/sh\n" + body).encode(), 0o755)}


def add(zx, site: FeedSite, files: dict[str, tuple[bytes, int]] | None = None, *extra: str) -> None:
    url = site.publish("svc", [Impl("1.0", files=files or {})])
    r = zx("add", "svc", url, "--trust-key", site.publisher.fingerprint, *extra)
    assert r.rc == 0, r


def status(zx) -> dict:
    return json.loads(zx("status", "svc", "--json").out)


def test_failing_service_is_restarted_with_backoff_then_marked_failed(site: FeedSite, zx, zhome: Path) -> None:
    (zhome).mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text("[unix]\nrestart_limit = 2\nrestart_window = 60\n")
    # Up for a moment each time: a program that fails at once is a failed `run` (tested below).
    add(zx, site, script('echo "attempt at $(date +%s.%N)"; sleep 1; exit 7\n'))
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: "giving up" in status(zx)["detail"], timeout=20)
    s = status(zx)
    assert s["restarts"] == 2 and s["last_exit"] == "7", s
    assert s["state"] == "failed"
    log = zx("logs", "svc").out
    assert log.count("attempt at") == 3
    assert "restarting in 0.5 s" in log and "restarting in 1 s" in log


def test_stop_ends_the_whole_process_group(site: FeedSite, zx) -> None:
    add(zx, site, script("sleep 1000 &\necho child $!\nsleep 1000\n"))
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: "child" in zx("logs", "svc").out)
    child = int(zx("logs", "svc").out.split("child ")[1].split()[0])
    leader = status(zx)["pid"]
    assert zx("stop", "svc").rc == 0
    for pid in (child, leader):
        assert wait_for(lambda p=pid: not Path(f"/proc/{p}").exists(), timeout=5), pid


def test_service_ignoring_sigterm_is_killed_after_the_timeout(site: FeedSite, zx) -> None:
    add(zx, site, script("trap '' TERM\necho ready\nwhile :; do sleep 0.1; done\n"))
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: "ready" in zx("logs", "svc").out)
    pid = status(zx)["pid"]
    started = time.monotonic()
    assert zx("stop", "svc", "--timeout", "1").rc == 0
    assert time.monotonic() - started < 8
    assert not Path(f"/proc/{pid}").exists()
    assert "sending SIGKILL" in zx("logs", "svc").out


def test_killed_supervisor_never_leaves_status_claiming_it_runs(site: FeedSite, zx, zhome: Path) -> None:
    port = free_port()
    add(zx, site, None, "--arg", f"port={port}")
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: http_get(port) is not None)
    state = json.loads((zhome / "services/svc/unix/state.json").read_text())
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)
    # PR_SET_PDEATHSIG takes the service down with its supervisor.
    assert wait_for(lambda: http_get(port) is None, timeout=5)
    s = status(zx)
    assert s["state"] == "failed" and "supervisor is gone" in s["detail"], s
    assert [x["state"] for x in json.loads(zx("list", "--json").out)] == ["failed"]
    # run brings it back; stop then reports it stopped.
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: http_get(port) is not None)
    assert zx("stop", "svc").rc == 0
    assert status(zx)["state"] == "stopped"


def test_state_of_another_boot_is_not_believed(site: FeedSite, zx, zhome: Path) -> None:
    port = free_port()
    add(zx, site, None, "--arg", f"port={port}")
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: http_get(port) is not None)
    path = zhome / "services/svc/unix/state.json"
    state = json.loads(path.read_text())
    real = dict(state["supervisor"])
    # As after a reboot: the same pid may exist, but the boot id differs.
    state["supervisor"]["boot_id"] = "00000000-0000-0000-0000-000000000000"
    path.write_text(json.dumps(state))
    assert status(zx)["state"] == "failed"
    state["supervisor"] = real
    path.write_text(json.dumps(state))
    assert status(zx)["state"] == "running"


def test_clean_exit_is_not_restarted(site: FeedSite, zx) -> None:
    add(zx, site, script("echo done\nexit 0\n"))
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: status(zx)["state"] == "stopped")
    assert status(zx)["last_exit"] == "0" and status(zx)["restarts"] == 0


def test_log_is_bounded(site: FeedSite, zx, zhome: Path) -> None:
    add(
        zx,
        site,
        script(
            'i=0; while [ $i -lt 30000 ]; do echo "line $i padding padding padding padding"; i=$((i+1)); done; sleep 1000\n'
        ),
    )
    assert zx("run", "svc").rc == 0
    log = zhome / "services/svc/log"
    assert wait_for(lambda: "line 29999" in log.read_text(errors="replace"), timeout=30)
    assert log.stat().st_size <= (1 << 20) + 65536
    assert (zhome / "services/svc/log.1").stat().st_size > (1 << 20) - 1
    tail = zx("logs", "svc", "-n", "1").out
    assert tail.startswith("line 29999")


def test_run_fails_clearly_when_the_program_cannot_start(site: FeedSite, zx) -> None:
    url = site.publish("svc", [Impl("1.0", files={"bin/web": (b"#!/nonexistent/interpreter\n", 0o755)})])
    assert zx("add", "svc", url, "--trust-key", site.publisher.fingerprint).rc == 0
    r = zx("run", "svc")
    assert r.rc == 6, r
    assert "did not start" in r.err
    assert status(zx)["state"] in ("failed", "stopped")


def test_add_refuses_an_implementation_without_an_executable_run_command(site: FeedSite, zx, zhome: Path) -> None:
    url = site.publish("svc", [Impl("1.0", files={"bin/web": (b"not executable", 0o644)})])
    r = zx("add", "svc", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 6 and "not an executable file" in r.err, r
    assert json.loads(zx("list", "--json").out) == []


def _stale_state(zhome: Path, **changes: object) -> None:
    """Make state.json look as a crash or reboot left it: a supervisor that is gone, service state running."""
    path = zhome / "services/svc/unix/state.json"
    state = json.loads(path.read_text())
    state.update(state="running", started=time.time(), **changes)
    state["supervisor"]["boot_id"] = "00000000-0000-0000-0000-000000000000"
    path.write_text(json.dumps(state))


def _starttime(pid: int) -> int:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return int(raw[raw.rindex(")") + 2 :].split()[19])


@pytest.mark.parametrize("leader", ["other-boot", "reused-pid", "not-recorded"])
def test_run_after_a_lost_supervisor_never_kills_a_process_that_reused_the_pid(
    site: FeedSite, zx, zhome: Path, leader: str
) -> None:
    add(zx, site, script("echo up\nsleep 1000\n"))
    assert zx("run", "svc").rc == 0
    assert zx("stop", "svc").rc == 0
    # An unrelated program that leads its own session (a daemon, a login shell) and has the pid state.json
    # names as the service's.
    victim = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        recorded = {
            "other-boot": {"pid": victim.pid, "starttime": _starttime(victim.pid), "boot_id": "another-boot"},
            "reused-pid": {"pid": victim.pid, "starttime": _starttime(victim.pid) - 1, "boot_id": boot},
            "not-recorded": None,
        }[leader]
        _stale_state(zhome, pid=victim.pid, leader=recorded)
        assert zx("run", "svc").rc == 0
        assert zx("stop", "svc").rc == 0
        assert victim.poll() is None, "0xl killed an unrelated process"
    finally:
        victim.kill()
        victim.wait()


def test_stop_after_a_killed_supervisor_kills_what_the_service_left(site: FeedSite, zx, zhome: Path) -> None:
    add(zx, site, script("sleep 1000 &\necho child $!\nsleep 1000\n"))
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: "child" in zx("logs", "svc").out)
    child = int(zx("logs", "svc").out.split("child ")[1].split()[0])
    state = json.loads((zhome / "services/svc/unix/state.json").read_text())
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)
    # PR_SET_PDEATHSIG ends the leader only; its child lives on in the session, unsupervised.
    assert wait_for(lambda: not Path(f"/proc/{state['pid']}").exists() or _zombie(state["pid"]), timeout=5)
    assert Path(f"/proc/{child}").exists()
    assert zx("stop", "svc").rc == 0
    assert wait_for(lambda: not Path(f"/proc/{child}").exists() or _zombie(child), timeout=5)


def _zombie(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return raw[raw.rindex(")") + 2] == "Z"


def _supervisor_pid(zhome: Path) -> int:
    return int(json.loads((zhome / "services/svc/unix/state.json").read_text())["supervisor"]["pid"])


def test_restart_backoff_is_reported_failed_and_run_or_stop_end_it(site: FeedSite, zx, zhome: Path) -> None:
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text("[unix]\nrestart_limit = 50\nrestart_window = 60\n")
    add(zx, site, script("echo attempt; sleep 1; exit 7\n"))
    assert zx("run", "svc").rc == 0
    in_backoff = lambda: "restarting in" in status(zx)["detail"]  # noqa: E731
    # A back-off of 4 s (the fourth, after 0.5, 1 and 2 s) leaves time for the checks below before the
    # next attempt: a `run` that met the program running would rightly leave its supervisor alone.
    assert wait_for(lambda: "restarting in 4 s" in status(zx)["detail"], timeout=20)
    # Nothing runs between two attempts: not "running", whatever the supervisor plans.
    s = status(zx)
    assert (s["state"], s["pid"], s["last_exit"]) == ("failed", None, "7"), s
    assert [x["state"] for x in json.loads(zx("list", "--json").out)] == ["failed"]
    # run starts it afresh: the supervisor in back-off is stopped, not joined by a second one.
    first = _supervisor_pid(zhome)
    assert zx("run", "svc").rc == 0
    assert not Path(f"/proc/{first}").exists() or _zombie(first)
    assert _supervisor_pid(zhome) != first and status(zx)["restarts"] == 0
    # stop ends a supervisor in back-off too.
    assert wait_for(in_backoff, timeout=10)
    second = _supervisor_pid(zhome)
    assert zx("stop", "svc").rc == 0
    assert not Path(f"/proc/{second}").exists() or _zombie(second)
    assert status(zx)["state"] == "stopped"


def test_run_of_a_program_that_exits_at_once_fails_and_leaves_nothing_running(site: FeedSite, zx, zhome: Path) -> None:
    add(zx, site, script("echo attempt; exit 7\n"))
    r = zx("run", "svc")
    assert r.rc == 6, r
    assert "svc exited with 7 at start" in r.err and "0xl logs svc" in r.err, r
    sup = _supervisor_pid(zhome)
    assert not Path(f"/proc/{sup}").exists() or _zombie(sup)
    s = status(zx)
    assert (s["state"], s["last_exit"], s["detail"]) == ("failed", "7", "exited with 7 at start"), s
    time.sleep(1.5)  # past the first back-offs: nothing tries again
    assert zx("logs", "svc").out.count("attempt") == 1
