"""`0xl logs`: the last lines of a service's log file, and with -f the lines as they come.

Follows rotation: when the file is replaced (a new inode), the rest of the old one was already read,
so reading continues at the start of the new one. A service's output is the service's words, so it is
shown as safe text (zeroxl.safetext.LogText): control characters escaped, CRLF as LF.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def show(path: Path, *, lines: int, follow: bool) -> int:
    from zeroxl.app.views import log_tail
    from zeroxl.safetext import LogText

    out = sys.stdout
    shown = LogText()
    data, offset, inode = log_tail(path, lines)
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
