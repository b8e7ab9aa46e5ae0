"""The unix backend: a service's program (a Mirage unikernel's Unix build, or any Linux/POSIX program)
as a supervised background process.

The program is the implementation's `run` command: its path inside the store entry, the command's
`<arg>`s, then `--KEY=VALUE` for each `--arg KEY=VALUE`. It runs in the service's data directory
(ZEROXL_HOME/services/NAME/data) with a small fixed environment. Each disk is a sparse file; the
program finds it as `./NAME` in its working directory (a symbolic link) and in the environment
variable `ZEROXL_DISK_<NAME>` (upper case, '-' as '_').
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from zeroxl import proc
from zeroxl.backends.base import BackendContext, RuntimeStatus
from zeroxl.backends.states import RUNNING
from zeroxl.backends.unix import runtime
from zeroxl.errors import BackendError, StateError, UsageError
from zeroxl.host import procinfo, users
from zeroxl.host.policy import check_restart
from zeroxl.host.procinfo import Identity, alive, boot_id, identity, session_members
from zeroxl.state import atomic, private
from zeroxl.state.service import Service

LOG_MAX = 1 << 20
START_TIMEOUT = 10.0
# How long `run` watches a program it started: one that exits (non-zero) within this is a failed start.
START_GRACE = 0.5


def disk_env_name(disk: str) -> str:
    return "ZEROXL_DISK_" + disk.upper().replace("-", "_")


def service_argv(svc: Service, impl_dir: Path) -> list[str]:
    """The program and its arguments: all from the verified feed and the operator's --arg values."""
    if svc.current is None or not svc.current.command_path:
        raise BackendError(
            f"the selected version of {svc.feed} has no run command",
            hint="the publisher must give the implementation a <command name='run' path=...>",
        )
    program = (impl_dir / svc.current.command_path).resolve()
    if not program.is_relative_to(impl_dir.resolve()):
        raise BackendError(f"the run command {svc.current.command_path!r} points outside its implementation")
    if not program.is_file() or not os.access(program, os.X_OK):
        raise BackendError(f"the run command {svc.current.command_path} is not an executable file in {impl_dir}")
    return [str(program), *svc.current.command_args, *(f"--{k}={v}" for k, v in sorted(svc.args.items()))]


class UnixBackend:
    name = "unix"
    has_vm_config = False

    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx

    # -- paths --------------------------------------------------------------------------------------

    def _dir(self, svc: Service) -> Path:
        return self.ctx.home.service_dir(svc.name)

    def _state_path(self, svc: Service) -> Path:
        return self._dir(svc) / "unix" / "state.json"

    def workdir(self, svc: Service) -> Path:
        return self._dir(svc) / "data"

    def log_path(self, svc: Service) -> Path:
        return self._dir(svc) / "log"

    # -- lifecycle ----------------------------------------------------------------------------------

    def check(self, svc: Service, impl_dir: Path) -> None:
        check_restart(svc.restart)
        service_argv(svc, impl_dir)
        if users.runs_as_root() and svc.user != "root":
            _check_reachable(self.ctx.home.root, users.own_name(svc.name) if svc.user is None else svc.user)

    def start(self, svc: Service, impl_dir: Path) -> None:
        argv = service_argv(svc, impl_dir)
        if self.status(svc).state == RUNNING:
            return
        state = self._read_state_or_none(svc)  # damaged: status found nothing of the service running
        if state is not None and runtime.supervisor_alive(state):
            # In back-off (failed, but its supervisor will run the program again): a second supervisor
            # would run a second copy. Start afresh, as the operator asked, from a clean slate.
            self.stop(svc)
        self._kill_leftovers(svc)
        workdir = self.workdir(svc)
        private.makedirs(str(workdir))
        account = self._account(svc)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(workdir),
            "LANG": "C.UTF-8",
            "ZEROXL_SERVICE": svc.name,
        }
        if account is None:
            for disk in svc.disks:
                env[disk_env_name(disk.name)] = disk.location
                self._link(workdir / disk.name, disk.location)
        else:
            # The service's user cannot reach ZEROXL_HOME: its supervisor opens the disks for it and it
            # finds each as /proc/self/fd/N (the supervisor fills in N, and makes the links). It runs its
            # program from the store, which needs search permission on the home (docs/home.md): 0711.
            _open_for_the_store(self.ctx.home.root)
            os.chown(workdir, account.uid, account.gid)
            for disk in svc.disks:
                _own(disk.location, account)
        u = self.ctx.config.unix
        unix_dir = self._dir(svc) / "unix"
        atomic.write_json(
            unix_dir / "spec.json",
            {
                "argv": argv,
                "cwd": str(workdir),
                "env": env,
                "log_max": LOG_MAX,
                "restart": check_restart(svc.restart),
                "restart_limit": u.restart_limit,
                "restart_window": u.restart_window,
                "stop_timeout": u.stop_timeout,
                "version": svc.current.version if svc.current else None,
                "user": None if account is None else {"name": account.name, "uid": account.uid, "gid": account.gid},
                "disks": []
                if account is None
                else [
                    {"name": d.name, "env": disk_env_name(d.name), "path": _device_path(d.location)} for d in svc.disks
                ],
            },
        )
        for stale in (self._state_path(svc), unix_dir / "stop.json"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        errlog_fd = private.create_file(str(unix_dir / "supervisor.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with open(errlog_fd, "ab") as errlog:  # noqa: PTH123
            sup = proc.spawn(
                [sys.executable, "-m", "zeroxl.backends.unix.supervisor", str(self._dir(svc))],
                cwd=self._dir(svc),
                stdout=errlog.fileno(),
                stderr=errlog.fileno(),
            )
        self._wait_started(svc, sup.pid)

    @staticmethod
    def _link(link: Path, target: str) -> None:
        if link.is_symlink() or not link.exists():
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            link.symlink_to(target)

    @staticmethod
    def _account(svc: Service) -> users.Account | None:
        """The user SVC runs as, when 0xl runs as root and the record names one (host.users); else None:
        it runs as 0xl does."""
        if svc.user is None or not users.runs_as_root():
            return None
        return users.existing(svc.user)

    def _wait_started(self, svc: Service, sup_pid: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        seen_running: float | None = None
        while time.monotonic() < deadline:
            state = self._read_state_or_none(svc)
            if state is not None and state["supervisor"]["pid"] == sup_pid:
                if state["state"] == "stopped" and state.get("last_exit") == "0":
                    return  # it already did its work and exited cleanly
                if state["state"] == "failed":
                    raise BackendError(f"{svc.name} did not start: {state['detail']}", hint=f"see 0xl logs {svc.name}")
                if state["state"] == "backoff" or state.get("restarts"):
                    self._fail_start(svc, state)
                if state["state"] == "running":
                    # A program that fails at once is running for a moment first: watch it a little
                    # longer so that `run` reports it rather than a crash loop behind "started"
                    # (supervisord's startsecs, 1 s by default, is the same idea).
                    seen_running = seen_running or time.monotonic()
                    if time.monotonic() - seen_running >= START_GRACE:
                        return
            try:
                waited, _ = os.waitpid(sup_pid, os.WNOHANG)
            except ChildProcessError:  # not our child: started by another 0xl process
                waited = 0 if _pid_exists(sup_pid) else sup_pid
            if waited:
                state = self._read_state_or_none(svc)
                detail = state["detail"] if state else "its supervisor exited at once"
                raise BackendError(f"{svc.name} did not start: {detail}", hint=f"see 0xl logs {svc.name}")
            time.sleep(0.02)
        raise BackendError(f"{svc.name} did not start within {START_TIMEOUT:g} s", hint=f"see 0xl logs {svc.name}")

    def _fail_start(self, svc: Service, state: dict[str, Any]) -> NoReturn:
        """The program exited at start and waits to be restarted: stop it and say so; leave it failed."""
        self.stop(svc)
        detail = f"exited with {state.get('last_exit')} at start"
        after = self._read_state_or_none(svc)
        if after is not None and not runtime.supervisor_alive(after):
            after.update(state="failed", pid=None, leader=None, started=None, detail=detail)
            atomic.write_json(self._state_path(svc), after)
        raise BackendError(f"{svc.name} {detail}", hint=f"see 0xl logs {svc.name}")

    def stop(self, svc: Service, *, timeout: float | None = None) -> None:
        grace = self.ctx.config.unix.stop_timeout if timeout is None else timeout
        try:
            state = self._read_state(svc)
        except runtime.DamagedState:
            # Nothing in the file can be believed: stop the supervisors /proc shows, as the file would have.
            state = None
            sups, _ = runtime.found(self._dir(svc))
            for sup in filter(None, (identity(pid) for pid in sups)):
                self._stop_supervisor(svc, sup, grace)
        if state is not None:
            sup = Identity.from_json(state["supervisor"])
            if alive(sup):
                self._stop_supervisor(svc, sup, grace)
        self._kill_leftovers(svc)
        try:
            state = self._read_state(svc)
        except runtime.DamagedState:
            # No supervisor wrote it anew, and nothing of the service runs (_kill_leftovers): it says nothing.
            with contextlib.suppress(FileNotFoundError):
                self._state_path(svc).unlink()
            state = None
        if state is not None and state["state"] in runtime.LIVE_STATES:
            state.update(state="stopped", pid=None, started=None, detail="stopped (its supervisor was gone)")
            atomic.write_json(self._state_path(svc), state)

    def _stop_supervisor(self, svc: Service, sup: Identity, grace: float) -> None:
        """Ask the supervisor SUP to stop the service (it gives it GRACE seconds), and wait until it is gone."""
        atomic.write_json(self._dir(svc) / "unix" / "stop.json", {"timeout": grace})
        with contextlib.suppress(ProcessLookupError):
            os.kill(sup.pid, signal.SIGTERM)
        if not _wait_gone(sup, grace + 5.0):
            # The supervisor does not answer: kill it; PR_SET_PDEATHSIG takes the service with it.
            with contextlib.suppress(ProcessLookupError):
                os.kill(sup.pid, signal.SIGKILL)
            _wait_gone(sup, 5.0)

    def _kill_leftovers(self, svc: Service) -> None:
        """Kill what remains of the service's session when its supervisor died without cleaning up."""
        try:
            state = self._read_state(svc)
        except runtime.DamagedState:
            self._kill_found(svc)
            return
        if state is None or alive(Identity.from_json(state["supervisor"])):
            return
        self._kill_escaped(state)
        if not state.get("leader"):
            return  # no leader recorded (stopped, or written by an older 0xl): nothing is known to be ours
        leader = Identity.from_json(state["leader"])
        # The session id is the leader's pid, and a pid alone names another process once it is reused, so
        # kill the session only when it is provably the service's:
        # - a leader from another boot: nothing of it survived the reboot; whoever has that pid now is not it;
        # - the leader's pid still used: only if it is the same process (pid, start time), zombie or not;
        # - the leader's pid unused: the remaining members are its orphans, because Linux does not hand
        #   out a pid again while any process still has it as its session or process group id. (Unless
        #   all of them ended and a later process got the pid, made its own session and exited leaving
        #   children: rare enough, and unguardable with what /proc tells, to accept.)
        if leader.boot_id != boot_id():
            return
        now = identity(leader.pid, zombie=True)
        if now is not None and now != leader:
            return
        for member in session_members(leader.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(member, signal.SIGKILL)

    @staticmethod
    def _kill_escaped(state: dict[str, Any]) -> None:
        """Kill what the dead supervisor saw the program leave outside its session (`escaped`: a daemon),
        each only if it is provably that process (pid, start time, boot), and what they started."""
        escaped = [e.pid for e in map(Identity.from_json, state.get("escaped") or ()) if alive(e)]
        if not escaped:
            return
        for pid in [*escaped, *procinfo.descendants(procinfo.own_processes(), escaped)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _kill_found(self, svc: Service) -> None:
        """Without a state file to go by: kill the processes /proc shows as the service's program, if no
        supervisor of it lives (a live one ends its program itself)."""
        sups, programs = runtime.found(self._dir(svc))
        if sups:
            return
        for pid in programs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while runtime.found(self._dir(svc))[1]:
            if time.monotonic() > deadline:
                raise BackendError(
                    f"{svc.name}: processes of it are still there after SIGKILL: {runtime.found(self._dir(svc))[1]}"
                )
            time.sleep(0.05)

    def check_state(self, svc: Service) -> None:
        try:
            self._read_state(svc)
        except runtime.DamagedState as e:
            raise StateError(
                str(e),
                hint=f"0xl stop {svc.name} ends what runs of it (0xl finds it in /proc), and 0xl run {svc.name} "
                "then starts it with a new state file",
            ) from e

    def vm_config(self, svc: Service, impl_dir: Path) -> str:
        raise BackendError(f"{svc.name} runs on the unix backend, which writes no VM configuration")

    def status(self, svc: Service) -> RuntimeStatus:
        return RuntimeStatus(**runtime.status(self._dir(svc), svc.desired))

    def cleanup(self, svc: Service) -> None:
        shutil.rmtree(self._dir(svc) / "unix", ignore_errors=True)

    def _read_state(self, svc: Service) -> dict[str, Any] | None:
        """The supervisor's state; raises runtime.DamagedState if the file cannot be read."""
        return runtime.read_state(self._dir(svc))

    def _read_state_or_none(self, svc: Service) -> dict[str, Any] | None:
        """The state, where a damaged file is as good as none: the caller has found nothing running."""
        try:
            return self._read_state(svc)
        except runtime.DamagedState:
            return None


def _device_path(location: str) -> str:
    """The file or device node of a disk: a file disk's path, or an LVM volume (VG/LV) under /dev."""
    return location if location.startswith("/") else f"/dev/{location}"


def _open_for_the_store(home: Path) -> None:
    """Give others search permission on HOME (never read or write): the store's entries, public, can then
    be run by the services' users, and every other directory in it stays 0700 (docs/home.md)."""
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & 0o011 != 0o011:
        home.chmod(mode | 0o011)


def _check_reachable(home: Path, user: str) -> None:
    """Refuses a ZEROXL_HOME that USER (a user of no group of the directories') cannot reach: it runs its
    program from the store, inside the home, so every directory above the home must let others pass
    (o+x). Said here, at `add`, rather than by the program failing with "Permission denied" at `run`."""
    for parent in home.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            raise UsageError(
                f"ZEROXL_HOME {home} is inside {parent}, which other users cannot enter (mode "
                f"{stat.S_IMODE(mode):04o}): the user {user} this service would run as could not run its program",
                hint=f"use a ZEROXL_HOME others can pass through (the default, /var/lib/0xl), or let them through "
                f"{parent} (chmod o+x {parent}; docs/home.md)",
            )


def _own(location: str, account: users.Account) -> None:
    """Give the disk at LOCATION to ACCOUNT, readable and writable by it alone (the node an LVM volume's
    link points at: udev makes it anew at each boot). A disk that is missing is left to the program to
    miss, as it would miss its file (the supervisor says so in the log)."""
    path = os.path.realpath(_device_path(location))
    with contextlib.suppress(FileNotFoundError):
        os.chown(path, account.uid, account.gid)
        os.chmod(path, 0o600)  # noqa: PTH101 - a str path, as realpath gives


def _wait_gone(ident: Identity, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(ident):
            return True
        time.sleep(0.05)
    return not alive(ident)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
