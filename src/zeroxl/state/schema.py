"""The version of the service record format, and the migration of older records on read."""

from __future__ import annotations

from zeroxl.errors import StateError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from typing import Any

SCHEMA = 3


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
        from zeroxl.macs import legacy

        d = {**d, "macs": [legacy(d["name"], i) for i in range(len(d.get("networks") or ()))], "schema": 3}
        schema = 3
    return d
