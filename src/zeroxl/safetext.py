"""Text from outside 0xl made safe for a terminal: the one place that decides what a terminal may see.

Publishers' keys (user ids), feeds (names, ids, argument names), key-information servers, HTTP servers
and services (their output, through `0xl logs`) all put text in front of the operator. A terminal obeys
the control characters in it: an escape sequence can erase lines and draw a different fingerprint in the
trust prompt, a carriage return can overwrite what was printed, a bidi override can show text reversed.
So every character Python does not call printable (`str.isprintable`: Unicode categories Cc, Cf, Cs,
Co, Cn, Zl, Zp, and every space but ' ') is shown escaped instead: `\\t`, `\\n`, `\\r` and `\\xHH`,
`\\uHHHH`, `\\UHHHHHHHH` by code point. That covers C0 controls and ESC, DEL, C1 controls (0x9b is a
CSI on some terminals), bidi embeddings, overrides and isolates, zero-width spaces, line and paragraph
separators, Unicode tags and lone surrogates. Two format characters stay as they are, because scripts
and emoji need them and no terminal acts on them: ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER.

`line` is for a value inside a line (a user id, an error message): newlines and tabs are escaped too,
so that a value cannot start a line of its own that looks like 0xl's. `text` keeps newlines and tabs,
for output that has lines of its own. `guard` puts `text` between 0xl and its stdout and stderr for the
whole command (`cli.main`), so that nothing printed can reach the terminal raw, whoever prints it;
`raw` gives rich, which writes its own escape sequences, the stream behind the guard. A literal
backslash is not escaped: the escaped form is for reading, not for parsing back.

Kept small and free of imports: `0xl list` loads it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from typing import TextIO

_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_HARMLESS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: needed by some scripts and emoji, inert on a terminal


def _escaped(c: str) -> str:
    short = _SHORT.get(c)
    if short is not None:
        return short
    o = ord(c)
    if o < 0x100:
        return f"\\x{o:02x}"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def line(value: object) -> str:
    """VALUE as text for one line: every character a terminal could act on shown escaped."""
    s = value if isinstance(value, str) else str(value)
    if s.isprintable():  # the common case, decided in C
        return s
    return "".join(c if c.isprintable() or c in _HARMLESS else _escaped(c) for c in s)


def text(value: str) -> str:
    """VALUE as lines of text: like `line`, but newlines and tabs stay."""
    if value.isprintable():
        return value
    return "\n".join("\t".join(line(part) for part in row.split("\t")) for row in value.split("\n"))


class _Guarded:
    """A text stream that writes everything through `text`; anything else is the stream's own."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, s: str) -> int:
        self.stream.write(text(s))
        return len(s)

    def writelines(self, lines: list[str]) -> None:
        for s in lines:
            self.write(s)

    def __getattr__(self, name: str) -> object:
        if name == "buffer":  # bytes written there would pass the guard
            raise AttributeError("0xl's guarded output has no byte buffer: write text")
        return getattr(self.stream, name)


def guard() -> tuple[TextIO, TextIO]:
    """Put `text` in front of sys.stdout and sys.stderr; returns them as they were, for `unguard`."""
    saved = (sys.stdout, sys.stderr)
    sys.stdout = _Guarded(sys.stdout)
    sys.stderr = _Guarded(sys.stderr)
    return saved


def unguard(saved: tuple[TextIO, TextIO]) -> None:
    sys.stdout, sys.stderr = saved


def raw(stream: TextIO) -> TextIO:
    """The stream behind the guard, for rich, which writes its own escape sequences (and is given only
    text that went through `line` first)."""
    return stream.stream if isinstance(stream, _Guarded) else stream


class LogText:
    """A service's output as safe text, piece by piece (`0xl logs -f`): UTF-8 decoded as it comes (a
    byte that is not UTF-8 shown as `\\xHH`), CRLF line ends (serial consoles) read as LF, and
    everything else through `text`."""

    def __init__(self) -> None:
        import codecs

        self._decoder = codecs.getincrementaldecoder("utf-8")("backslashreplace")
        self._cr = False  # the last piece ended in '\r', which may be half of a CRLF

    def feed(self, data: bytes, *, final: bool = False) -> str:
        s = self._decoder.decode(data, final)
        if self._cr:
            s = "\r" + s
        self._cr = not final and s.endswith("\r")
        if self._cr:
            s = s[:-1]
        return text(s.replace("\r\n", "\n"))
