"""The version of the service record format, and the migration of older records on read."""

from __future__ import annotations

from zeroxl.errors import StateError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from typing import Any

SCHEMA = 2


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
    return d
