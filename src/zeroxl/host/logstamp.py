"""The time each line of a unix service's log was received, written before the line by its supervisor.

A line of the log is `2026-12-06T14:10:18.123456Z ` (UTC, always 28 bytes) and then what the program
wrote, as docker's `--timestamps` and journald keep the time a line arrived, not one the program may or
may not print. Readers (`0xl logs`, the health check's log pattern, the status page) take the stamp
off unless asked to show it; a line without one (a log of an earlier 0xl, a Xen console) is shown as it
is. Pure functions of bytes: no IO.
"""

from __future__ import annotations

import calendar
import time

WIDTH = 28  # "YYYY-MM-DDTHH:MM:SS.ffffffZ "
_DIGITS = frozenset(b"0123456789")
_SHAPE = b"dddd-dd-ddTdd:dd:dd.ddddddZ "


def stamp(when: float) -> bytes:
    """WHEN (seconds since the epoch) as the stamp put before a line."""
    seconds = int(when)
    micro = round((when - seconds) * 1_000_000)
    if micro == 1_000_000:
        seconds, micro = seconds + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)).encode() + b".%06dZ " % micro


def parse(line: bytes) -> tuple[float | None, bytes]:
    """The time LINE was received (None if it has no stamp) and the line without its stamp."""
    head = line[:WIDTH]
    if len(head) != WIDTH or not _fits(head):
        return None, line
    try:
        when = calendar.timegm(time.strptime(head[:19].decode(), "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None, line
    return when + int(head[20:26]) / 1_000_000, line[WIDTH:]


def _fits(head: bytes) -> bool:
    return all((c in _DIGITS) if s == ord("d") else (c == s) for c, s in zip(head, _SHAPE, strict=True))


class Stamper:
    """Puts the stamp of the time it arrived before each line of a program's output, given in chunks
    that may end in the middle of a line."""

    def __init__(self) -> None:
        self.at_line_start = True

    def feed(self, data: bytes, when: float) -> bytes:
        out = bytearray()
        mark = stamp(when)
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end + 1
            if self.at_line_start:
                out += mark
            out += data[start:end]
            self.at_line_start = data[end - 1 : end] == b"\n"
            start = end
        return bytes(out)

    def line(self, text: bytes, when: float) -> bytes:
        """A whole line of the supervisor's own (TEXT ends with a newline), on a line of its own."""
        head = b"" if self.at_line_start else b"\n"
        self.at_line_start = True
        return head + stamp(when) + text


def strip(data: bytes) -> bytes:
    """DATA (whole lines of a log) without the stamps before its lines."""
    lines = data.split(b"\n")
    return b"\n".join(parse(line)[1] for line in lines)
