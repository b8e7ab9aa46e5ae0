"""Service records written by an older 0xl are read (and migrated); ones from a newer 0xl are refused."""

from __future__ import annotations

import pytest

from zeroxl.backends.xen.domain import domain_config
from zeroxl.errors import StateError
from zeroxl.host.config import Policy
from zeroxl.state.schema import SCHEMA, migrate
from zeroxl.state.selected import Selected
from zeroxl.state.service import Service
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
    assert svc.to_json()["schema"] == SCHEMA == 3


def test_record_from_a_newer_0xl_is_refused() -> None:
    with pytest.raises(StateError, match="newer 0xl"):
        migrate({**V1, "schema": SCHEMA + 1})


def test_a_change_under_way_survives_a_round_trip() -> None:
    s1 = Selected("i1", "1.0", "sha256new_A", "*-*", "stable", "bin/web")
    s2 = Selected("i2", "2.0", "sha256new_B", "*-*", "stable", "bin/web")
    t = Transition("update", SWAP, s1, s2, 1.5, {"pid": 7, "starttime": 1, "boot_id": "b"}, guardian=8)
    svc = Service(name="web", feed="f", backend="unix", target="Linux-x86_64", current=s1, transition=t)
    assert Service.from_json(svc.to_json()) == svc


# A Xen service as 0xl recorded it before MACs were recorded and blocks had a vdev: made by that 0xl's
# Service.to_json (main at 47488cb), networks `service` and `admin` on two bridges, blocks storage and logs.
V2_XEN = {
    "args": {},
    "backend": "xen",
    "channel": "stable",
    "created": 1764000000.0,
    "current": {
        "arch": "Xen-x86_64",
        "command": {"args": [], "path": "vmlinuz"},
        "digest": "sha256new_X",
        "id": "sha256new_X",
        "needs": {
            "args": [{"default": None, "name": "tag", "pattern": "[a-z]+", "required": False}],
            "blocks": [{"min_size": 33554432, "name": "storage"}, {"min_size": 1048576, "name": "logs"}],
            "memory": 128,
            "memory_min": 64,
            "networks": ["service", "admin"],
            "ramdisk": "initrd.img",
            "xen_type": "pvh",
        },
        "stability": "stable",
        "version": "1.0",
    },
    "desired": "running",
    "disks": [
        {"kind": "lvm", "location": "vg0/0xl-mail-storage", "name": "storage", "size": 268435456},
        {"kind": "lvm", "location": "vg0/0xl-mail-logs", "name": "logs", "size": 67108864},
    ],
    "feed": "http://127.0.0.1:8080/mail.xml",
    "latest": None,
    "memory": None,
    "name": "mail",
    "networks": ["xenbr0", "xenbr1"],
    "ready": {"log": None, "settle": 3.0, "tcp": None, "timeout": 30.0},
    "restart": "on-failure",
    "schema": 2,
    "target": "Xen-x86_64",
    "transition": None,
    "updated": 1764000000.0,
    "versions": None,
}


def test_a_xen_service_recorded_before_keeps_its_macs_and_gets_mirages_disk_numbering() -> None:
    svc = Service.from_json(V2_XEN)
    # The MACs that 0xl gave it then (name-derived; `0xl config mail` printed 00:16:3e:1a:3f:c8 for the first
    # in the Xen lab, docs/xen.md of that time), now recorded, so that its guest keeps its addresses.
    assert svc.macs[0] == "00:16:3e:1a:3f:c8" and len(svc.macs) == 2
    assert svc.to_json()["schema"] == 3 and Service.from_json(svc.to_json()) == svc
    cfg = domain_config(svc, kernel="/k", ramdisk="/r", policy=Policy(), others=[])
    assert [(v.bridge, v.mac) for v in cfg.vifs] == [("xenbr0", svc.macs[0]), ("xenbr1", svc.macs[1])]
    # Its blocks name no disk: mirage's numbering, as for a feed that names none (the first at xvdb).
    assert [(d.vdev, d.target) for d in cfg.disks] == [
        ("xvdb", "/dev/vg0/0xl-mail-storage"),
        ("xvdc", "/dev/vg0/0xl-mail-logs"),
    ]
