"""The version of the service record format, and the migration of older records on read."""

from __future__ import annotations

from zeroxl.errors import StateError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from typing import Any

SCHEMA = 3

# What list and status show for a record that cannot be read, and what every command on it says. 0xl
# writes records whole or not at all, so such a record was changed outside 0xl (docs/home.md).
DAMAGED = "damaged"
DAMAGED_HINT = "0xl doctor says what to do"


class Damaged(ValueError):
    """A record that is JSON, but not a record of the service it is filed under."""


class DamagedRecord(StateError):
    """NAME's record cannot be read: what list and status show as damaged."""

    def __init__(self, name: str, path: str, problem: str) -> None:
        super().__init__(f"the record of service {name} ({path}) cannot be read: {problem}", hint=DAMAGED_HINT)
        self.name = name
        self.path = path


def damaged(name: str, path: str, problem: Exception) -> DamagedRecord:
    """The error for NAME's record at PATH, which cannot be read because of PROBLEM."""
    return DamagedRecord(name, path, _describe(problem))


def _describe(problem: Exception) -> str:
    if isinstance(problem, OSError):
        return f"it cannot be opened ({problem.strerror or problem})"
    if isinstance(problem, UnicodeDecodeError):
        return "it is not text (UTF-8)"
    if isinstance(problem, Damaged):
        return str(problem)
    if isinstance(problem, ValueError) and type(problem).__name__ == "JSONDecodeError":
        return f"it is not JSON ({problem})"
    if isinstance(problem, KeyError):
        return f"its field {problem.args[0]!r} is missing"
    return f"a field has a value of the wrong kind ({problem})"


def check(d: object, name: str) -> dict[str, Any]:
    """D, as read from NAME's record, migrated to SCHEMA: raises Damaged if it is not a record of NAME
    (and StateError, from `migrate`, if a newer 0xl wrote it)."""
    if not isinstance(d, dict):
        raise Damaged(f"it holds {'null' if d is None else type(d).__name__}, not a service record")
    if not isinstance(d.get("schema"), int):
        raise Damaged("it has no schema version")
    if d.get("name") != name:
        raise Damaged(f"it is the record of {d.get('name')!r}, not of {name!r}")
    return migrate(d)


def migrate(d: dict[str, Any]) -> dict[str, Any]:
    """Bring a record written by an older 0xl up to SCHEMA; refuse one written by a newer 0xl."""
    schema = d.get("schema")
    if not isinstance(schema, int):
        raise StateError(f"the record of service {d.get('name')} has no schema version")
    if schema > SCHEMA:
        raise StateError(
            f"service {d.get('name')} was written by a newer 0xl (schema {schema}; this one reads up to {SCHEMA})",
            hint="upgrade 0xl",
        )
    # Each change of the format adds a step here, from the oldest up.
    if schema == 1:
        # 2 added `transition`, the journal of a version change under way (state/transition.py).
        d = {**d, "transition": None, "schema": 2}
        schema = 2
    if schema == 2:
        # 3 records the MAC of each network (`macs`), derived since from a random value of the host. A
        # service of before keeps the MAC it had, derived from its name alone: its guest's address (DHCP
        # leases, neighbours' caches) does not change with 0xl. Its blocks keep no `vdev` and get mirage's
        # numbering, as feeds without it do (docs/xen.md).
        from zeroxl.host.macs import legacy  # here: `0xl list` reads records, and few are this old

        d = {**d, "macs": [legacy(d["name"], i) for i in range(len(d.get("networks") or ()))], "schema": 3}
        schema = 3
    return d
