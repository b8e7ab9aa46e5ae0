"""What a unix service is doing, read from its supervisor's state file and checked against /proc.

Separate from the backend so that `0xl list` can answer without importing anything heavy
(pathlib included: paths here are strings).
"""

from __future__ import annotations

import os

from zeroxl.backends.states import FAILED, RUNNING, STOPPED
from zeroxl.host import procinfo
from zeroxl.host.procinfo import Identity, alive
from zeroxl.state import fastjson

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from typing import Any

# How a supervisor is started (`python -m MODULE SERVICE_DIR`), by this 0xl and by one of before.
_SUPERVISOR_ARGV = ([b"-m", b"zeroxl.backends.unix.supervisor"], [b"-m", b"zeroxl.backends.supervisor"])

# The supervisor's states in which it is still at work (a file left in one of them by a dead supervisor
# is stale). In "backoff" it waits to restart the program: nothing of the service runs.
LIVE_STATES = ("running", "backoff", "stopping")


class DamagedState(Exception):
    """The supervisor's state file exists but cannot be read (truncated, overwritten): nothing in it can
    be believed, not even that the service is stopped (see `found`)."""


def read_state(service_dir: os.PathLike[str] | str) -> dict[str, Any] | None:
    """The supervisor's last state; None if there is none (never started, or cleaned up)."""
    path = f"{service_dir}/unix/state.json"
    try:
        data = fastjson.load(path)  # called per service: the cheapest read
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise DamagedState(f"its state file {path} is damaged ({e})") from e
    try:
        Identity.from_json(data["supervisor"])
        shaped = isinstance(data["state"], str)
    except (KeyError, TypeError, ValueError):
        shaped = False
    if not shaped:
        raise DamagedState(f"its state file {path} is damaged (not a supervisor's state)")
    return dict(data)


def found(service_dir: os.PathLike[str] | str) -> tuple[list[int], list[int]]:
    """What runs of the service, found in /proc without its state file: its supervisors (running
    `python -m zeroxl.backends.unix.supervisor SERVICE_DIR`), and the processes of its program: everything
    below those supervisors, and processes working in its data directory with its ZEROXL_SERVICE.
    The program's leader (a supervisor's child) comes first."""
    procs = procinfo.own_processes()
    sups = supervisors_of(procs, str(service_dir))
    programs = set(procinfo.descendants(procs, sups))
    name = os.path.basename(service_dir)  # noqa: PTH119
    cwd = os.path.realpath(f"{service_dir}/data")
    programs.update(procinfo.marked(procs, cwd=cwd, env=f"ZEROXL_SERVICE={name}".encode()))
    return sups, sorted(programs - set(sups), key=lambda p: (procs.get(p) not in sups, p))


def supervisors_of(procs: dict[int, int], service_dir: str) -> list[int]:
    """Those of PROCS that run `python -m zeroxl.backends.unix.supervisor SERVICE_DIR` (or, started by a 0xl
    of before backends/unix/ was a package and still running, `zeroxl.backends.supervisor`)."""
    want = os.fsencode(os.path.realpath(service_dir))
    found = []
    for pid in procs:
        raw = procinfo.read(f"/proc/{pid}/cmdline")
        argv = raw.split(b"\0")[:-1] if raw else []
        if argv[-3:-1] in _SUPERVISOR_ARGV and os.path.realpath(argv[-1]) == want:
            found.append(pid)
    return sorted(found)


def supervisor_alive(state: dict[str, Any]) -> bool:
    return alive(Identity.from_json(state["supervisor"]))


def status(service_dir: os.PathLike[str] | str, desired: str) -> dict[str, Any]:
    """The service's runtime status: state, pid, started, restarts, last_exit, detail, and while it runs
    its resources (backends.usage)."""
    try:
        state = read_state(service_dir)
    except DamagedState as e:
        return _runtime_found(service_dir, desired, str(e))
    if state is None:
        return {"state": STOPPED}
    common = {"restarts": int(state.get("restarts", 0)), "last_exit": state.get("last_exit")}
    if state["state"] in LIVE_STATES:
        live = supervisor_alive(state)  # reads /proc: once, as `0xl list` asks for every service
        if live and state["state"] == "backoff":
            # Between two runs of a failing program nothing runs: failed, not running, even though its
            # supervisor will try again ("restarting": an update replaces it as it would a running one).
            return {"state": FAILED, "detail": state.get("detail", ""), "extra": {"restarting": True}, **common}
        if live:
            from zeroxl.backends import usage

            return {
                "state": RUNNING,
                "pid": state.get("pid"),
                "started": state.get("started"),
                "detail": state.get("detail", ""),
                "resources": usage.of_supervisor(int(state["supervisor"]["pid"])),
                **common,
            }
        # Killed supervisor, or a host that restarted: nothing runs, whatever the file says.
        return {
            "state": FAILED if desired == "running" else STOPPED,
            "detail": "its supervisor is gone (killed, or the host restarted)",
            **common,
        }
    kind = FAILED if state["state"] == "failed" else STOPPED
    return {"state": kind, "detail": state.get("detail", ""), **common}


def _runtime_found(service_dir: os.PathLike[str] | str, desired: str, damage: str) -> dict[str, Any]:
    """The runtime status from what /proc shows, when the state file says nothing."""
    sups, programs = found(service_dir)
    if sups or programs:
        # Running, whatever else it may be doing: so that `run` does not start a second copy, and `stop`
        # and `update` end what runs.
        who = ", ".join([f"its supervisor (pid {p})" for p in sups] + [f"pid {p}" for p in programs])
        return {"state": RUNNING, "pid": programs[0] if programs else None, "detail": f"{damage}; running: {who}"}
    return {"state": FAILED if desired == "running" else STOPPED, "detail": f"{damage}; nothing of it runs"}
