"""Every change of a service's version: when, from what to what, why, and how it ended.

Stored as ZEROXL_HOME/services/NAME/history.json, a JSON array rewritten atomically on each change, so
that a crash leaves the list as it was before or after the change, never truncated. Unlike 0install's
one-file-per-day app history, two updates on one day are two entries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zeroxl.errors import StateError
from zeroxl.state import atomic
from zeroxl.state.selected import Selected
from zeroxl.state.service import now

ACTIONS = ("add", "update", "rollback", "auto-rollback")


@dataclass(frozen=True)
class Entry:
    time: float
    action: str
    to: Selected | None
    from_: Selected | None = None
    outcome: str = "ok"  # "ok" | "failed" | "interrupted"
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        def ref(s: Selected | None) -> dict[str, Any] | None:
            return s.to_json() if s else None

        return {
            "time": self.time,
            "action": self.action,
            "from": ref(self.from_),
            "to": ref(self.to),
            "outcome": self.outcome,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Entry:
        return cls(
            time=float(d["time"]),
            action=d["action"],
            to=Selected.from_json(d["to"]) if d.get("to") else None,
            from_=Selected.from_json(d["from"]) if d.get("from") else None,
            outcome=d.get("outcome", "ok"),
            message=d.get("message", ""),
        )


class History:
    def __init__(self, service_dir: Path) -> None:
        self.path = service_dir / "history.json"

    def entries(self) -> list[Entry]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            return [Entry.from_json(e) for e in json.loads(raw)]
        except (ValueError, KeyError, TypeError) as e:
            raise StateError(f"the history {self.path} cannot be read: {e}") from e

    def append(self, *new: Entry) -> None:
        """Add NEW in one atomic write: entries that belong together are there together or not at all."""
        entries = self.entries()
        entries.extend(new)
        atomic.write_json(self.path, [e.to_json() for e in entries])

    def record(
        self, action: str, *, to: Selected | None, from_: Selected | None = None, outcome: str = "ok", message: str = ""
    ) -> Entry:
        entry = Entry(time=now(), action=action, to=to, from_=from_, outcome=outcome, message=message)
        self.append(entry)
        return entry
