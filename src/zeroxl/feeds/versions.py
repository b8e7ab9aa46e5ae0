"""0install's version numbers and version ranges (not PEP 440).

A version is dotted integers with optional modifiers: `1.0`, `1.0-pre3`, `2.1-rc1`, `2.1-post1`,
`1.0-2`. A range expression is alternatives separated by `|`, each `V` (exactly), `!V` (anything but),
`A..`, `..!B` or `A..!B` (from A, before B).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import total_ordering

_MODIFIERS = {"pre": -2, "rc": -1, "": 0, "post": 1}
_SPLIT = re.compile(r"-([a-z]*)")
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+)*")

Key = tuple[int | tuple[int, ...], ...]


def _parse_key(text: str) -> Key:
    if not text:
        raise ValueError("empty version")
    parts: list[str] = _SPLIT.split(text)
    # An odd count means the text ended with a modifier that has no number after it.
    if parts[-1] == "":
        parts.pop()
    else:
        parts.append("")
    if not parts[0]:
        raise ValueError(f"invalid version {text!r}: it must start with a number")
    key: list[int | tuple[int, ...]] = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            if part and not _DOTTED.fullmatch(part):
                raise ValueError(f"invalid version {text!r}")
            key.append(tuple(int(x) for x in part.split(".")) if part else ())
        else:
            if part not in _MODIFIERS:
                raise ValueError(f"invalid version {text!r}: unknown modifier {part!r}")
            key.append(_MODIFIERS[part])
    return tuple(key)


@total_ordering
@dataclass(frozen=True)
class Version:
    text: str
    key: Key

    @classmethod
    def parse(cls, text: str) -> Version:
        return cls(text, _parse_key(text))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return _cmp(self.key, other.key) < 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.text


def _cmp(a: Key, b: Key) -> int:
    # Ints (modifiers) and tuples (dotted parts) alternate at the same positions in every key, so an
    # element-wise comparison is well defined; a longer key with an equal prefix is the greater one.
    for x, y in zip(a, b, strict=False):
        if x != y:
            return -1 if x < y else 1  # type: ignore[operator]
    return (len(a) > len(b)) - (len(a) < len(b))


@dataclass(frozen=True)
class VersionRange:
    """A parsed range expression; `contains` tells whether a version is in it."""

    text: str
    tests: tuple[Callable[[Version], bool], ...]

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        alternatives = [part.strip() for part in text.split("|")]
        if not text.strip() or any(not part for part in alternatives):
            raise ValueError(f"invalid version range {text!r}")
        return cls(text, tuple(_parse_alternative(part) for part in alternatives))

    def contains(self, version: Version) -> bool:
        return any(test(version) for test in self.tests)

    def __str__(self) -> str:
        return self.text


def _parse_alternative(text: str) -> Callable[[Version], bool]:
    if ".." in text:
        low_text, _, high_text = text.partition("..")
        if high_text and not high_text.startswith("!"):
            raise ValueError(f"invalid version range {text!r}: the upper bound is written ..!VERSION")
        low = _bound(low_text, text)
        high = _bound(high_text[1:], text)
        return lambda v: (low is None or v >= low) and (high is None or v < high)
    if text.startswith("!"):
        excluded = _bound(text[1:], text)
        return lambda v: v != excluded
    exact = _bound(text, text)
    return lambda v: v == exact


def _bound(text: str, whole: str) -> Version | None:
    if not text:
        if whole.startswith("!") or ".." not in whole:
            raise ValueError(f"invalid version range {whole!r}")
        return None
    try:
        return Version.parse(text)
    except ValueError as e:
        raise ValueError(f"invalid version range {whole!r}: {e}") from None
