"""`0xl logs`: the last lines of a service's log file, and with -f the lines as they come.

Follows rotation: when the file is replaced (a new inode), the rest of the old one was already read,
so reading continues at the start of the new one. A service's output is the service's words, so it is
shown as safe text (zeroxl.safetext.LogText): control characters escaped, CRLF as LF.

The unix backend's supervisor writes before each line the time it received it (host.logstamp):
`--timestamps` shows it, `--since` keeps the lines received from a time on; a line without one (a Xen
console, a log of an earlier 0xl) has no time to show or to compare.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


class Lines:
    """Whole lines of a log, chunk by chunk: each with its stamp or without it, and those received
    before SINCE left out."""

    def __init__(self, *, timestamps: bool, since: float | None) -> None:
        self.timestamps = timestamps
        self.since = since
        self.partial = b""

    def feed(self, data: bytes, *, final: bool) -> bytes:
        from zeroxl.host import logstamp

        data = self.partial + data
        cut = len(data) if final else data.rfind(b"\n") + 1
        self.partial = data[cut:]
        out = bytearray()
        start = 0
        while start < cut:
            end = data.find(b"\n", start, cut)
            end = cut if end < 0 else end + 1
            line = data[start:end]
            start = end
            when, rest = logstamp.parse(line)
            if self.since is not None and (when is None or when < self.since):
                continue
            out += line if self.timestamps else rest
        return bytes(out)


def selected(
    path: Path, *, lines: int | None, follow: bool, timestamps: bool, since: float | None
) -> tuple[bytes, int, int, Lines]:
    """The lines to show first: the last LINES (100 by default), or with SINCE every line received since
    then (in the rotated log too), the last LINES of them; the offset and inode to follow from, and the
    filter that goes on."""
    from zeroxl.app.views import log_tail

    kept = Lines(timestamps=timestamps, since=since)
    if since is None:
        data, offset, inode = log_tail(path, 100 if lines is None else lines)
        return kept.feed(data, final=not follow), offset, inode, kept
    old, _, _ = log_tail(path.with_name(path.name + ".1"), 1 << 62)
    whole, offset, inode = log_tail(path, 1 << 62)
    data = kept.feed(old.rstrip(b"\n") + b"\n" if old else b"", final=True) + kept.feed(whole, final=not follow)
    if lines is not None:
        data = b"".join(data.splitlines(keepends=True)[-lines:]) if lines else b""
    return data, offset, inode, kept


def as_json(path: Path, *, lines: int | None, since: float | None) -> dict[str, object]:
    """`0xl logs --json`: the lines without their stamps, and when each was received (null for a line
    without a stamp: a Xen console, a log of an earlier 0xl)."""
    from zeroxl.host import logstamp

    data, _, _, _ = selected(path, lines=lines, follow=False, timestamps=True, since=since)
    parsed = [logstamp.parse(line) for line in data.splitlines()]
    return {
        "lines": [text.decode("utf-8", "replace") for _, text in parsed],
        "received": [when for when, _ in parsed],
    }


def show(path: Path, *, lines: int | None, follow: bool, timestamps: bool = False, since: float | None = None) -> int:
    from zeroxl.safetext import LogText

    out = sys.stdout
    shown = LogText()
    data, offset, inode, kept = selected(path, lines=lines, follow=follow, timestamps=timestamps, since=since)
    out.write(shown.feed(data, final=not follow))
    out.flush()
    if not follow:
        return 0
    try:
        while True:
            try:
                st = path.stat()
            except FileNotFoundError:
                time.sleep(0.2)
                continue
            if st.st_ino != inode or st.st_size < offset:
                inode, offset = st.st_ino, 0
            if st.st_size > offset:
                with path.open("rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                    offset = f.tell()
                out.write(shown.feed(kept.feed(chunk, final=False)))
                out.flush()
            time.sleep(0.2)
    except KeyboardInterrupt:
        return 0
