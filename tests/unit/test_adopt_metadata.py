"""A libvirt domain's 0xl metadata (format 2: owner and the operator's choices) written and read back, the
older format still read, and what `0xl host adopt` makes of it: every value checked as if the operator
had typed it at `add`, against the verified feed and this machine's policy (app.adopt.service_from)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_libvirt_domainxml import DISKS, NEEDS
from tests.unit.test_libvirt_domainxml import service as virtio_service
from zeroxl.app.adopt import service_from
from zeroxl.backends.libvirt.domain import metadata_of
from zeroxl.backends.libvirt.domainxml import DomainSpec, DomainXmlError, read_metadata, render
from zeroxl.backends.libvirt.metadata import METADATA_NS, DiskNote, Metadata, element_xml
from zeroxl.errors import ConflictError, PolicyError, SelectionError, SettingError, StateError, UsageError
from zeroxl.feeds.model import Arch, Archive, Feed, Implementation, Stability
from zeroxl.feeds.selection import Target
from zeroxl.feeds.versions import Version
from zeroxl.host.config import Policy
from zeroxl.state.service import Readiness, Service

OWNER = "0123456789abcdef0123456789abcdef"
KEYS = {"0xl/0xl-web-storage": "/pool/0xl-web-storage", "0xl/0xl-web-log": "/pool/0xl-web-log"}
TARGET = Target.parse("Virtio-x86_64")


def service(**kw: Any) -> Service:
    """A service with two disks (what adopting checks is the same for one; the backend's own limit of one
    on virtio is domain_spec's, tested in test_libvirt_domainxml)."""
    base = virtio_service()
    assert base.current is not None
    return virtio_service(**({"disks": DISKS, "current": replace(base.current, needs=NEEDS)} | kw))
POLICY = Policy(bridges=("network:default",))


def svc_meta(**kw: object) -> Metadata:
    svc = service(memory=128, ready=Readiness(settle=5.0, log="READY", tcp="127.0.0.1:80"), start_order=7, **kw)
    return metadata_of(svc, owner=OWNER, keys=KEYS)


def domain_xml(meta: Metadata) -> str:
    spec = DomainSpec(name=meta.service, domain_type="qemu", kernel="/k", memory=64, metadata=meta, serial_log="/c")
    return render(spec)


def test_the_operators_choices_and_the_owner_come_back_as_they_were_written() -> None:
    meta = svc_meta(versions="1.0..!2", enabled=False)
    back = read_metadata(domain_xml(meta))
    assert back == meta
    assert back is not None and back.settings is not None
    s = back.settings
    assert (back.owner, back.format) == (OWNER, 2)
    assert s.args == (("tag", "web"),) and s.memory == 128 and s.versions == "1.0..!2"
    assert s.networks == (("network:default", "02:00:00:00:00:01"),)
    assert s.disks[1] == DiskNote("storage", 1 << 20, "libvirt", "0xl/0xl-web-storage", "/pool/0xl-web-storage")
    assert (s.enabled, s.start_order, s.ready_settle, s.ready_log, s.ready_tcp) == (
        False,
        7,
        5.0,
        "READY",
        "127.0.0.1:80",
    )


def test_the_element_for_set_metadata_has_no_namespace_of_its_own_and_reads_back_in_one() -> None:
    # libvirt's virDomainSetMetadata puts the element into the namespace the call names.
    meta = svc_meta()
    element = element_xml(meta)
    assert "xmlns" not in element and element.startswith('<service format="2">')
    placed = ET.fromstring(element)  # noqa: S314 - 0xl's own output
    for e in placed.iter():
        e.tag = "{" + METADATA_NS + "}" + e.tag
    holder = ET.Element("domain")
    ET.SubElement(holder, "metadata").append(placed)
    assert read_metadata(ET.tostring(holder, encoding="unicode")) == meta


def test_a_domain_of_an_older_0xl_is_read_without_owner_or_settings() -> None:
    old = Metadata("web", "https://example.org/web.xml", "1.0", "sha256new_X")
    back = read_metadata(domain_xml(old))
    assert back == old and back is not None and (back.format, back.owner, back.settings) == (1, "", None)
    assert 'format="' not in domain_xml(old)


def test_settings_of_another_shape_are_read_as_damaged_not_raised() -> None:
    xml = domain_xml(svc_meta()).replace('start-order="7"', 'start-order="seven"')
    back = read_metadata(xml)
    assert back is not None and back.settings is None and "seven" in back.damaged
    assert back.owner == OWNER and back.version == "1.0"  # what runs, and whose it is, still tell


def test_a_value_the_metadata_cannot_hold_as_itself_is_refused() -> None:
    with pytest.raises(DomainXmlError, match="metadata argument"):
        domain_xml(svc_meta(args={"tag": "a\x1bb"}))


# -- adopting: the metadata is hostile input -------------------------------------------------------------


def feed(digest: str = "sha256new_X") -> Feed:
    impl = Implementation(
        id="id-1.0",
        version=Version.parse("1.0"),
        arch=Arch.parse("Virtio-x86_64"),
        stability=Stability.STABLE,
        digests={"sha256new": digest.removeprefix("sha256new_")},
        retrievals=(Archive("http://x/a.tgz", 1),),
        commands={},
        needs=NEEDS,
    )
    return Feed(url="https://example.org/web.xml", name="web", summary="", implementations=(impl,))


def adopt(
    meta: Metadata, *, policy: Policy = POLICY, others: tuple[Service, ...] = ()
) -> tuple[Service, Implementation]:
    return service_from(meta, feed(), target=TARGET, policy=policy, pool="0xl", others=list(others), active=True)


def tampered(**settings: Any) -> Metadata:
    meta = svc_meta()
    assert meta.settings is not None
    return replace(meta, settings=replace(meta.settings, **settings))


def test_a_record_is_rebuilt_from_what_the_domain_says() -> None:
    svc, impl = adopt(svc_meta())
    original = service(memory=128, ready=Readiness(settle=5.0, log="READY", tcp="127.0.0.1:80"), start_order=7)
    assert str(impl.version) == "1.0" and svc.desired == "running"
    for field in ("name", "feed", "args", "memory", "networks", "macs", "restart", "ready", "start_order", "channel"):
        assert getattr(svc, field) == getattr(original, field), field
    assert sorted(svc.disks, key=str) == sorted(original.disks, key=str)
    assert svc.current is not None and svc.current.digest == "sha256new_X"


@pytest.mark.parametrize(
    ("meta", "error", "words"),
    [
        (tampered(args=(("tag", "BAD VALUE"),)), SettingError, "does not match the pattern"),
        (tampered(args=(("rootfs", "/etc"),)), SettingError, "does not declare this argument"),
        (tampered(args=(("Tag", "x"),)), SettingError, "invalid"),
        (tampered(channel="nightly"), UsageError, "invalid channel"),
        (tampered(versions="not a range"), SettingError, "range"),
        (tampered(memory=-1), SettingError, "positive"),
        (tampered(memory=1 << 20), PolicyError, "limit"),
        (tampered(restart="sometimes"), UsageError, "restart"),
        (tampered(networks=(("br-evil", "02:00:00:00:00:01"),)), PolicyError, "br-evil"),
        (tampered(networks=(("network:default", "01:00:5e:00:00:01"),)), SettingError, "multicast"),
        (tampered(networks=()), SettingError, "networks"),
        (
            tampered(disks=(DiskNote("storage", 1 << 20, "libvirt", "0xl/../../etc/passwd", "k"),)),
            SettingError,
            "not a volume 0xl makes",
        ),
        (
            tampered(disks=(DiskNote("storage", 1 << 20, "file", "/etc/passwd", "k"),)),
            SettingError,
            "not a volume 0xl makes",
        ),
        (
            tampered(disks=(DiskNote("storage", 1 << 20, "libvirt", "other/0xl-web-storage", "k"),)),
            SettingError,
            "not a volume 0xl makes",
        ),
        (
            tampered(disks=(DiskNote("storage", 1, "libvirt", "0xl/0xl-web-storage", "k"),)),
            SettingError,
            "below",
        ),
        (
            tampered(disks=(DiskNote("storage", 1 << 20, "libvirt", "0xl/0xl-web-storage", "k"),)),
            SettingError,
            "needs a disk 'log'",
        ),
        (replace(svc_meta(), digest="sha256new_Y"), SelectionError, "adopts nothing unverified"),
        (replace(svc_meta(), version="2.0"), SelectionError, "adopts nothing unverified"),
        (replace(svc_meta(), service="Web!"), UsageError, "Web!"),
        (replace(svc_meta(), settings=None), ConflictError, "settings"),
    ],
)
def test_tampered_metadata_is_refused_as_add_would_refuse_it(meta: Metadata, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        adopt(meta, policy=replace(POLICY, max_memory=4096))


def test_a_mac_another_service_of_the_host_has_is_refused() -> None:
    other = service(name="api", disks=())
    with pytest.raises(Exception, match="02:00:00:00:00:01"):
        adopt(svc_meta(), others=(other,))


def test_the_operator_id_is_made_once_and_is_not_the_mac_host_id(tmp_path: Path) -> None:
    from zeroxl.state import hostid

    assert hostid.known_operator_id(tmp_path / "operator-id") is None
    made = hostid.operator_id(tmp_path / "operator-id")
    assert len(made) == 32 and int(made, 16) >= 0
    assert hostid.operator_id(tmp_path / "operator-id") == made == hostid.known_operator_id(tmp_path / "operator-id")
    assert hostid.host_id(tmp_path / "host-id").hex()[:32] != made
    (tmp_path / "operator-id").write_text("not hex\n")
    with pytest.raises(StateError, match="owner of the libvirt domains") as e:
        hostid.known_operator_id(tmp_path / "operator-id")
    assert "0xl host adopt" in str(e.value.hint)


def test_adopt_needs_a_host_other_than_local_and_a_name_or_all(zxi, zhome: Path) -> None:
    r = zxi("host", "adopt", "web")
    assert r.rc == 2 and "a host other than local" in r.err, r
    assert zxi("host", "add", "h1", "qemu+ssh://root@127.0.0.1:1/system").rc == 0
    r = zxi("host", "adopt", "--host", "h1")
    assert r.rc == 2 and "give a service NAME or --all" in r.err, r
    r = zxi("host", "adopt", "web", "--all", "--host", "h1")
    assert r.rc == 2, r
