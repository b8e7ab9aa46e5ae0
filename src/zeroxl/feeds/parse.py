"""Feed XML (0install's interface format) to the typed model in `feeds.model`.

Parsing uses defusedxml: entity declarations, external entities and DTDs are refused, so an entity
bomb is an error rather than a few gigabytes of memory. Attributes and commands inherit from enclosing
`<group>`s as in 0install. What a service needs from its host (`NEEDS_NS`) is validated here, so that
later code only ever sees typed, checked values.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zeroxl.errors import UsageError, VerificationError
from zeroxl.feeds import patterns
from zeroxl.feeds.manifest import is_digest
from zeroxl.feeds.model import (
    FEED_NS,
    NEEDS_NS,
    Arch,
    Archive,
    Command,
    Feed,
    FileSource,
    Implementation,
    Recipe,
    RemoveStep,
    RenameStep,
    Retrieval,
    Stability,
    Step,
)
from zeroxl.feeds.versions import Version
from zeroxl.host.devices import VDEV_RULE, block_vdevs, check_network_positions, is_vdev
from zeroxl.host.names import ARG_NAME, DISK_NAME, NETWORK_NAME
from zeroxl.host.needs import BlockDevice, BootArg, ServiceNeeds
from zeroxl.host.units import parse_size, whole_number

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

_F = "{" + FEED_NS + "}"
_N = "{" + NEEDS_NS + "}"
_INHERITED = ("version", "released", "stability", "arch", "main", "license")
_DIGEST_ALGS = ("sha256new", "sha256", "sha1new", "sha1")
_MAX_MEMORY_MIB = 1 << 20
# A path inside an implementation that 0xl writes into a VM config: plain names only, no `..`.
_PATH_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,127}")
_MAX_PATH_PARTS = 16
# `<group>`s within one another: real feeds use two or three levels. Walked recursively, a thousand
# would take Python past its recursion limit.
MAX_GROUP_DEPTH = 64


class FeedFormatError(VerificationError):
    """The feed is not a well-formed 0install feed, or declares values 0xl refuses."""


@dataclass
class _Scope:
    attrs: dict[str, str] = field(default_factory=dict)
    commands: dict[str, Command] = field(default_factory=dict)
    needs: Element | None = None


def parse_feed(data: bytes, *, url: str, check_uri: bool = True) -> Feed:
    """Parse the signed part of a feed fetched from URL.

    With CHECK_URI the root's `uri` must be present and equal URL, as 0install requires of a remote
    feed: a feed signed for one address cannot be served as another. A local feed may lack it.
    """
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as e:
        raise FeedFormatError(f"feed {url} was refused: it declares a DTD or entities ({type(e).__name__})") from e
    except ET.ParseError as e:
        raise FeedFormatError(f"feed {url} is not well-formed XML: {e}") from e
    if root.tag != _F + "interface":
        raise FeedFormatError(f"{url} is not a 0install feed (its root element is {root.tag})")
    uri = root.get("uri")
    # 0install refuses a remote feed without a uri as it refuses a mismatched one: the signature
    # would otherwise bind the feed to no address, and it could be served as any feed of the site.
    if check_uri and uri is None:
        raise FeedFormatError(
            f"URL mismatch in feed: fetched from {url} but it does not say which URL it is (no uri attribute)",
            hint="a feed served over http(s) must name its own URL in <interface uri=…> before it is signed",
        )
    if check_uri and uri != url:
        raise FeedFormatError(
            f"URL mismatch in feed: fetched from {url} but it says it is {uri}",
            hint="a feed must be served from the address it was signed for",
        )
    name = _text(root, "name")
    summary = _text(root, "summary")
    if not name:
        raise FeedFormatError(f"feed {url} has no <name>")
    impls: list[Implementation] = []
    _walk(root, _Scope(), impls, url, 0)
    if check_uri:
        _refuse_local_downloads(impls, url)
    return Feed(
        url=uri or url,
        name=name,
        summary=summary or "",
        description=_text(root, "description"),
        homepage=_text(root, "homepage"),
        implementations=tuple(impls),
    )


def _refuse_local_downloads(impls: list[Implementation], url: str) -> None:
    """A remote feed names its archives and files by http(s) URL only.

    A path or file:// URL in it would make this host read its own files (a FIFO or a device, even)
    on the word of a publisher; the digest protects what gets stored, not what gets opened.
    """
    for impl in impls:
        for retrieval in impl.retrievals:
            for step in retrieval.steps if isinstance(retrieval, Recipe) else (retrieval,):
                href = step.href if isinstance(step, Archive | FileSource) else None
                if href is not None and not href.startswith(("http://", "https://")):
                    raise FeedFormatError(
                        f"feed {url}, version {impl.version}: it names {href!r} as a download; "
                        "a feed served over http(s) may only name http(s) URLs",
                        hint="ask the publisher to give the archive's full http(s) URL",
                    )


def _text(root: Element, tag: str) -> str | None:
    el = root.find(_F + tag)
    return " ".join(el.text.split()) if el is not None and el.text else None


def _walk(parent: Element, scope: _Scope, out: list[Implementation], url: str, depth: int) -> None:
    for child in parent:
        if child.tag not in (_F + "group", _F + "implementation"):
            continue
        if child.tag == _F + "group" and depth == MAX_GROUP_DEPTH:
            raise FeedFormatError(f"feed {url} has <group>s nested more than {MAX_GROUP_DEPTH} deep")
        inner = _Scope(dict(scope.attrs), dict(scope.commands), scope.needs)
        for key in _INHERITED:
            if key in child.attrib:
                inner.attrs[key] = child.attrib[key]
        for cmd_el in child.findall(_F + "command"):
            cmd = _command(cmd_el, url)
            inner.commands[cmd.name] = cmd
        needs_el = child.find(_N + "needs")
        if needs_el is not None:
            inner.needs = needs_el
        if child.tag == _F + "group":
            _walk(child, inner, out, url, depth + 1)
        else:
            out.append(_implementation(child, inner, url))


def _command(el: Element, url: str) -> Command:
    name = el.get("name")
    if not name:
        raise FeedFormatError(f"feed {url}: a <command> has no name")
    args = tuple((a.text or "") for a in el.findall(_F + "arg"))
    return Command(name=name, path=el.get("path"), args=args)


def _implementation(el: Element, scope: _Scope, url: str) -> Implementation:
    impl_id = el.get("id")
    if not impl_id:
        raise FeedFormatError(f"feed {url}: an <implementation> has no id")
    where = f"feed {url}, implementation {impl_id}"
    attrs = scope.attrs
    version_text = attrs.get("version")
    if not version_text:
        raise FeedFormatError(f"{where}: no version")
    try:
        version = Version.parse(version_text)
        arch = Arch.parse(attrs.get("arch"))
        stability = Stability.parse(attrs.get("stability", "testing"))
    except ValueError as e:
        raise FeedFormatError(f"{where}: {e}") from None
    commands = dict(scope.commands)
    if "main" in attrs and "run" not in commands:
        commands["run"] = Command("run", attrs["main"])
    return Implementation(
        id=impl_id,
        version=version,
        arch=arch,
        stability=stability,
        digests=_digests(el, impl_id),
        retrievals=tuple(_retrievals(el, where)),
        commands=commands,
        released=attrs.get("released"),
        license=attrs.get("license"),
        needs=_needs(scope.needs, where) if scope.needs is not None else ServiceNeeds(),
    )


def _digests(el: Element, impl_id: str) -> dict[str, str]:
    digests: dict[str, str] = {}
    for md in el.findall(_F + "manifest-digest"):
        for alg in _DIGEST_ALGS:
            if md.get(alg):
                digests[alg] = md.attrib[alg]
    # Older feeds put the digest only in the id: "sha256new_XXXX" or "sha1new=XXXX".
    for alg in _DIGEST_ALGS:
        for sep in ("_", "="):
            if impl_id.startswith(alg + sep):
                digests.setdefault(alg, impl_id[len(alg) + 1 :])
    # The sha256new digest becomes a directory name in the store: only the exact form is accepted.
    if "sha256new" in digests and not is_digest(digests["sha256new"]):
        raise FeedFormatError(f"implementation {impl_id}: {digests['sha256new']!r} is not a sha256new digest")
    return digests


def _int(el: Element, attr: str, where: str, *, default: int | None = None) -> int:
    text = el.get(attr)
    if text is None:
        if default is None:
            raise FeedFormatError(f"{where}: <{_local(el.tag)}> has no {attr}")
        return default
    number = whole_number(text)
    if number is None:
        raise FeedFormatError(f"{where}: {attr}={text!r} is not a whole number in ASCII digits")
    return number


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _archive(el: Element, where: str) -> Archive:
    href = el.get("href")
    if not href:
        raise FeedFormatError(f"{where}: <archive> has no href")
    return Archive(
        href=href,
        size=_int(el, "size", where),
        extract=el.get("extract"),
        dest=el.get("dest"),
        type=el.get("type"),
        start_offset=_int(el, "start-offset", where, default=0),
    )


def _file(el: Element, where: str) -> FileSource:
    href, dest = el.get("href"), el.get("dest")
    if not href or not dest:
        raise FeedFormatError(f"{where}: <file> needs href and dest")
    return FileSource(href=href, size=_int(el, "size", where), dest=dest, executable=el.get("executable") == "true")


def _retrievals(el: Element, where: str) -> list[Retrieval]:
    found: list[Retrieval] = []
    for child in el:
        if child.tag == _F + "archive":
            found.append(_archive(child, where))
        elif child.tag == _F + "file":
            found.append(_file(child, where))
        elif child.tag == _F + "recipe":
            steps = _steps(child, where)
            if steps is not None:
                found.append(Recipe(steps))
    return found


def _steps(recipe: Element, where: str) -> tuple[Step, ...] | None:
    """The steps of a recipe, or None when it uses a step 0xl does not implement (0install skips those too)."""
    steps: list[Step] = []
    for child in recipe:
        tag = child.tag
        if tag == _F + "archive":
            steps.append(_archive(child, where))
        elif tag == _F + "file":
            steps.append(_file(child, where))
        elif tag == _F + "rename":
            source, dest = child.get("source"), child.get("dest")
            if not source or not dest:
                raise FeedFormatError(f"{where}: <rename> needs source and dest")
            steps.append(RenameStep(source, dest))
        elif tag == _F + "remove":
            path = child.get("path")
            if not path:
                raise FeedFormatError(f"{where}: <remove> needs path")
            steps.append(RemoveStep(path))
        elif tag.startswith(_F):
            return None
    return tuple(steps)


# -- what a service needs from its host (docs/feed-service-needs.md) ---------------------------------


def _needs(el: Element, where: str) -> ServiceNeeds:
    where = f"{where}: <needs>"
    memory_min = _memory(el, "memory-min", where)
    memory = _memory(el, "memory", where)
    if memory_min is not None and memory is not None and memory < memory_min:
        raise FeedFormatError(f"{where}: memory={memory} is below memory-min={memory_min}")
    xen_type = el.get("xen-type", "pvh")
    if xen_type not in ("pvh", "pv"):
        raise FeedFormatError(f"{where}: xen-type={xen_type!r} is not pvh or pv")
    ramdisk = el.get("ramdisk")
    if ramdisk is not None:
        _relative_path(ramdisk, f"{where}: ramdisk")
    blocks: list[BlockDevice] = []
    networks: list[str] = []
    args: list[BootArg] = []
    for child in el:
        tag = child.tag
        if tag == _N + "block":
            name = _block_name(child, where)
            size_text = child.get("min-size", "1M")
            try:
                size = parse_size(size_text, what="min-size")
            except UsageError:
                raise FeedFormatError(f"{where}: block {name}: invalid min-size {size_text!r}") from None
            blocks.append(BlockDevice(name, size, _vdev(child, name, where)))
        elif tag == _N + "network":
            networks.append(_network_name(child, where))
        elif tag == _N + "arg":
            args.append(_boot_arg(child, where))
        elif tag.startswith(_N):
            raise FeedFormatError(f"{where}: unknown element <{_local(tag)}>")
    for kind, names in (("block", [b.name for b in blocks]), ("network", networks), ("arg", [a.name for a in args])):
        if len(set(names)) != len(names):
            raise FeedFormatError(f"{where}: a {kind} name is declared twice")
    _check_devices(blocks, networks, where)
    return ServiceNeeds(
        memory_min=memory_min,
        memory=memory,
        blocks=tuple(blocks),
        networks=tuple(networks),
        args=tuple(args),
        xen_type=xen_type,
        ramdisk=ramdisk,
    )


def _relative_path(path: str, where: str) -> str:
    """A path inside the implementation: relative, made of plain names (no `.`, `..` or empty parts)."""
    parts = path.split("/")
    if len(parts) > _MAX_PATH_PARTS or not all(_PATH_PART.fullmatch(p) for p in parts):
        raise FeedFormatError(
            f"{where} {path!r} is not a plain relative path inside the implementation",
            hint="use names of letters, digits and ._+- separated by /, with no '..' and no leading /",
        )
    return path


def _memory(el: Element, attr: str, where: str) -> int | None:
    text = el.get(attr)
    if text is None:
        return None
    number = whole_number(text)
    if number is None or not 0 < number <= _MAX_MEMORY_MIB:
        raise FeedFormatError(
            f"{where}: {attr}={text!r} is not a number of MiB between 1 and {_MAX_MEMORY_MIB} in ASCII digits"
        )
    return number


def _name(el: Element, where: str) -> str:
    name = el.get("name", "")
    if not ARG_NAME.fits(name):
        raise FeedFormatError(
            f"{where}: <{_local(el.tag)}> name {name!r} is not a short lower-case identifier ([a-z][a-z0-9_-]*)"
        )
    return name


def _block_name(el: Element, where: str) -> str:
    name = _name(el, where)
    # An unnamed `--disk SIZE` takes this name as it is: one 0xl's disk commands refused could be
    # created but never deleted.
    if not DISK_NAME.fits(name):
        raise FeedFormatError(
            f"{where}: <block> name {name!r} cannot name a disk",
            hint=f"a block device is a disk of the service: its name is {DISK_NAME.text}",
        )
    return name


def _vdev(el: Element, name: str, where: str) -> str | None:
    vdev = el.get("vdev")
    if vdev is not None and not is_vdev(vdev):
        raise FeedFormatError(
            f"{where}: block {name}: vdev={vdev!r} is not {VDEV_RULE}",
            hint="a Mirage unikernel's first block device is at xvdb, the next at xvdc (docs/feed-service-needs.md)",
        )
    return vdev


def _network_name(el: Element, where: str) -> str:
    name = el.get("name", "")
    if not NETWORK_NAME.fits(name):
        raise FeedFormatError(f"{where}: <network> name {name!r} is not {NETWORK_NAME.text}")
    return name


def _check_devices(blocks: list[BlockDevice], networks: list[str], where: str) -> None:
    """Each block at a device of its own, and each network named by a number at that position (devices.py)."""
    try:
        block_vdevs([(b.name, b.vdev) for b in blocks])
        check_network_positions(networks)
    except ValueError as e:
        raise FeedFormatError(f"{where}: {e}") from None


def _boot_arg(el: Element, where: str) -> BootArg:
    name = _name(el, where)
    pattern = el.get("pattern")
    if pattern is None:
        raise FeedFormatError(f"{where}: arg {name} has no pattern")
    try:
        patterns.check(pattern)
    except patterns.PatternError as e:
        raise FeedFormatError(f"{where}: arg {name}: {e.message}", hint=e.hint) from None
    default = el.get("default")
    if default is not None and not patterns.matches(pattern, default):
        raise FeedFormatError(f"{where}: arg {name}: the default {default!r} does not match its own pattern")
    required = el.get("required", "false")
    if required not in ("true", "false"):
        raise FeedFormatError(f"{where}: arg {name}: required={required!r} is not true or false")
    return BootArg(name=name, pattern=pattern, required=required == "true", default=default)
