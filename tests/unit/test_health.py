"""The health check's decisions, on a backend whose status is scripted and a clock that is not real.

The real thing runs in tests/integration/test_updates.py; these pin down the rules: ready, then up for
the settle time; any exit or restart is unhealthy at once; a deadline for readiness; 0xl's own log
lines are never taken for the service's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from zeroxl.app import health
from zeroxl.backends.base import RuntimeStatus
from zeroxl.backends.states import RUNNING, STOPPED
from zeroxl.errors import UsageError
from zeroxl.state.service import Readiness, Service

UP = RuntimeStatus(RUNNING, pid=10, started=100.0)
SVC = Service(name="web", feed="f", backend="unix", target="Linux-x86_64")


class Scripted:
    """A backend whose status is UP until the clock reaches a time, then something else."""

    name = "scripted"

    def __init__(self, log: Path, changes: dict[float, RuntimeStatus] | None = None) -> None:
        self.log = log
        self.changes = sorted((changes or {}).items())
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def status(self, svc: Service) -> RuntimeStatus:
        current = UP
        for at, status in self.changes:
            if self.now >= at:
                current = status
        return current

    def log_path(self, svc: Service) -> Path:
        return self.log

    def check(self, svc, impl_dir) -> None: ...
    def start(self, svc, impl_dir) -> None: ...
    def stop(self, svc, *, timeout=None) -> None: ...
    def cleanup(self, svc) -> None: ...


def run(backend: Scripted, ready: Readiness, offset: int = 0) -> health.Health:
    return health.check(backend, SVC, ready, log_offset=offset, clock=backend.clock, sleep=backend.sleep)


def test_a_service_that_stays_up_for_the_settle_time_is_healthy(tmp_path: Path) -> None:
    result = run(Scripted(tmp_path / "log"), Readiness(settle=2.0, timeout=5))
    assert result.ok and result.elapsed == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize(
    ("later", "why"),
    [
        (RuntimeStatus(RUNNING, pid=None, last_exit="3", detail="exited with 3; restarting in 0.5 s"), "exited with 3"),
        (RuntimeStatus(RUNNING, pid=11, started=101.0, restarts=1), "it restarted"),
        (RuntimeStatus(STOPPED, last_exit="0", detail="exited with status 0"), "exited with status 0"),
    ],
    ids=["crashing", "restarted", "exited"],
)
def test_a_service_that_exits_or_restarts_while_settling_is_unhealthy_at_once(
    tmp_path: Path, later: RuntimeStatus, why: str
) -> None:
    result = run(Scripted(tmp_path / "log", {1.0: later}), Readiness(settle=3.0, timeout=5))
    assert not result.ok and why in result.reason
    assert result.elapsed < 1.2


def test_a_run_that_already_exited_is_unhealthy_without_waiting(tmp_path: Path) -> None:
    backend = Scripted(tmp_path / "log", {0.0: RuntimeStatus(RUNNING, last_exit="3", detail="exited with 3")})
    result = run(backend, Readiness(settle=3.0))
    assert not result.ok and result.elapsed == 0


def test_ready_log_waits_for_a_matching_line_of_the_service_after_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(b"web 1.0 listening on 8080\n")  # the old version's line
    offset = log.stat().st_size

    class Writing(Scripted):
        """Appends to the log as the clock passes given times: a line of 0xl's own, then the service's in two writes."""

        def __init__(self, log: Path) -> None:
            super().__init__(log)
            self.writes = [
                (1.0, b"[0xl 2026] started version 2.0; listening on nothing\nweb 2.0 listen"),
                (1.5, b"ing on 8080\n"),
            ]

        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            while self.writes and self.writes[0][0] <= self.now + 1e-9:
                with log.open("ab") as f:
                    f.write(self.writes.pop(0)[1])

    backend = Writing(log)
    result = run(backend, Readiness(settle=0.5, log="listening on", timeout=5), offset)
    assert result.ok
    assert result.elapsed == pytest.approx(2.0, abs=0.1)  # ready at 1.5 s, then 0.5 s of settling


def test_not_ready_within_the_timeout_is_unhealthy_and_says_what_was_missing(tmp_path: Path) -> None:
    result = run(Scripted(tmp_path / "log"), Readiness(settle=0.5, log="ready", tcp="127.0.0.1:1", timeout=1))
    assert not result.ok
    assert "not ready within 1 s" in result.reason
    assert "no log line matched 'ready'" in result.reason and "nothing answered on 127.0.0.1:1" in result.reason


def test_readiness_options_are_checked() -> None:
    base = Readiness()
    assert health.readiness(base, tcp="[::1]:80").tcp == "[::1]:80"
    assert health.parse_tcp("[::1]:80") == ("::1", 80)
    assert health.readiness(Readiness(log="x"), log="").log is None
    for bad in [
        {"tcp": "host"},
        {"tcp": "host:0"},
        {"tcp": "host:99999"},
        {"log": "("},
        {"settle": -1.0},
        {"timeout": 0.0},
    ]:
        with pytest.raises(UsageError):
            health.readiness(base, **bad)  # type: ignore[arg-type]


def test_ready_log_matches_a_line_as_the_service_wrote_it_not_its_stamp(tmp_path: Path) -> None:
    # The unix supervisor writes the time it received each line before it (host.logstamp): a pattern
    # anchored at the start of the line, or one that says "not a date", must still match the service's words.
    from zeroxl.host import logstamp

    log = tmp_path / "log"
    log.write_bytes(b"")

    class Writing(Scripted):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if self.now >= 1.0 and not log.read_bytes():
                stamper = logstamp.Stamper()
                log.write_bytes(stamper.line(b"[0xl 2026] started\n", 1e9) + stamper.feed(b"ready on 8080\n", 1e9))

    result = run(Writing(log), Readiness(settle=0.5, log="^ready on [0-9]+$", timeout=5), 0)
    assert result.ok, result


def test_ready_log_matches_a_serial_console_line_ending_in_crlf(tmp_path: Path) -> None:
    # A VM's serial console ends its lines with CR LF: `$` must match before the CR as before a LF.
    log = tmp_path / "console.log"
    log.write_bytes(b"READY boot=1\r\n")  # the run before's
    offset = log.stat().st_size

    class Writing(Scripted):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if self.now >= 1.0 and log.stat().st_size == offset:
                with log.open("ab") as f:
                    f.write(b"booting\r\nREADY boot=2\r\n")

    assert run(Writing(log), Readiness(settle=0.5, log="^READY boot=2$", timeout=5), offset).ok
    # And never the run before's line, whatever the pattern.
    result = run(Scripted(log), Readiness(settle=0.5, log="^READY boot=1$", timeout=5), log.stat().st_size)
    assert not result.ok and "no log line matched" in result.reason, result


def test_ready_log_asks_the_backend_for_the_log_at_every_look(tmp_path: Path) -> None:
    # On a remote host the log is a copy of the console that asking for it brings up to date
    # (backends/libvirt): a check that kept the first answer would never see the new run's lines.
    first = tmp_path / "copy-1"
    first.write_bytes(b"old line\n")
    offset = first.stat().st_size

    class Pulled(Scripted):
        def log_path(self, svc: Service) -> Path:
            copy = tmp_path / f"copy-{int(self.now) + 1}"
            if not copy.exists():
                copy.write_bytes(b"old line\n" + (b"listening\n" if self.now >= 2.0 else b""))
            return copy

    result = run(Pulled(first), Readiness(settle=0.5, log="^listening$", timeout=5), offset)
    assert result.ok, result


def test_a_log_copy_shorter_than_where_the_run_began_is_waited_for_not_read_from_its_start(tmp_path: Path) -> None:
    # A remote console's copy whose pull failed just before the start: the host's console was already
    # longer than the copy. All the copy holds is earlier runs' — never a match for this one.
    log = tmp_path / "console.log"
    log.write_bytes(b"READY boot=1\r\n")
    inode, began = log.stat().st_ino, log.stat().st_size + len(b"booting\r\n")
    stale = Scripted(log)
    result = health.check(
        stale, SVC, Readiness(settle=0.5, log="^READY", timeout=3), log_offset=began, log_inode=inode,
        clock=stale.clock, sleep=stale.sleep,
    )  # fmt: skip
    assert not result.ok and "no log line matched" in result.reason, result

    # Once the copy catches up (appended in place: the same file), the new run's line counts.
    class CatchingUp(Scripted):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if self.now >= 1.0 and log.stat().st_size < began + 10:
                with log.open("ab") as f:
                    f.write(b"booting\r\nREADY boot=2\r\n")

    backend = CatchingUp(log)
    result = health.check(
        backend, SVC, Readiness(settle=0.5, log="^READY boot=2$", timeout=5), log_offset=began, log_inode=inode,
        clock=backend.clock, sleep=backend.sleep,
    )  # fmt: skip
    assert result.ok, result


def test_a_rotated_log_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(b"x" * 100 + b"\n")
    inode, offset = log.stat().st_ino, log.stat().st_size
    (tmp_path / "log").rename(tmp_path / "log.1")
    log.write_bytes(b"listening\n")  # another file, shorter than the offset in the old one
    assert log.stat().st_ino != inode
    backend = Scripted(log)
    result = health.check(
        backend, SVC, Readiness(settle=0.5, log="^listening$", timeout=3), log_offset=offset, log_inode=inode,
        clock=backend.clock, sleep=backend.sleep,
    )  # fmt: skip
    assert result.ok, result


def test_where_the_backend_noted_the_run_began_wins_over_the_callers_offset(tmp_path: Path) -> None:
    # libvirt notes the console's size on the host as it starts the run: a check reads from there even
    # when the caller measured the log before an earlier run's lines had reached it.
    log = tmp_path / "console.log"
    log.write_bytes(b"READY boot=1\r\n")

    class Noting(Scripted):
        def status(self, svc: Service) -> RuntimeStatus:
            return replace(super().status(svc), log_start=log.stat().st_size)

    backend = Noting(log)
    result = run(backend, Readiness(settle=0.5, log="^READY", timeout=3), offset=0)
    assert not result.ok and "no log line matched" in result.reason, result
