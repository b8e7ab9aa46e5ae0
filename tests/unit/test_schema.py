"""Service records written by an older 0xl are read (and migrated); ones from a newer 0xl are refused."""

from __future__ import annotations

import pytest

from zeroxl.errors import StateError
from zeroxl.state.schema import SCHEMA, migrate
from zeroxl.state.service import Selected, Service
from zeroxl.state.transition import SWAP, Transition

V1 = {
    "schema": 1,
    "name": "web",
    "feed": "http://example.org/web.xml",
    "backend": "unix",
    "target": "Linux-x86_64",
    "current": {"id": "i", "version": "1.0", "digest": "sha256new_X", "arch": "*-*", "command": {"path": "bin/web"}},
    "desired": "running",
}


def test_schema_1_record_is_read_with_no_change_under_way() -> None:
    svc = Service.from_json(V1)
    assert svc.transition is None and svc.current is not None and svc.current.version == "1.0"
    assert svc.to_json()["schema"] == SCHEMA == 2


def test_record_from_a_newer_0xl_is_refused() -> None:
    with pytest.raises(StateError, match="newer 0xl"):
        migrate({**V1, "schema": SCHEMA + 1})


def test_a_change_under_way_survives_a_round_trip() -> None:
    s1 = Selected("i1", "1.0", "sha256new_A", "*-*", "stable", "bin/web")
    s2 = Selected("i2", "2.0", "sha256new_B", "*-*", "stable", "bin/web")
    t = Transition("update", SWAP, s1, s2, 1.5, {"pid": 7, "starttime": 1, "boot_id": "b"}, guardian=8)
    svc = Service(name="web", feed="f", backend="unix", target="Linux-x86_64", current=s1, transition=t)
    assert Service.from_json(svc.to_json()) == svc
