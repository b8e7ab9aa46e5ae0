"""`0xl logs`: the last lines of a service's log file, and with -f the lines as they come.

Follows rotation: when the file is replaced (a new inode), the rest of the old one was already read,
so reading continues at the start of the new one. A service's output is the service's words, so it is
shown as safe text (cli.safetext.LogText): control characters escaped, CRLF as LF.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from pathlib import Path


def tail(path: Path, lines: int) -> tuple[bytes, int, int]:
    """The last LINES lines of PATH, the offset after them, and the file's inode (0 if missing)."""
    try:
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            last = deque(f, maxlen=lines) if lines > 0 else deque()
            return b"".join(last), f.tell(), st.st_ino
    except FileNotFoundError:
        return b"", 0, 0


def show(path: Path, *, lines: int, follow: bool) -> int:
    from zeroxl.cli.safetext import LogText

    out = sys.stdout
    shown = LogText()
    data, offset, inode = tail(path, lines)
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
                out.write(shown.feed(chunk))
                out.flush()
            time.sleep(0.2)
    except KeyboardInterrupt:
        return 0
