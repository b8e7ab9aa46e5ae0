"""Numbers as users, feeds and templates write them: whole numbers in ASCII digits, and sizes (256M, 1G,
4096 bytes; binary multiples, like xl and LVM), and durations (90s, 5m, 12h, 30d, 2w).

Only ASCII digits are numbers here. Python's `str.isdigit` and `int()` also take other scripts' digits
and superscripts: `int("19٦")` is 196 and `"²".isdigit()` is true while `int("²")` fails, so a feed
could show a person one number and give 0xl another, or reach it as an unexpected ValueError.
"""

from __future__ import annotations

import re

from zeroxl.errors import UsageError, ZeroxlError

_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"([0-9]{1,15})([KMGT]?)(?:i?B)?", re.IGNORECASE)
# Below 2**63, and far below the 4300 digits past which int() raises.
MAX_DIGITS = 18


def whole_number(text: str) -> int | None:
    """TEXT as a whole number if it is 1 to 18 ASCII digits (leading zeros allowed), else None."""
    if 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit():
        return int(text)
    return None


def parse_size(text: str, *, what: str = "size", error: type[ZeroxlError] = UsageError) -> int:
    """Bytes in TEXT ('256M', '1G', '1048576'); zero, negative and unknown suffixes are refused (ERROR: a
    wrong option by default; config.toml's caller says ConfigError)."""
    # ASCII only: IGNORECASE lets `K` match the Kelvin sign (no suffix 0xl knows) and `i` the dotless i.
    m = _SIZE.fullmatch(text.strip()) if text.isascii() else None
    if not m:
        raise error(f"invalid {what} {text!r}", hint="write a positive whole number with K, M, G or T, e.g. 256M")
    value = int(m.group(1)) * _SUFFIX[m.group(2).upper()]
    if value <= 0:
        raise error(f"invalid {what} {text!r}: it must be greater than zero")
    return value


def format_size(n: int) -> str:
    for suffix in ("T", "G", "M", "K"):
        unit = _SUFFIX[suffix]
        if n >= unit and n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


def human_size(n: float) -> str:
    for suffix in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {suffix}" if suffix == "B" else f"{n:.1f} {suffix}"
        n /= 1024
    return f"{n:.1f} TiB"


_DURATION = re.compile(r"([0-9]{1,9})([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str, *, what: str = "duration", error: type[ZeroxlError] = UsageError) -> int:
    """Seconds in TEXT ('90s', '5m', '12h', '30d', '2w'); a unit is required, zero is refused (ERROR, as
    for parse_size)."""
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise error(f"invalid {what} {text!r}", hint="write a whole number with s, m, h, d or w, e.g. 5m, 30d or 2w")
    seconds = int(m.group(1)) * _SECONDS[m.group(2)]
    if seconds <= 0:
        raise error(f"invalid {what} {text!r}: it must be greater than zero")
    return seconds


def format_duration(seconds: float) -> str:
    """SECONDS the way people say an age: '40 s', '5 min', '3 h', '12 days' (rounded down)."""
    s = int(abs(seconds))
    if s < 120:
        return f"{s} s"
    if s < 2 * 3600:
        return f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s // 3600} h"
    return f"{s // 86400} days"


def compact_duration(seconds: float | None) -> str:
    """SECONDS in the width of a table column: 59s, 4m05s, 3h07m, 2d04h; "-" for no value."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"
