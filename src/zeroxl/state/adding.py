"""The journal of an `add` under way: what it is about to create that no record owns yet.

`add` downloads an implementation and creates disks before it saves the service's record. Killed in
between, it would leave a disk and a store entry that nothing refers to: the next `add` of the name
would take the disk for one kept from an earlier service, and `doctor` would not see them. So `add`
notes each thing in ZEROXL_HOME/services/NAME/adding.json before it creates it, and removes the note
once the record is saved. Whoever holds the service's lock next with the note there and no record
(the next `add` of the name, or `doctor`) undoes what it lists (app.add.undo_interrupted).

A disk the add found (kept from an earlier service of the name) is not noted: it is not the add's to
delete. The note is written before each creation, so it may list something the add never made: undoing
looks for it and finds nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from zeroxl.state import atomic

NAME = "adding.json"


@dataclass
class AddJournal:
    path: Path
    store: list[str] = field(default_factory=list)  # store entries (sha256new_…) it may download
    disks: list[tuple[str, str]] = field(default_factory=list)  # (kind, disk name) it may create

    @classmethod
    def begin(cls, service_dir: Path) -> AddJournal:
        journal = cls(service_dir / NAME)
        journal._write()
        return journal

    @classmethod
    def find(cls, service_dir: Path) -> AddJournal | None:
        """The journal an add left in SERVICE_DIR; one that cannot be read lists nothing."""
        path = service_dir / NAME
        try:
            d = json.loads(path.read_bytes())
            return cls(path, [str(s) for s in d["store"]], [(str(k), str(n)) for k, n in d["disks"]])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return cls(path)  # killed while writing it is impossible (atomic); changed by hand: nothing to go by

    def store_entry(self, name: str) -> None:
        self.store.append(name)
        self._write()

    def disk(self, kind: str, name: str) -> None:
        self.disks.append((kind, name))
        self._write()

    def end(self) -> None:
        """The add is recorded (or undone): the journal has nothing more to say."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        atomic.fsync_dir(self.path.parent)

    def _write(self) -> None:
        atomic.write_json(self.path, {"store": self.store, "disks": [list(d) for d in self.disks]})


def completed(service_dir: Path) -> bool:
    """True if the add that wrote SERVICE_DIR's journal got as far as its record's history: a record
    lost later (removed by hand) must not make its disks look like an interrupted add's."""
    return os.path.exists(service_dir / "history.json")  # noqa: PTH110
