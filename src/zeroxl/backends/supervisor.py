"""The unix backend's supervisor: one small process per running service, outliving the 0xl command.

It starts the service in its own session, copies its output into the service's log (bounded: the log
is rotated to `log.1` past a size), restarts it with back-off when it fails, gives up after a number of
failures within a window, and on SIGTERM ends the service's whole process group (SIGTERM, then SIGKILL
after the stop timeout). What it is doing is always in `unix/state.json`, written atomically, with its
own identity so that a reader can tell a live supervisor from a dead one.

Run as `python -m zeroxl.backends.supervisor SERVICE_DIR`; the spec is SERVICE_DIR/unix/spec.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

from zeroxl import proc
from zeroxl.backends.procinfo import Identity, identity
from zeroxl.state import atomic, private

MAX_BACKOFF = 30.0


class LogWriter:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.f = self._open()

    def _open(self) -> BinaryIO:
        return open(private.create_file(str(self.path), os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab")  # noqa: PTH123

    def write(self, data: bytes) -> None:
        self.f.write(data)
        self.f.flush()
        if self.f.tell() > self.max_bytes:
            self.f.close()
            self.path.replace(self.path.with_name(self.path.name + ".1"))
            self.f = self._open()

    def event(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.write(f"[0xl {stamp}] {text}\n".encode())


def describe_exit(returncode: int) -> str:
    return f"signal {-returncode}" if returncode < 0 else str(returncode)


class Supervisor:
    def __init__(self, service_dir: Path) -> None:
        self.dir = service_dir
        self.spec: dict[str, Any] = json.loads((service_dir / "unix" / "spec.json").read_bytes())
        self.state_path = service_dir / "unix" / "state.json"
        self.log = LogWriter(service_dir / "log", int(self.spec["log_max"]))
        me = identity(os.getpid())
        if me is None:
            raise SystemExit("cannot read this process's own /proc entry")
        self.me = me
        self.stopping = False
        self.restarts = 0
        self.last_exit: str | None = None
        self.child: subprocess.Popen[bytes] | None = None
        self.leader: Identity | None = None
        self.child_started: float | None = None
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)

    def write_state(self, state: str, detail: str = "") -> None:
        atomic.write_json(
            self.state_path,
            {
                "supervisor": self.me.to_json(),
                "state": state,
                "pid": self.child.pid if self.child and state in ("running", "stopping") else None,
                # The service's leader (the session it leads has its pid as id): lets `0xl stop` clean up
                # after a killed supervisor without mistaking another process that got the same pid for it.
                "leader": self.leader.to_json() if self.leader and state in ("running", "stopping") else None,
                "started": self.child_started if state in ("running", "stopping") else None,
                "restarts": self.restarts,
                "last_exit": self.last_exit,
                "detail": detail,
                "version": self.spec.get("version"),
                "updated": time.time(),
            },
        )

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True
        with contextlib.suppress(BlockingIOError):
            os.write(self.wake_w, b"x")

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        failures: list[float] = []
        limit, window = int(self.spec["restart_limit"]), float(self.spec["restart_window"])
        while not self.stopping:
            returncode = self._run_once()
            if returncode is None:
                return 1
            self.last_exit = describe_exit(returncode)
            if self.stopping:
                break
            if returncode == 0:
                self.log.event("the service exited with status 0; not restarting")
                self.write_state("stopped", "exited with status 0")
                return 0
            now = time.monotonic()
            failures = [t for t in failures if now - t < window] + [now]
            if len(failures) > limit:
                detail = f"exited with {self.last_exit}; {len(failures)} failures within {window:g} s, giving up"
                self.log.event(detail)
                self.write_state("failed", detail)
                return 1
            delay = min(0.5 * 2 ** (len(failures) - 1), MAX_BACKOFF)
            self.log.event(f"the service exited with {self.last_exit}; restarting in {delay:g} s")
            self.write_state("backoff", f"exited with {self.last_exit}; restarting in {delay:g} s")
            self._sleep(delay)
            if not self.stopping:
                self.restarts += 1
        self.write_state("stopped", "stopped on request")
        self.log.event("stopped")
        return 0

    def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(InterruptedError):
            select.select([self.wake_r], [], [], seconds)

    def _run_once(self) -> int | None:
        out_r, out_w = os.pipe()
        try:
            self.child = proc.spawn(
                self.spec["argv"],
                cwd=Path(self.spec["cwd"]),
                stdout=out_w,
                stderr=out_w,
                env=self.spec["env"],
                new_session=True,
                die_with_parent=True,
            )
        except proc.CommandFailed as e:
            os.close(out_r)
            self.log.event(e.message)
            self.write_state("failed", e.message)
            return None
        finally:
            os.close(out_w)
        self.child_started = time.time()
        # Not yet reaped, so /proc still has it even if it has already exited.
        self.leader = identity(self.child.pid, zombie=True)
        self.log.event(f"started version {self.spec.get('version')} as pid {self.child.pid}")
        self.write_state("running")
        returncode = self._pump(self.child, out_r)
        os.close(out_r)
        return returncode

    def _pump(self, child: subprocess.Popen[bytes], out: int) -> int:
        kill_at: float | None = None
        grace = 0.0
        open_out = True
        while True:
            if self.stopping and kill_at is None:
                self.write_state("stopping")
                self._signal_group(child.pid, signal.SIGTERM)
                grace = self._stop_timeout()
                kill_at = time.monotonic() + grace
            if kill_at is not None and time.monotonic() >= kill_at:
                self.log.event(f"still running {grace:g} s after SIGTERM; sending SIGKILL")
                self._signal_group(child.pid, signal.SIGKILL)
                kill_at = float("inf")
            fds = [self.wake_r] + ([out] if open_out else [])
            try:
                ready, _, _ = select.select(fds, [], [], 0.2)
            except InterruptedError:
                ready = []
            if self.wake_r in ready:
                os.read(self.wake_r, 64)
            if open_out and out in ready:
                data = os.read(out, 65536)
                if data:
                    self.log.write(data)
                else:
                    open_out = False
            returncode = child.poll()
            if returncode is not None:
                # The leader is gone: whatever it left in its group goes too, then drain what they wrote.
                self._signal_group(child.pid, signal.SIGKILL)
                self._drain(out)
                return returncode

    def _stop_timeout(self) -> float:
        """The grace period: `0xl stop --timeout` leaves it in unix/stop.json before signalling us."""
        try:
            return float(json.loads((self.dir / "unix" / "stop.json").read_bytes())["timeout"])
        except (OSError, ValueError, KeyError, TypeError):
            return float(self.spec["stop_timeout"])

    def _drain(self, out: int) -> None:
        os.set_blocking(out, False)
        with contextlib.suppress(BlockingIOError, OSError):
            while data := os.read(out, 65536):
                self.log.write(data)

    @staticmethod
    def _signal_group(pgid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m zeroxl.backends.supervisor SERVICE_DIR", file=sys.stderr)
        return 2
    # It writes only in ZEROXL_HOME, which is its owner's alone; the service inherits this umask, so what
    # it makes in its working directory is private too (docs/unix-backend.md).
    os.umask(private.UMASK)
    return Supervisor(Path(argv[1])).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
