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
