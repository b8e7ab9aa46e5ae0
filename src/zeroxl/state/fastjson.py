"""JSON read and written through the json package's C accelerator (`_json`) without importing the package.

`import json` imports `re` (json.decoder and json.encoder compile regular expressions when imported), and
with it enum, functools and collections: a third of what `0xl list` costs on a small host, where reading
the records and printing them as JSON is all the rest of its work. The accelerator is what json itself
parses and writes compact JSON with, so the results are the same: `loads` is json.loads, `dumps` is
json.dumps(sort_keys=True, separators=(",", ":")) (tests/unit/test_fastjson.py checks both).

Anything the fast path does not take as it is — text that is not JSON, not UTF-8, or has a byte-order
mark, an object json.dumps would refuse — goes to the json package itself, which then says exactly what
it would have said (the message of a damaged record quotes it), or reads what is unusual but valid.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from typing import Any

try:
    import _json
except ImportError:  # not CPython: the json package alone
    _json = None  # type: ignore[assignment]

_WHITESPACE = " \t\n\r"
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _Decoding:
    """What the C scanner reads its settings from: json.JSONDecoder's defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


def _no_default(o: object) -> object:
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


# typeshed types the context as a scanner; the C code reads only the attributes above from it.
_scan = _json.make_scanner(_Decoding()) if _json is not None else None  # type: ignore[arg-type]


def loads(data: bytes) -> Any:
    """The value of the JSON document DATA (json.loads)."""
    if _scan is not None:
        try:
            text = data.decode("utf-8")
            value, end = _scan(text, len(text) - len(text.lstrip(_WHITESPACE)))
            if not text[end:].strip(_WHITESPACE):
                return value
        except Exception:  # noqa: S110 - json.loads below says what is wrong, as it always did
            pass
    import json

    return json.loads(data)


def load(path: str) -> Any:
    """The value of the JSON file at PATH (OSError if it cannot be read, as open() raises it).

    Read with os.read rather than open(): `0xl list` reads one or two small files per service, and a
    buffered file object costs more than reading them."""
    import os

    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return loads(b"".join(chunks))


def dumps(value: Any) -> str:
    """VALUE as compact JSON with sorted keys (json.dumps(sort_keys=True, separators=(",", ":")))."""
    if _json is not None:
        # The arguments json.JSONEncoder gives it: markers (to refuse circular values), default, the string
        # encoder for ensure_ascii, indent, key separator, item separator, sort_keys, skipkeys, allow_nan.
        encode = _json.make_encoder({}, _no_default, _json.encode_basestring_ascii, None, ":", ",", True, False, True)
        try:
            return "".join(encode(value, 0))
        except Exception:  # noqa: S110 - json.dumps below raises what it always raised
            pass
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"))
