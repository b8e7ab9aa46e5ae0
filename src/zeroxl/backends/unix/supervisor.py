"""The unix backend's supervisor: one small process per running service, outliving the 0xl command.

It starts the service in its own session, copies its output into the service's log (bounded: the log
is rotated to `log.1` past a size), restarts it with back-off when it fails, gives up after a number of
failures within a window, and on SIGTERM ends everything the service started (SIGTERM, then SIGKILL
after the stop timeout). What it is doing is always in `unix/state.json`, written atomically, with its
own identity so that a reader can tell a live supervisor from a dead one.

It is a child subreaper (PR_SET_CHILD_SUBREAPER): a process the service starts and leaves behind, even
one that escaped into a session of its own (a daemon's fork, setsid, fork), becomes the supervisor's
child rather than init's. So everything the service started is below the supervisor, and ends with the
program: on stop, and when the program exits (before a restart, which must not meet the old daemon).

Run as `python -m zeroxl.backends.unix.supervisor SERVICE_DIR`; the spec is SERVICE_DIR/unix/spec.json.
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
from zeroxl.host import logstamp, procinfo
from zeroxl.host.procinfo import Identity, identity
from zeroxl.state import atomic, private

MAX_BACKOFF = 30.0
# How long ending what the service left may take once SIGKILL is sent (a process in uninterruptible
# sleep dies when it wakes up).
KILL_WAIT = 10.0
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class LogWriter:
    """The service's log: what the program writes, each line after the time it was received
    (host.logstamp), and the supervisor's own lines; rotated to `log.1` past MAX_BYTES."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.stamper = logstamp.Stamper()
        self.f = self._open()

    def _open(self) -> BinaryIO:
        f = open(private.create_file(str(self.path), os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab")  # noqa: PTH123, SIM115
        # A log that ends in the middle of a line (a supervisor killed while the program wrote it): the
        # next line starts on a line of its own, with its stamp.
        if f.tell() > 0:
            with open(self.path, "rb") as r:  # noqa: PTH123
                r.seek(-1, os.SEEK_END)
                self.stamper.at_line_start = r.read(1) == b"\n"
        return f

    def write(self, data: bytes) -> None:
        self._append(self.stamper.feed(data, time.time()))

    def _append(self, data: bytes) -> None:
        self.f.write(data)
        self.f.flush()
        if self.f.tell() > self.max_bytes:
            self.f.close()
            self.path.replace(self.path.with_name(self.path.name + ".1"))
            self.f = self._open()

    def event(self, text: str) -> None:
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        self._append(self.stamper.line(f"[0xl {stamp}] {text}\n".encode(), now))


def describe_exit(returncode: int) -> str:
    return f"signal {-returncode}" if returncode < 0 else str(returncode)


# Exit statuses that say the program was given bad arguments: Solo5's tenders exit 1 on their own
# errors, Mirage 60-64 on bad command-line arguments (/work/shared/notes/mirage.md). Running it again
# with the same arguments fails the same way, so `on-failure` does not (albatross's rule).
BAD_ARGUMENTS = frozenset({1, 60, 61, 62, 63, 64})


def not_restarted(policy: str, returncode: int) -> str | None:
    """Why a program that exited with RETURNCODE (negative: killed by that signal) is not run again
    under the restart POLICY (docs/restart.md); None if it is."""
    if policy == "never":
        return "the restart policy is never"
    if policy == "always":
        return None
    if returncode == 0:
        return "a clean exit (restart policy on-failure)"
    if returncode in BAD_ARGUMENTS:
        return f"status {returncode} means bad arguments (Solo5, Mirage), which a restart does not mend"
    return None


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
        self.escaped: list[Identity] = []  # what the program left outside its session (its daemons)
        self.children_seen = 0.0
        self.wake_r, self.wake_w = os.pipe()
        self.disk_fds: list[int] = []  # the disks it opened for a service that runs as its own user
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
                # So that `0xl stop` can end them after a killed supervisor too: they are in no session of the
                # service's, and its parent-death signal reaches only the program.
                "escaped": [e.to_json() for e in self.escaped] if state in ("running", "stopping") else [],
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
        become_subreaper()
        try:
            self._open_disks()
        except OSError as e:
            detail = f"cannot open its disk {e.filename}: {e.strerror}"
            self.log.event(detail)
            self.write_state("failed", detail)
            return 1
        failures: list[float] = []
        limit, window = int(self.spec["restart_limit"]), float(self.spec["restart_window"])
        policy = str(self.spec.get("restart", "on-failure"))  # a spec of before policies: on-failure
        while not self.stopping:
            returncode = self._run_once()
            if returncode is None:
                return 1
            self.last_exit = describe_exit(returncode)
            if self.stopping:
                break
            why_not = not_restarted(policy, returncode)
            if why_not is not None:
                self.log.event(f"the service exited with {self.last_exit}; not restarting: {why_not}")
                self.write_state("stopped" if returncode == 0 else "failed", f"exited with {self.last_exit}; {why_not}")
                return 0 if returncode == 0 else 1
            now = time.monotonic()
            failures = [t for t in failures if now - t < window] + [now]
            if len(failures) > limit:
                detail = f"exited with {self.last_exit}; {len(failures)} exits within {window:g} s, giving up"
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

    def _open_disks(self) -> None:
        """For a service that runs as a user of its own: open its disks (it cannot reach them in
        ZEROXL_HOME) and let it find each as /proc/self/fd/N, by its link and its variable."""
        user = self.spec.get("user")
        if not user:
            return
        cwd = Path(self.spec["cwd"])
        for disk in self.spec.get("disks") or ():
            try:
                fd = os.open(disk["path"], os.O_RDWR)  # without O_CLOEXEC: the program inherits it
            except FileNotFoundError:
                # As for a service of 0xl's own user, whose link then points nowhere: the program says
                # what it misses.
                self.log.event(f"its disk {disk['name']} is missing: {disk['path']}")
                self.spec["env"][disk["env"]] = disk["path"]
                where = disk["path"]
            else:
                self.disk_fds.append(fd)
                where = f"/proc/self/fd/{fd}"
            self.spec["env"][disk["env"]] = where
            link = cwd / disk["name"]
            if link.is_symlink() or not link.exists():
                with contextlib.suppress(FileNotFoundError):
                    link.unlink()
                link.symlink_to(where)
                os.lchown(link, int(user["uid"]), int(user["gid"]))

    def _run_once(self) -> int | None:
        out_r, out_w = os.pipe()
        user = self.spec.get("user")
        try:
            self.child = proc.spawn(
                self.spec["argv"],
                cwd=Path(self.spec["cwd"]),
                stdout=out_w,
                stderr=out_w,
                env=self.spec["env"],
                new_session=True,
                die_with_parent=True,
                pass_fds=self.disk_fds,
                user=int(user["uid"]) if user else None,
                group=int(user["gid"]) if user else None,
            )
        except proc.CommandFailed as e:
            os.close(out_r)
            self.log.event(e.message)
            self.write_state("failed", e.message)
            return None
        finally:
            os.close(out_w)
        self.child_started = time.time()
        self.escaped = []
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
                self._signal_all(signal.SIGTERM, but_group=child.pid)  # each process is told once
                grace = self._stop_timeout()
                kill_at = time.monotonic() + grace
            if kill_at is not None and time.monotonic() >= kill_at:
                self.log.event(f"still running {grace:g} s after SIGTERM; sending SIGKILL")
                self._signal_group(child.pid, signal.SIGKILL)
                self._signal_all(signal.SIGKILL)
                kill_at = float("inf")
            if kill_at is None:
                self._note_escaped(child.pid)
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
            returncode = self._reap(child)
            if returncode is not None:
                # The leader is gone: whatever it left goes too (given the rest of the grace period if it is
                # being stopped), then drain what they wrote.
                self._signal_group(child.pid, signal.SIGKILL)
                self._end_the_rest(child.pid, kill_at if kill_at is not None and kill_at != float("inf") else 0.0)
                self._drain(out)
                return returncode

    def _note_escaped(self, leader: int) -> None:
        """Once a second, look at this supervisor's children: any but the program's leader is a process
        the program left (reparented here, the subreaper), maybe outside its session. Note them."""
        now = time.monotonic()
        if now - self.children_seen < 1.0:
            return
        self.children_seen = now
        try:
            with open(f"/proc/self/task/{os.getpid()}/children", "rb") as f:  # noqa: PTH123
                pids = {int(p) for p in f.read().split()} - {leader}
        except OSError:
            return  # a kernel without CONFIG_PROC_CHILDREN: only a live supervisor ends them then
        if pids != {e.pid for e in self.escaped}:
            self.escaped = [i for i in map(identity, sorted(pids)) if i is not None]
            self.write_state("running")

    def _reap(self, child: subprocess.Popen[bytes]) -> int | None:
        """Reap every child that finished, the program's leftovers included (they are this subreaper's
        children once their parent is gone); the program's exit status once it is among them."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == child.pid:
                child.returncode = os.waitstatus_to_exitcode(status)
        return child.returncode

    def _end_the_rest(self, group: int, kill_at: float) -> None:
        """Wait until KILL_AT (time.monotonic()) for the processes the program left to end, then kill them.
        Those outside its process GROUP (which was killed with it) escaped it: the log says so."""
        killed_at: float | None = None
        while True:
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            left = self._descendants()
            if not left:
                return
            now = time.monotonic()
            if now >= kill_at:
                if killed_at is None:
                    killed_at = now
                    escaped = [p for p in left if procinfo.process_group(p) != group]
                    if escaped:
                        self.log.event(
                            f"ending what the service left outside its process group: {', '.join(map(str, escaped))}"
                        )
                elif now - killed_at > KILL_WAIT:
                    self.log.event(f"processes the service left do not end: {', '.join(map(str, left))}")
                    return
                self._signal_all(signal.SIGKILL)
            time.sleep(0.02)

    @staticmethod
    def _descendants() -> list[int]:
        """Every live process below this supervisor: what the service runs and what it left."""
        return procinfo.descendants(procinfo.own_processes(), [os.getpid()])

    def _signal_all(self, sig: int, *, but_group: int | None = None) -> None:
        """Send SIG to every process below this supervisor (but those in process group BUT_GROUP)."""
        for pid in self._descendants():
            if but_group is None or procinfo.process_group(pid) != but_group:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)

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
        print("usage: python -m zeroxl.backends.unix.supervisor SERVICE_DIR", file=sys.stderr)
        return 2
    # It writes only in ZEROXL_HOME, which is its owner's alone; the service inherits this umask, so what
    # it makes in its working directory is private too (docs/unix-backend.md).
    os.umask(private.UMASK)
    return Supervisor(Path(argv[1])).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
