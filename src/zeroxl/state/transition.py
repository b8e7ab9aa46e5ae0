"""The journal of a change of what a service runs, kept in its record while the change is under way.

Replacing a running service takes several steps that cannot be one atomic write: stop the old version,
start the new one, check its health, record the outcome. The record holds a `Transition` from before
the first step until the outcome is recorded, so that a 0xl killed at any point leaves a note of what
it was doing; whoever holds the service's lock next (the killed command's guardian, the next command
on the service, or `0xl doctor`) finishes or undoes it (see zeroxl.app.journal).

Phases:
- SWAP: the old version is being replaced. Undone: the old version runs again.
- ROLLBACK: the new version was refused (it failed its health check, or 0xl was interrupted); the old
  version is being started again. Finished the same way.
- DONE: the new version is recorded as the current one; only the history entry may be missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zeroxl.state.selected import Selected

SWAP, ROLLBACK, DONE = "swap", "rollback", "done"
PHASES = (SWAP, ROLLBACK, DONE)


@dataclass(frozen=True)
class Transition:
    action: str  # the history action that started it: "update" or "rollback"
    phase: str  # SWAP, ROLLBACK or DONE
    from_: Selected
    to: Selected
    started: float
    owner: dict[str, Any]  # the 0xl process doing it: procinfo.Identity as JSON
    guardian: int | None = None  # pid of the process that finishes it if the owner dies
    decided: float | None = None  # when the phase became ROLLBACK or DONE; history entries are newer
    outcome: str = ""  # in ROLLBACK: "failed" (health check) or "interrupted"
    reason: str = ""  # why it is rolled back
    message: str = ""  # in DONE: the history entry's message

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "phase": self.phase,
            "from": self.from_.to_json(),
            "to": self.to.to_json(),
            "started": self.started,
            "owner": dict(self.owner),
            "guardian": self.guardian,
            "decided": self.decided,
            "outcome": self.outcome,
            "reason": self.reason,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Transition:
        if d["phase"] not in PHASES:
            raise ValueError(f"unknown transition phase {d['phase']!r}")
        return cls(
            action=d["action"],
            phase=d["phase"],
            from_=Selected.from_json(d["from"]),
            to=Selected.from_json(d["to"]),
            started=float(d["started"]),
            owner=dict(d["owner"]),
            guardian=d.get("guardian"),
            decided=d.get("decided"),
            outcome=d.get("outcome", ""),
            reason=d.get("reason", ""),
            message=d.get("message", ""),
        )
