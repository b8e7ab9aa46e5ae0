"""Number types for the argument parser: ASCII digits only, as everywhere 0xl reads a number.

argparse's `type=int` and `type=float` take other scripts' digits (`--memory ٢٥٦` is 256), and float
also `nan`, `inf` and `1e3`; zeroxl.host.units says why 0xl reads only ASCII digits.
"""

from __future__ import annotations

import argparse
import re

from zeroxl.host.units import whole_number

# Seconds as people write them: 30, 2.5, .5; at most nine digits on either side of the point. A sign is
# read, so that the command's own range check can say what it accepts (--settle -1: "give 0 to 3600").
_SECONDS = re.compile(r"-?(?=\.?[0-9])[0-9]{0,9}(?:\.[0-9]{0,9})?")


def count(text: str) -> int:
    """A whole number (MiB, lines)."""
    number = whole_number(text)
    if number is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number in ASCII digits")
    return number


def seconds(text: str) -> float:
    """A duration in seconds, with an optional decimal fraction."""
    if not text.isascii() or not _SECONDS.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds in ASCII digits, e.g. 2.5")
    return float(text)


_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)


def since(text: str) -> float:
    """A time (seconds since the epoch): how long ago ('10m', '2h', '3d'), or a date and time in ISO 8601
    ('2026-12-06', '2026-12-06T14:00', with Z or an offset for another zone than this host's)."""
    import time
    from datetime import datetime

    from zeroxl.errors import UsageError
    from zeroxl.host.units import parse_duration

    if text.isascii() and _DATE_TIME.fullmatch(text):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"{text!r} is not a date and time: {e}") from None
    try:
        return time.time() - parse_duration(text)
    except UsageError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither how long ago (10m, 2h, 3d) nor a date and time (2026-12-06T14:00)"
        ) from None
