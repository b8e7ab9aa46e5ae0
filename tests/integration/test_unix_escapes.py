"""A unix service's program that escapes its session (issue 10, point 11): a real program that forks
twice and calls setsid, as a daemon does, leaves a process in no session or process group of the
service's. Everything the program started must end with it: on stop, on destroy, and when it exits."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import wait_for

# Daemonizes a child the classic way (fork, setsid, fork again, chdir /, close its output), then the
# program itself runs on (or exits with EXIT after a second, if given).
ESCAPER = textwrap.dedent(
    """\
    #!/usr/bin/env python3
    import os, sys, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open("escaped.pid", "w") as f:
                f.write(str(os.getpid()))
            os.chdir("/")
            devnull = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            time.sleep(1000)
        os._exit(0)
    print("started; the daemon escaped", flush=True)
    code = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--exit=")]
    time.sleep(1 if code else 1000)
    sys.exit(int(code[0]) if code else 0)
    """
)


def _add(zx, site: FeedSite, *extra: str) -> None:
    url = site.publish("svc", [Impl("1.0", files={"bin/web": (ESCAPER.encode(), 0o755)})])
    r = zx("add", "svc", url, "--trust-key", site.publisher.fingerprint, *extra)
    assert r.rc == 0, r


@pytest.fixture
def daemons() -> Iterator[list[int]]:
    """The escaped daemons a test saw; those still alive at its end are killed (the zx fixture's cleanup
    knows only the supervisor and the program's group)."""
    seen: list[int] = []
    yield seen
    for pid in seen:
        if _lives(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _escaped(zhome: Path, daemons: list[int]) -> int:
    pid_file = zhome / "services" / "svc" / "data" / "escaped.pid"
    assert wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", timeout=10)
    pid = int(pid_file.read_text())
    pid_file.unlink()
    daemons.append(pid)
    return pid


def _lives(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rindex(")") + 2] != "Z"


def _session(pid: int) -> int:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return int(raw[raw.rindex(")") + 2 :].split()[3])


def test_stop_ends_a_process_that_escaped_the_services_session(
    site: FeedSite, zx, zhome: Path, daemons: list[int]
) -> None:
    _add(zx, site)
    assert zx("run", "svc").rc == 0
    escaped = _escaped(zhome, daemons)
    leader = json.loads(zx("status", "svc", "--json").out)["pid"]
    assert _session(escaped) not in (_session(leader), leader)
    assert zx("stop", "svc").rc == 0
    assert wait_for(lambda: not _lives(escaped), timeout=5), "the escaped daemon outlived stop"


def test_destroy_ends_a_process_that_escaped_the_services_session(
    site: FeedSite, zx, zhome: Path, daemons: list[int]
) -> None:
    _add(zx, site)
    assert zx("run", "svc").rc == 0
    escaped = _escaped(zhome, daemons)
    assert zx("destroy", "svc").rc == 0
    assert wait_for(lambda: not _lives(escaped), timeout=5), "the escaped daemon outlived destroy"


def test_a_program_that_exits_takes_what_escaped_with_it(site: FeedSite, zx, zhome: Path, daemons: list[int]) -> None:
    # A restart must not find the old daemon still holding the disk and the port.
    (zhome).mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text("[unix]\nrestart_limit = 1\n")
    _add(zx, site, "--arg", "exit=7")
    assert zx("run", "svc").rc == 0
    first = _escaped(zhome, daemons)
    second = _escaped(zhome, daemons)  # the restarted program's
    assert not _lives(first), "the first daemon outlived its program"
    assert wait_for(lambda: json.loads(zx("status", "svc", "--json").out)["state"] == "failed", timeout=15)
    assert wait_for(lambda: not _lives(second), timeout=5), "the daemon outlived its program"


def test_stop_after_a_killed_supervisor_ends_what_escaped(site: FeedSite, zx, zhome: Path, daemons: list[int]) -> None:
    # The program dies with its supervisor (its parent-death signal); the daemon it left is in no session
    # of the service's. The supervisor noted it: stop ends it, and so does a run before it starts a copy.
    _add(zx, site)
    assert zx("run", "svc").rc == 0
    escaped = _escaped(zhome, daemons)
    state = zhome / "services" / "svc" / "unix" / "state.json"
    assert wait_for(lambda: [e["pid"] for e in json.loads(state.read_text())["escaped"]] == [escaped])
    os.kill(json.loads(state.read_text())["supervisor"]["pid"], signal.SIGKILL)
    assert json.loads(zx("status", "svc", "--json").out)["state"] == "failed"  # its supervisor is gone
    assert _lives(escaped)

    assert zx("run", "svc").rc == 0
    assert not _lives(escaped), "run started a second copy beside the old daemon"
    again = _escaped(zhome, daemons)
    assert wait_for(lambda: [e["pid"] for e in json.loads(state.read_text())["escaped"]] == [again])
    os.kill(json.loads(state.read_text())["supervisor"]["pid"], signal.SIGKILL)
    assert zx("stop", "svc").rc == 0
    assert not _lives(again), "the escaped daemon outlived stop"
