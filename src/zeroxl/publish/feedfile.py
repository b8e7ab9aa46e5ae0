"""A feed file as its publisher keeps it: read, edited in place byte for byte, checked, written.

Edits never re-serialise the document. 0install's own 0publish parses a feed with minidom and writes it
out again, which changes quoting, drops whatever precedes the root element and can move text around;
here an edit is a splice into the original bytes, at the offsets that the XML parser (expat) reports
for the elements involved. Comments, processing instructions, quoting, attribute order and character
references stay as the publisher wrote them, and a diff of the feed shows the edit and nothing else.

Every edited document is parsed again with `feeds.parse.parse_feed`, exactly as a host reads a feed,
before it is written; it is written atomically (`state.atomic`), so a failed edit leaves the old file.
An edit drops the signature block: the bytes it signed have changed, and `0xl feed sign` signs anew.

Two commands editing one feed at once take turns (`editing`): each holds a lock on the file from its
read to its write, so neither writes over the other's change.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import xml.parsers.expat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from zeroxl.errors import ConflictError, NotFoundError, UsageError, ZeroxlError
from zeroxl.feeds.model import FEED_NS, Feed
from zeroxl.feeds.parse import parse_feed
from zeroxl.feeds.signature import split_signed
from zeroxl.state import atomic
from zeroxl.state.lock import acquire

_MARKER_LINE = re.compile(rb"^<!-- Base64 Signature$", re.MULTILINE)
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_INHERITED = ("version", "arch", "stability", "released")
_DEFAULT_INDENT = b"  "
# How long an edit waits for another one of the same feed: packing and digesting a large --dir can
# take minutes, and a publisher who starts two edits wants both done rather than one refused.
EDIT_WAIT = 600.0


@dataclass(frozen=True)
class ImplSite:
    """Where an `<implementation>` start tag sits in the file, and the attributes that apply to it."""

    start: int  # offset of its '<'
    end: int  # offset just past the '>' that ends its start tag
    attrs: dict[str, str]  # written on the element itself
    effective: dict[str, str]  # with what it inherits from enclosing <group>s


@dataclass(frozen=True)
class FeedFile:
    path: Path
    text: bytes  # the document without its signature block
    signed: bool  # whether the file carried a signature block
    feed: Feed
    impls: tuple[ImplSite, ...]
    root_end: int  # offset of the root's end tag
    indent: bytes  # the indentation of the root's children

    @classmethod
    def from_bytes(cls, path: Path, data: bytes) -> FeedFile:
        signed = _MARKER_LINE.search(data) is not None
        try:
            text = split_signed(data)[0] if signed else data
        except ZeroxlError as e:
            raise UsageError(f"{path}: {e.message}") from None
        encoding = _DECLARED_ENCODING.match(text)
        if encoding and encoding.group(1).lower() not in (b"utf-8", b"utf8"):
            raise UsageError(f"{path} is encoded as {encoding.group(1).decode()}; 0xl edits UTF-8 feeds only")
        feed = check(path, text)
        impls, root_end, indent = _scan(text)
        return cls(path, text, signed, feed, impls, root_end, indent)

    @property
    def uri(self) -> str:
        return self.feed.url

    def with_child(self, element: bytes) -> bytes:
        """The document with ELEMENT (lines indented relative to the root's children, each ending in a
        newline) added as the root's last child."""
        indented = b"".join(self.indent + line if line.strip() else line for line in element.splitlines(True))
        line_start = self.text.rfind(b"\n", 0, self.root_end) + 1
        if not self.text[line_start : self.root_end].strip():
            return self.text[:line_start] + indented + self.text[line_start:]
        # The end tag shares its line with other content: the new child goes on lines of its own.
        return self.text[: self.root_end] + b"\n" + indented + self.text[self.root_end :]

    def with_attribute(self, text: bytes, site: ImplSite, name: str, value: str) -> bytes:
        """TEXT (this document, or one edited only after SITE) with attribute NAME of SITE set to VALUE."""
        tag = text[site.start : site.end]
        written = quote(value)
        span = _attribute_value(tag, name.encode())
        if span is not None:
            new_tag = tag[: span[0]] + written + tag[span[1] :]
        else:
            close = len(tag) - (2 if tag.endswith(b"/>") else 1)
            new_tag = tag[:close].rstrip() + b" " + name.encode() + b"=" + written + tag[close:]
        return text[: site.start] + new_tag + text[site.end :]

    def save(self, text: bytes) -> Feed:
        """Check TEXT as a host would read it, then write it in place of the file; returns it parsed."""
        feed = check(self.path, text)
        try:
            mode = self.path.stat().st_mode & 0o777
        except OSError:
            mode = 0o644
        write(self.path, text, mode=mode)
        return feed


@contextlib.contextmanager
def editing(path: Path, *, wait: float | None = None, on_wait: Callable[[], None] | None = None) -> Iterator[FeedFile]:
    """The feed at PATH, read under an exclusive flock held until the block ends (after `save`).

    The lock is on the feed file itself, so a publisher's directory gets no lock files. A save
    replaces the file (a new inode), so a lock won on a file that was replaced meanwhile is let go
    and taken again on the new one. Waits up to WAIT seconds (EDIT_WAIT by default), calling ON_WAIT
    once if it has to.
    """
    deadline = time.monotonic() + (EDIT_WAIT if wait is None else wait)
    said = False

    def waiting() -> None:
        nonlocal said
        if not said and on_wait is not None:
            on_wait()
        said = True

    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise _unreadable(path, e) from None
        try:
            if not acquire(fd, deadline=deadline, on_wait=waiting):
                raise ConflictError(
                    f"{path} is being edited by another command", hint="wait for it to finish, then run this again"
                )
            with open(fd, "rb", closefd=False) as f:
                data = f.read()
            if _same_file(fd, path):
                yield FeedFile.from_bytes(path, data)
                return
        finally:
            os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        now = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


def _unreadable(path: Path, e: OSError) -> ZeroxlError:
    if isinstance(e, FileNotFoundError):
        return NotFoundError(f"no feed file {path}", hint=f"create it with: 0xl feed init {path} --uri URL …")
    return UsageError(f"cannot read {path}: {e.strerror}")


def check(path: Path, text: bytes) -> Feed:
    """TEXT parsed as 0xl reads a feed on a host; a UsageError naming PATH if it would be refused."""
    try:
        return parse_feed(text, url=str(path), check_uri=False)
    except ZeroxlError as e:
        raise UsageError(f"{path} is not a feed 0xl accepts: {e.message}", hint=e.hint) from None


def write(path: Path, text: bytes, *, mode: int = 0o644) -> None:
    try:
        atomic.write_bytes(path, text, mode=mode)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from e


def quote(value: str) -> bytes:
    """VALUE as an XML attribute value in double quotes.

    Line breaks and tabs are refused rather than escaped: XML parsers turn them into spaces, so what
    a host read would not be what the publisher wrote.
    """
    if any(ord(c) < 0x20 for c in value):
        raise UsageError(f"{value!r}: line breaks, tabs and control characters cannot be written in a feed")
    return b'"' + escape(value).replace('"', "&quot;").encode() + b'"'


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- where things are in the file ---------------------------------------------------------------------


def _scan(text: bytes) -> tuple[tuple[ImplSite, ...], int, bytes]:
    """The implementations' start tags, the offset of the root's end tag, and the children's indent."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")
    impls: list[ImplSite] = []
    scopes: list[dict[str, str]] = [{}]
    depth = 0
    root_end = -1
    first_child = -1
    group, impl = FEED_NS + "}group", FEED_NS + "}implementation"

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, first_child
        offset = parser.CurrentByteIndex
        if depth == 1 and first_child < 0:
            first_child = offset
        depth += 1
        scope = dict(scopes[-1])
        if name in (group, impl):
            scope.update({k: v for k, v in attrs.items() if k in _INHERITED})
        scopes.append(scope)
        if name == impl:
            impls.append(ImplSite(offset, _tag_end(text, offset), dict(attrs), scope))

    def end(_name: str) -> None:
        nonlocal depth, root_end
        depth -= 1
        scopes.pop()
        if depth == 0:
            root_end = parser.CurrentByteIndex

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(text, True)  # parse_feed accepted these bytes already
    return tuple(impls), root_end, _indent(text, first_child)


_TAG_NAME = re.compile(rb"<[^\s/>]+")
_ATTRIBUTE = re.compile(rb"""\s+([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')""")


def _attribute_value(tag: bytes, name: bytes) -> tuple[int, int] | None:
    """The span of attribute NAME's quoted value in the start tag TAG, or None if it has none.

    Attributes are read one after the other from the tag name on, so that text inside another
    attribute's value is never taken for an attribute.
    """
    m = _TAG_NAME.match(tag)
    pos = m.end() if m else 0
    while (attr := _ATTRIBUTE.match(tag, pos)) is not None:
        if attr.group(1) == name:
            return attr.span(2)
        pos = attr.end()
    return None


def _tag_end(text: bytes, start: int) -> int:
    """The offset just past the '>' that closes the tag starting at START ('>' may occur in quotes)."""
    quote_char = 0
    for i in range(start, len(text)):
        c = text[i]
        if quote_char:
            if c == quote_char:
                quote_char = 0
        elif c in b"\"'":
            quote_char = c
        elif c == ord(">"):
            return i + 1
    raise ValueError("unterminated tag")  # expat would have refused the document


def _indent(text: bytes, offset: int) -> bytes:
    if offset < 0:
        return _DEFAULT_INDENT
    before = text[text.rfind(b"\n", 0, offset) + 1 : offset]
    return before if before and not before.strip(b" \t") else _DEFAULT_INDENT
