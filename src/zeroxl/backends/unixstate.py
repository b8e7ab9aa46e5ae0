"""What a unix service is doing, read from its supervisor's state file and checked against /proc.

Separate from the backend so that `0xl list` can answer without importing anything heavy
(pathlib included: paths here are strings).
"""

from __future__ import annotations

import json

from zeroxl.backends.procinfo import Identity, alive
from zeroxl.backends.states import FAILED, RUNNING, STOPPED

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    import os
    from typing import Any

# The supervisor's states in which it is still at work (a file left in one of them by a dead supervisor
# is stale). In "backoff" it waits to restart the program: nothing of the service runs.
LIVE_STATES = ("running", "backoff", "stopping")


def read_state(service_dir: os.PathLike[str] | str) -> dict[str, Any] | None:
    try:
        with open(f"{service_dir}/unix/state.json", "rb") as f:  # noqa: PTH123 - cheap, called per service
            data: dict[str, Any] = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    return data


def supervisor_alive(state: dict[str, Any]) -> bool:
    return alive(Identity.from_json(state["supervisor"]))


def runtime(service_dir: os.PathLike[str] | str, desired: str) -> dict[str, Any]:
    """The service's runtime status: state, pid, started, restarts, last_exit, detail."""
    state = read_state(service_dir)
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
            return {
                "state": RUNNING,
                "pid": state.get("pid"),
                "started": state.get("started"),
                "detail": state.get("detail", ""),
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
