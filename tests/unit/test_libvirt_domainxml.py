"""The libvirt backend's domain XML (backends/libvirt/domainxml.py, domain.py): what it holds, where each
value comes from, and that no value from a feed or a user adds an element or an attribute (hypothesis).
Pure: no libvirt; tests/labs/libvirt has libvirt validate and run what this writes."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from defusedxml.ElementTree import fromstring as safe_fromstring
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.words import refused
from zeroxl.backends.base import BackendContext
from zeroxl.backends.libvirt.domain import domain_spec
from zeroxl.backends.libvirt.domainxml import (
    METADATA_NS,
    DiskSpec,
    DomainSpec,
    DomainXmlError,
    Metadata,
    NicSpec,
    read_metadata,
    render,
)
from zeroxl.errors import BackendError, PolicyError
from zeroxl.host.config import Config, Policy
from zeroxl.host.needs import BlockDevice, BootArg, ServiceNeeds
from zeroxl.host.paths import Home
from zeroxl.state.selected import Selected
from zeroxl.state.service import Disk, Service

M = "{" + METADATA_NS + "}"
SPEC = DomainSpec(
    name="web",
    domain_type="qemu",
    kernel="/var/lib/0xl/store/sha256new_X/web.virtio",
    initrd="/var/lib/0xl/store/sha256new_X/initrd.img",
    memory=128,
    metadata=Metadata("web", "https://example.org/web.xml", "1.0", "sha256new_X"),
    serial_log="/var/lib/0xl/services/web/libvirt/console.log",
    cmdline=(("ipv4", "10.0.0.2/24"), ("tag", "web")),
    disks=(DiskSpec("vda", "volume", "0xl/0xl-web-storage"),),
    nics=(NicSpec("bridge", "br0", "02:00:00:00:00:01"), NicSpec("network", "default", "02:00:00:00:00:02")),
)

# The same service through libvirt's Xen driver: a PVH guest, disks by path at Xen disks.
XEN_SPEC = replace(
    SPEC,
    domain_type="xen",
    kernel="/var/lib/0xl/store/sha256new_X/web.xen",
    disks=(DiskSpec("xvdb", "block", "/dev/vg0/0xl-web-storage"), DiskSpec("xvdd", "file", "/d/log.img")),
    nics=(NicSpec("bridge", "xenbr0", "00:16:3e:00:00:01"),),
)


def shape(xml: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every element's path and attribute names, in document order: what a value must never change."""
    out = []

    def walk(el: ET.Element, path: str) -> None:
        here = f"{path}/{el.tag}"
        out.append((here, tuple(sorted(el.attrib))))
        for child in el:
            walk(child, here)

    walk(safe_fromstring(xml), "")
    return out


def test_the_domain_boots_the_kernel_with_only_the_declared_arguments_and_virtio_devices() -> None:
    root = safe_fromstring(render(SPEC))
    assert root.get("type") == "qemu"
    assert root.findtext("name") == "web"
    assert root.findtext("os/kernel") == SPEC.kernel
    assert root.findtext("os/initrd") == SPEC.initrd
    assert root.findtext("os/cmdline") == "--ipv4=10.0.0.2/24 --tag=web"
    assert root.find("memory").text == "128" and root.find("memory").get("unit") == "MiB"  # type: ignore[union-attr]
    disk = root.find("devices/disk")
    assert disk is not None and disk.get("type") == "volume"
    assert disk.find("source").attrib == {"pool": "0xl", "volume": "0xl-web-storage"}  # type: ignore[union-attr]
    assert disk.find("target").attrib == {"dev": "vda", "bus": "virtio"}  # type: ignore[union-attr]
    nics = root.findall("devices/interface")
    assert [(n.get("type"), n.find("source").attrib, n.find("mac").get("address")) for n in nics] == [  # type: ignore[union-attr]
        ("bridge", {"bridge": "br0"}, "02:00:00:00:00:01"),
        ("network", {"network": "default"}, "02:00:00:00:00:02"),
    ]
    assert all(n.find("model").get("type") == "virtio" for n in nics)  # type: ignore[union-attr]
    serial = root.find("devices/serial/source")
    assert serial is not None and serial.attrib == {"path": SPEC.serial_log, "append": "on"}
    assert root.find("devices/memballoon").get("model") == "none"  # type: ignore[union-attr]
    assert [root.findtext(k) for k in ("on_poweroff", "on_reboot", "on_crash")] == ["destroy", "restart", "restart"]


def test_a_xen_domain_is_a_pvh_guest_with_its_disks_at_xen_disks_and_the_pv_console() -> None:
    root = safe_fromstring(render(XEN_SPEC))
    assert root.get("type") == "xen"
    os_type = root.find("os/type")
    assert (
        os_type is not None and os_type.text == "xenpvh" and os_type.attrib == {"arch": "x86_64", "machine": "xenpvh"}
    )
    assert root.findtext("os/kernel") == XEN_SPEC.kernel
    assert root.findtext("os/initrd") == XEN_SPEC.initrd
    assert root.findtext("os/cmdline") == "--ipv4=10.0.0.2/24 --tag=web"
    disks = root.findall("devices/disk")
    assert [(d.get("type"), d.find("source").attrib, d.find("target").attrib) for d in disks] == [  # type: ignore[union-attr]
        ("block", {"dev": "/dev/vg0/0xl-web-storage"}, {"dev": "xvdb", "bus": "xen"}),
        ("file", {"file": "/d/log.img"}, {"dev": "xvdd", "bus": "xen"}),
    ]
    # blkback, as xl attaches the xen backend's disks: no QEMU in dom0.
    assert all(d.find("driver").attrib == {"name": "phy", "type": "raw"} for d in disks)  # type: ignore[union-attr]
    nic = root.find("devices/interface")
    assert nic is not None and nic.get("type") == "bridge" and nic.find("model") is None
    assert nic.find("source").attrib == {"bridge": "xenbr0"}  # type: ignore[union-attr]
    assert nic.find("mac").attrib == {"address": "00:16:3e:00:00:01"}  # type: ignore[union-attr]
    console = root.find("devices/console")
    assert console is not None and console.get("type") == "pty"
    assert console.find("target").attrib == {"type": "xen", "port": "0"}  # type: ignore[union-attr]
    # Nothing of the QEMU form: no serial file (xenconsoled logs the console), ACPI or balloon setting.
    assert root.find("devices/serial") is None and root.find("features") is None
    assert root.find("devices/memballoon") is None
    assert read_metadata(render(XEN_SPEC)) == XEN_SPEC.metadata


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"disks": (DiskSpec("vda", "block", "/dev/vg0/x"),)}, "as a Xen disk"),
        ({"disks": (DiskSpec("xvdb", "volume", "0xl/0xl-web-storage"),)}, "a Xen disk's kind must be one of file"),
        ({"disks": (DiskSpec("xvdb", "file", "d/a.img"),)}, "not absolute"),
        ({"nics": (NicSpec("bridge", "br0", "01:00:00:00:00:01"),)}, "MAC"),
    ],
)
def test_values_a_xen_domain_cannot_hold_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(DomainXmlError, match=message):
        render(replace(XEN_SPEC, **change))  # type: ignore[arg-type]


def test_the_metadata_names_the_service_feed_version_and_digest_in_0xls_namespace() -> None:
    xml = render(SPEC)
    service = safe_fromstring(xml).find(f"metadata/{M}service")
    assert service is not None
    assert [(c.tag.removeprefix(M), c.text) for c in service] == [
        ("name", "web"),
        ("feed", "https://example.org/web.xml"),
        ("version", "1.0"),
        ("digest", "sha256new_X"),
    ]
    assert read_metadata(xml) == SPEC.metadata
    assert 'xmlns:zeroxl="urn:x-0xl:libvirt:1"' in xml  # a readable prefix in `virsh dumpxml`
    assert read_metadata("<domain><name>other</name></domain>") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cmdline": (("tag", "a b"),)}, "cannot be written on the kernel command line"),
        ({"cmdline": (("tag", 'a"b'),)}, "cannot be written on the kernel command line"),
        ({"cmdline": (("Tag", "a"),)}, "argument name"),
        ({"cmdline": (("tag", "x" * 2100),)}, "over 2048"),
        ({"kernel": "relative/web.virtio"}, "not absolute"),
        ({"kernel": "/store/web\x01.virtio"}, "characters 0xl does not write"),
        ({"memory": 0}, "memory must be a whole number"),
        ({"domain_type": "bhyve"}, "domain type must be one of kvm, qemu, xen"),
        ({"on_crash": "coredump-restart"}, "on_crash must be one of"),
        ({"uuid": "not-a-uuid"}, "as uuid"),
        ({"disks": (DiskSpec("sda", "volume", "0xl/0xl-web-storage"),)}, "virtio disk"),
        ({"disks": (DiskSpec("vda", "volume", "0xl/someone-elses"),)}, "not a storage volume 0xl makes"),
        ({"disks": (DiskSpec("vda", "file", "/d/a.img"), DiskSpec("vda", "file", "/d/b.img"))}, "appears twice"),
        ({"nics": (NicSpec("bridge", "br 0", "02:00:00:00:00:01"),)}, "bridge name"),
        ({"nics": (NicSpec("direct", "eth0", "02:00:00:00:00:01"),)}, "network kind"),
        ({"nics": (NicSpec("bridge", "br0", "03:00:00:00:00:01"),)}, "MAC"),
        ({"metadata": Metadata("web", "https://x/\x00", "1.0", "d")}, "metadata feed"),
    ],
)
def test_values_that_cannot_be_written_as_themselves_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(DomainXmlError, match=message):
        render(replace(SPEC, **change))  # type: ignore[arg-type]


# Where each value a feed or a user chooses goes, in each form of domain (virtio for QEMU, PVH for Xen);
# one at a time, the others valid, so that each is tried.
PLACES = {
    "feed": lambda s, v: replace(s, metadata=replace(s.metadata, feed=v)),
    "version": lambda s, v: replace(s, metadata=replace(s.metadata, version=v)),
    "digest": lambda s, v: replace(s, metadata=replace(s.metadata, digest=v)),
    "kernel": lambda s, v: replace(s, kernel="/" + v),
    "initrd": lambda s, v: replace(s, initrd="/" + v),
    "serial_log": lambda s, v: replace(s, serial_log="/" + v),
    "arg": lambda s, v: replace(s, cmdline=(("ipv4", v), ("tag", "web"))),
    "pool": lambda s, v: replace(s, disks=(DiskSpec(s.disks[0].dev, "volume", f"{v}/0xl-web-storage"),)),
    "file disk": lambda s, v: replace(s, disks=(DiskSpec(s.disks[0].dev, "file", "/" + v),)),
    "block disk": lambda s, v: replace(s, disks=(DiskSpec(s.disks[0].dev, "block", "/" + v),)),
    "bridge": lambda s, v: replace(s, nics=(NicSpec("bridge", v, "02:00:00:00:00:01"),)),
    "network": lambda s, v: replace(s, nics=(NicSpec("network", v, "02:00:00:00:00:01"),)),
}
FORMS = {"virtio": SPEC, "xen": XEN_SPEC}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("place", sorted(PLACES))
@settings(max_examples=150, deadline=None)
@given(value=st.one_of(st.text(), st.text(alphabet=st.characters(codec="ascii"))))
def test_no_value_adds_an_element_or_an_attribute(form: str, place: str, value: str) -> None:
    base = FORMS[form]
    spec = PLACES[place](base, value)
    try:
        xml = render(spec)
    except DomainXmlError:
        return
    assert shape(xml) == shape(render(PLACES[place](base, "x")))  # the same elements and attributes as any value's
    root = safe_fromstring(xml)
    assert read_metadata(xml) == spec.metadata  # each value is itself, nothing more or less
    assert root.findtext("os/kernel") == spec.kernel
    assert root.get("type") == base.domain_type
    if form == "virtio":
        assert root.find("devices/serial/source").get("path") == spec.serial_log  # type: ignore[union-attr]
    else:  # xenconsoled logs a Xen guest's console
        assert root.find("devices/serial") is None
    for disk, element in zip(spec.disks, root.findall("devices/disk"), strict=True):
        source = element.find("source")
        assert source is not None and disk.source in ("/".join(source.attrib.values()), *source.attrib.values())
    # The command line is exactly the declared arguments, one word each.
    words = [f"--{name}={v}" for name, v in spec.cmdline]
    assert (root.findtext("os/cmdline") or "").split(" ") == words


NEEDS = ServiceNeeds(
    memory=128,
    blocks=(BlockDevice("storage", 1 << 20), BlockDevice("log", 1 << 20, vdev="xvdd")),
    networks=("service",),
    args=(BootArg("ipv4", "[0-9./]+"), BootArg("tag", "[a-z]+")),
    ramdisk="initrd.img",
)
# A Solo5 virtio unikernel has at most one block device and one network (host.devices.virtio_limits).
VIRTIO_NEEDS = replace(NEEDS, blocks=NEEDS.blocks[:1])
DISKS = (
    Disk("log", 1 << 20, "libvirt", "0xl/0xl-web-log"),
    Disk("storage", 1 << 20, "libvirt", "0xl/0xl-web-storage"),
)


def service(**kw: object) -> Service:
    sel = Selected("id", "1.0", "sha256new_X", "Virtio-x86_64", "stable", "web.virtio", needs=VIRTIO_NEEDS)
    base = Service(
        name="web",
        feed="https://example.org/web.xml",
        backend="libvirt",
        target="Virtio-x86_64",
        current=sel,
        args={"tag": "web"},
        networks=("network:default",),
        macs=("02:00:00:00:00:01",),
        disks=DISKS[1:],
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def spec_of(svc: Service, policy: Policy | None = None) -> DomainSpec:
    return domain_spec(
        svc, domain_type="qemu", kernel="/k", initrd="/i", serial_log="/c", policy=policy or Policy(), others=[]
    )


def test_disks_are_at_the_virtio_disk_of_their_block_in_mirages_numbering() -> None:
    # storage is mirage's first block (xvdb): the first virtio disk, which Solo5 takes.
    spec = spec_of(service())
    assert [(d.dev, d.source) for d in spec.disks] == [("vda", "0xl/0xl-web-storage")]


@pytest.mark.parametrize(
    ("needs", "disks", "words"),
    [
        (NEEDS, DISKS, "declares 2 block devices"),
        (replace(VIRTIO_NEEDS, networks=("service", "admin")), DISKS[1:], "declares 2 networks"),
    ],
)
def test_a_virtio_guest_with_more_than_one_disk_or_network_is_refused(
    needs: ServiceNeeds, disks: tuple[Disk, ...], words: str
) -> None:
    # Solo5's virtio bindings see one virtio-blk and one virtio-net device: a second would be attached and
    # never found by the unikernel.
    current = service().current
    assert current is not None
    macs = tuple(f"02:00:00:00:00:0{i}" for i in range(1, len(needs.networks) + 1))
    svc = service(current=replace(current, needs=needs), disks=disks, networks=("br0",) * len(macs), macs=macs)
    with pytest.raises(BackendError, match=f"at most 1 network and 1 block device, and this {words}"):
        spec_of(svc)


def test_a_network_named_network_colon_is_a_libvirt_network_and_the_rest_bridges() -> None:
    assert spec_of(service()).nics == (NicSpec("network", "default", "02:00:00:00:00:01"),)
    assert spec_of(service(networks=("br0",))).nics == (NicSpec("bridge", "br0", "02:00:00:00:00:01"),)


def test_the_metadata_and_the_restart_policy_come_from_the_record() -> None:
    spec = spec_of(service(restart="no"))
    meta = spec.metadata
    assert (meta.service, meta.feed, meta.version, meta.digest) == ("web", "https://example.org/web.xml", "1.0", "sha256new_X")
    assert meta.settings is not None and meta.settings.restart == "no" and meta.settings.args == (("tag", "web"),)
    assert (spec.on_poweroff, spec.on_reboot, spec.on_crash) == ("destroy", "destroy", "preserve")
    assert spec.cmdline == (("tag", "web"),)


def test_the_hosts_policy_applies_when_the_domain_is_written() -> None:
    with pytest.raises(PolicyError, match="over the host's limit"):
        spec_of(service(), Policy(max_memory=64))
    with pytest.raises(PolicyError, match="network:default is not one the host allows"):
        spec_of(service(), Policy(bridges=("br0",)))
    spec_of(service(), Policy(bridges=("network:default",)))


def xen_service(**kw: object) -> Service:
    current = service().current
    assert current is not None
    fields: dict[str, object] = {
        "current": replace(current, arch="Xen-x86_64", command_path="web.xen", needs=NEEDS),
        "target": "Xen-x86_64",
        "disks": DISKS,
        "networks": ("xenbr0",),
    }
    return service(**(fields | kw))


def test_through_libvirts_xen_driver_disks_are_at_the_xen_disks_the_feed_declares() -> None:
    # As the xen backend attaches them (host.devices): storage at xvdb by mirage's rule, log where it is
    # declared (xvdd); no virtio renaming.
    spec = domain_spec(
        xen_service(), domain_type="xen", kernel="/k", initrd="/i", serial_log="/c", policy=Policy(), others=[]
    )
    assert [(d.dev, d.source) for d in spec.disks] == [("xvdb", "0xl/0xl-web-storage"), ("xvdd", "0xl/0xl-web-log")]
    assert spec.domain_type == "xen" and spec.nics == (NicSpec("bridge", "xenbr0", "02:00:00:00:00:01"),)


def test_a_pv_guest_is_refused_through_libvirt() -> None:
    current = xen_service().current
    assert current is not None
    svc = xen_service(current=replace(current, needs=replace(NEEDS, xen_type="pv")))
    with pytest.raises(BackendError, match="PV guest; 0xl runs Xen guests through libvirt as PVH only"):
        domain_spec(svc, domain_type="xen", kernel="/k", initrd="/i", serial_log="/c", policy=Policy(), others=[])


def test_the_libvirt_backend_runs_xen_builds_at_a_xen_uri() -> None:
    from zeroxl.backends import target_for
    from zeroxl.feeds.selection import host_cpu

    assert target_for("libvirt", "xen:///system") == f"Xen-{host_cpu()}"
    assert target_for("libvirt", "xen+ssh://root@dom0/system") == f"Xen-{host_cpu()}"
    assert target_for("libvirt", "qemu:///system") == f"Virtio-{host_cpu()}"
    assert target_for("libvirt", "xenish:///system") == f"Virtio-{host_cpu()}"
    assert target_for("xen") == f"Xen-{host_cpu()}"


def test_a_disk_at_xvda_has_no_virtio_place() -> None:
    needs = replace(NEEDS, blocks=(BlockDevice("storage", 1 << 20, vdev="xvda"),))
    current = service().current
    assert current is not None
    disks = (Disk("storage", 1, "libvirt", "0xl/0xl-web-storage"),)
    svc = service(current=replace(current, needs=needs), disks=disks)
    with pytest.raises(BackendError, match="kept for a boot disk"):
        spec_of(svc)


def test_without_libvirt_python_the_backend_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from zeroxl.backends import get_backend
    from zeroxl.backends.libvirt import connection

    monkeypatch.setitem(sys.modules, "libvirt", None)  # import libvirt raises ImportError
    monkeypatch.setattr(connection, "_loaded", {})
    backend = get_backend("libvirt", BackendContext(Home(tmp_path), Config()))
    with refused(BackendError, "the libvirt backend needs libvirt-python, which is not installed") as e:
        backend.status(service())
    assert "pip install '0xl[libvirt]'" in str(e.value.hint)
