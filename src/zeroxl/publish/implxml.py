"""The XML that `0xl feed add` writes for one implementation, and that `0xl feed init` starts from.

What a service needs from its host goes into `<s:needs>` in the `urn:x-0xl:service:1` namespace,
declared on the element itself so that the implementation can be read, copied or moved on its own
(docs/feed-service-needs.md). Values are only written here; whether they are acceptable is decided by
`feeds.parse`, which reads the edited feed back before it is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zeroxl.feeds.model import FEED_NS, NEEDS_NS
from zeroxl.publish.feedfile import escape, quote


@dataclass(frozen=True)
class BootArgSpec:
    name: str
    pattern: str
    required: bool = False
    default: str | None = None


@dataclass(frozen=True)
class NeedsSpec:
    """What a service needs, as the publisher declares it (checked when the feed is read back)."""

    memory_min: int | None = None
    memory: int | None = None
    xen_type: str | None = None
    # (name, minimum size such as "64M", Xen disk such as "xvdb"); `feed add` fills in every disk
    blocks: tuple[tuple[str, str | None, str | None], ...] = ()
    networks: tuple[str, ...] = ()
    args: tuple[BootArgSpec, ...] = ()
    ramdisk: str | None = None  # a file in the implementation: the kernel's initial ramdisk

    def empty(self) -> bool:
        return self == NeedsSpec()


@dataclass(frozen=True)
class ArchiveSpec:
    href: str
    size: int
    extract: str | None = None
    type: str | None = None  # only when the href's name does not say it


@dataclass(frozen=True)
class ImplSpec:
    digest: str  # sha256new, without the prefix
    version: str
    arch: str
    released: str
    stability: str
    archive: ArchiveSpec
    command: str | None = None
    needs: NeedsSpec = field(default_factory=NeedsSpec)

    @property
    def id(self) -> str:
        return f"sha256new_{self.digest}"


def new_feed(*, uri: str, name: str, summary: str) -> bytes:
    """A feed with no implementations yet, laid out as 0install's tools lay feeds out."""
    return (
        b'<?xml version="1.0" ?>\n'
        + b"<interface xmlns="
        + quote(FEED_NS)
        + b" uri="
        + quote(uri)
        + b">\n"
        + b"  <name>"
        + _text(name)
        + b"</name>\n"
        + b"  <summary>"
        + _text(summary)
        + b"</summary>\n"
        + b"</interface>\n"
    )


def implementation_xml(impl: ImplSpec, indent: bytes = b"  ") -> bytes:
    """An `<implementation>` element, its lines indented by INDENT per level and ending in newlines."""
    lines: list[tuple[int, bytes]] = []
    attrs = _attrs(
        ("id", impl.id),
        ("version", impl.version),
        ("arch", impl.arch),
        ("released", impl.released),
        ("stability", impl.stability),
    )
    lines.append((0, b"<implementation" + attrs + b">"))
    if impl.command is not None:
        lines.append((1, b"<command" + _attrs(("name", "run"), ("path", impl.command)) + b"/>"))
    lines.append((1, b"<manifest-digest" + _attrs(("sha256new", impl.digest)) + b"/>"))
    a = impl.archive
    archive_attrs = _attrs(("href", a.href), ("size", str(a.size)), ("extract", a.extract), ("type", a.type))
    lines.append((1, b"<archive" + archive_attrs + b"/>"))
    if not impl.needs.empty():
        lines.extend((depth + 1, line) for depth, line in _needs(impl.needs))
    lines.append((0, b"</implementation>"))
    return b"".join(indent * depth + line + b"\n" for depth, line in lines)


def _needs(needs: NeedsSpec) -> list[tuple[int, bytes]]:
    attrs = _attrs(
        ("xmlns:s", NEEDS_NS),
        ("memory-min", None if needs.memory_min is None else str(needs.memory_min)),
        ("memory", None if needs.memory is None else str(needs.memory)),
        ("xen-type", needs.xen_type),
        ("ramdisk", needs.ramdisk),
    )
    children: list[bytes] = []
    for name, min_size, vdev in needs.blocks:
        children.append(b"<s:block" + _attrs(("name", name), ("min-size", min_size), ("vdev", vdev)) + b"/>")
    for name in needs.networks:
        children.append(b"<s:network" + _attrs(("name", name)) + b"/>")
    for arg in needs.args:
        children.append(
            b"<s:arg"
            + _attrs(
                ("name", arg.name),
                ("pattern", arg.pattern),
                ("required", "true" if arg.required else None),
                ("default", arg.default),
            )
            + b"/>"
        )
    if not children:
        return [(0, b"<s:needs" + attrs + b"/>")]
    return [(0, b"<s:needs" + attrs + b">"), *((1, c) for c in children), (0, b"</s:needs>")]


def _attrs(*pairs: tuple[str, str | None]) -> bytes:
    return b"".join(b" " + k.encode() + b"=" + quote(v) for k, v in pairs if v is not None)


def _text(value: str) -> bytes:
    quote(value)  # refuses line breaks and control characters
    return escape(value).encode()
