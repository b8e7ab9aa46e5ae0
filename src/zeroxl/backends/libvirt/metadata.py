"""0xl's metadata in a libvirt domain (`<metadata>`, namespace urn:x-0xl:libvirt:1): what runs (service,
feed, version, digest), whose it is (the owner: the operator machine's id, state.hostid.operator_id) and,
from format 2 on, the operator's choices another operator's machine needs to rebuild the record when it
adopts the domain (`0xl host adopt`, docs/fleet.md).

    <zeroxl:service format="2">
      <zeroxl:name>web</zeroxl:name> <zeroxl:feed>…</zeroxl:feed> <zeroxl:version>1.0</zeroxl:version>
      <zeroxl:digest>sha256new_…</zeroxl:digest> <zeroxl:owner>…</zeroxl:owner>
      <zeroxl:settings channel="stable" restart="on-failure" enabled="true" start-order="50" [versions=…]
                       [memory=…]>
        <zeroxl:arg name="tag">web</zeroxl:arg>
        <zeroxl:network bridge="br0" mac="02:…"/>
        <zeroxl:disk name="storage" size="33554432" kind="libvirt" location="images/0xl-web-storage" key="…"/>
        <zeroxl:ready settle="3.0" timeout="30.0" [log=…] [tcp=…]/>
      </zeroxl:settings>
    </zeroxl:service>

A domain written by an older 0xl has no `format` (format 1): no owner, no settings. Reading only parses:
every value is a string or a number of the right type here, and whoever adopts validates it as if the
operator had typed it (app.adopt) — the host, or whoever wrote the domain, is not trusted.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

from zeroxl.errors import SettingError

METADATA_NS = "urn:x-0xl:libvirt:1"
METADATA_PREFIX = "zeroxl"
FORMAT = 2
_NS = "{" + METADATA_NS + "}"
# <zeroxl:service> holds <zeroxl:name>, <zeroxl:feed>, <zeroxl:version>, <zeroxl:digest>: (element, field).
_KEYS = (("name", "service"), ("feed", "feed"), ("version", "version"), ("digest", "digest"))
# What XML 1.0 can hold, less the other control characters (a path or a URL has no use for them).
TEXT = re.compile(r"[^\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]*")
_MAX_ITEMS = 64  # arguments, networks or disks: far more than any service has; more is not 0xl's writing
ET.register_namespace(METADATA_PREFIX, METADATA_NS)


class MetadataError(SettingError):
    """A value cannot be written into 0xl's metadata as itself."""


@dataclass(frozen=True)
class DiskNote:
    name: str
    size: int
    kind: str
    location: str
    key: str = ""  # the storage volume's key (its path in a dir pool), for the adopter's note of it


@dataclass(frozen=True)
class Settings:
    """The operator's choices for the service, as its record holds them (state.service.Service)."""

    channel: str = "stable"
    versions: str | None = None
    args: tuple[tuple[str, str], ...] = ()
    memory: int | None = None
    networks: tuple[tuple[str, str], ...] = ()  # (bridge, MAC) per network, in order
    disks: tuple[DiskNote, ...] = ()
    restart: str = "on-failure"
    enabled: bool = True
    start_order: int = 50
    ready_settle: float = 3.0
    ready_timeout: float = 30.0
    ready_log: str | None = None
    ready_tcp: str | None = None


@dataclass(frozen=True)
class Metadata:
    service: str
    feed: str
    version: str
    digest: str
    owner: str = ""  # "" in a domain of format 1
    settings: Settings | None = None  # None in a domain of format 1, or when what it holds is not 0xl's form
    format: int = 1
    damaged: str = ""  # why the settings could not be read, when a format-2 domain's are not 0xl's


def write(parent: ET.Element, meta: Metadata, *, ns: str = _NS) -> ET.Element:
    """META as <zeroxl:service> under PARENT (its elements in the namespace NS, "{URI}" or "" for none);
    MetadataError if a value cannot be written as itself."""
    service = ET.SubElement(parent, ns + "service")
    for key, field_name in _KEYS:
        ET.SubElement(service, ns + key).text = _text(getattr(meta, field_name), key)
    if meta.settings is None and not meta.owner:
        return service  # format 1: what an older 0xl wrote, and what tests of it write
    service.set("format", str(FORMAT))
    ET.SubElement(service, ns + "owner").text = _text(meta.owner, "owner")
    s = meta.settings or Settings()
    attrs = {
        "channel": _text(s.channel, "channel"),
        "restart": _text(s.restart, "restart"),
        "enabled": "true" if s.enabled else "false",
        "start-order": str(int(s.start_order)),
    }
    if s.versions is not None:
        attrs["versions"] = _text(s.versions, "versions")
    if s.memory is not None:
        attrs["memory"] = str(int(s.memory))
    settings = ET.SubElement(service, ns + "settings", attrs)
    for name, value in s.args:
        ET.SubElement(settings, ns + "arg", name=_text(name, "argument name")).text = _text(value, "argument")
    for bridge, mac in s.networks:
        ET.SubElement(settings, ns + "network", bridge=_text(bridge, "bridge"), mac=_text(mac, "MAC"))
    for d in s.disks:
        disk = {"name": d.name, "size": str(int(d.size)), "kind": d.kind, "location": d.location, "key": d.key}
        ET.SubElement(settings, ns + "disk", {k: _text(v, f"disk {k}") for k, v in disk.items()})
    ready = {"settle": repr(float(s.ready_settle)), "timeout": repr(float(s.ready_timeout))}
    if s.ready_log is not None:
        ready["log"] = _text(s.ready_log, "readiness pattern")
    if s.ready_tcp is not None:
        ready["tcp"] = _text(s.ready_tcp, "readiness address")
    ET.SubElement(settings, ns + "ready", ready)
    return service


def element_xml(meta: Metadata) -> str:
    """META as the XML of its one element, for libvirt's virDomainSetMetadata: without a namespace, which
    libvirt gives it (the call names the namespace and its prefix)."""
    holder = ET.Element("metadata")
    return ET.tostring(write(holder, meta, ns=""), encoding="unicode")


def read(xml_text: str) -> Metadata | None:
    """0xl's metadata in a domain's XML (as libvirt returns it), or None if 0xl did not write any."""
    try:
        root = ET.fromstring(xml_text)  # noqa: S314 - libvirt's answer, parsed without entities or DTDs
    except ET.ParseError:
        return None
    service = root.find(f"metadata/{_NS}service")
    if service is None:
        return None
    service_name, feed, version, digest = (service.findtext(_NS + key) or "" for key, _ in _KEYS)
    basic = Metadata(service_name, feed, version, digest)
    if service.get("format") is None:
        return basic
    owner = service.findtext(_NS + "owner") or ""
    try:
        fmt = int(service.get("format", ""))
        settings = _settings(service.find(_NS + "settings"))
    except (ValueError, TypeError) as e:
        return replace(basic, owner=owner, format=FORMAT, damaged=str(e))
    return replace(basic, owner=owner, settings=settings, format=fmt)


def _settings(element: ET.Element | None) -> Settings:
    if element is None:
        raise ValueError("it holds no settings")
    args = tuple((a.get("name") or "", a.text or "") for a in element.findall(_NS + "arg"))
    networks = tuple((n.get("bridge") or "", n.get("mac") or "") for n in element.findall(_NS + "network"))
    disks = tuple(
        DiskNote(
            name=d.get("name") or "",
            size=int(d.get("size") or ""),
            kind=d.get("kind") or "",
            location=d.get("location") or "",
            key=d.get("key") or "",
        )
        for d in element.findall(_NS + "disk")
    )
    if max(len(args), len(networks), len(disks)) > _MAX_ITEMS:
        raise ValueError(f"it lists more than {_MAX_ITEMS} arguments, networks or disks")
    enabled = element.get("enabled", "true")
    if enabled not in ("true", "false"):
        raise ValueError(f"enabled is {enabled!r}, not true or false")
    ready = element.find(_NS + "ready")
    memory = element.get("memory")
    return Settings(
        channel=element.get("channel", "stable"),
        versions=element.get("versions"),
        args=args,
        memory=int(memory) if memory is not None else None,
        networks=networks,
        disks=disks,
        restart=element.get("restart", "on-failure"),
        enabled=enabled == "true",
        start_order=int(element.get("start-order", "50")),
        ready_settle=float(ready.get("settle", "3")) if ready is not None else 3.0,
        ready_timeout=float(ready.get("timeout", "30")) if ready is not None else 30.0,
        ready_log=ready.get("log") if ready is not None else None,
        ready_tcp=ready.get("tcp") if ready is not None else None,
    )


def _text(value: str, key: str) -> str:
    if not isinstance(value, str) or not TEXT.fullmatch(value):
        raise MetadataError(f"domain XML: the metadata {key} {value!r} holds characters 0xl does not write")
    return value
