"""The terminal side of the few interactions the core asks for: confirming a key, showing progress."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zeroxl.feeds.load import UnknownKey


def on_terminal() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirm_key(key: UnknownKey) -> bool:
    """Show an unknown key and ask whether to trust it for the feed's domain (default: no)."""
    from zeroxl.feeds.trust import spaced
    from zeroxl.safetext import line

    # User ids and hints are the key owner's and the key-info server's words: one escaped line each, so
    # that none can redraw the fingerprint above it or add a line of its own.
    err = sys.stderr
    err.write(f"\nThe feed {line(key.feed_url)} is signed by a key that is not trusted for {line(key.domain)}:\n")
    err.write(f"  fingerprint: {spaced(key.fingerprint)}\n")  # grouped, as the hint and gpg show it
    for uid in key.uids or ("(no user id)",):
        err.write(f"  user id:     {line(uid)}\n")
    for vote, message in key.hints:
        err.write(f"  key info ({line(vote)}): {line(message)}\n")
    return ask(f"Trust this key for {line(key.domain)}?")


def ask(question: str) -> bool:
    """Ask QUESTION (0xl's own words, already safe) on the terminal; yes only if the answer is y or yes."""
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


# One bar display for the whole command, a line per download in it: `update` downloads several
# implementations at once, from threads, and rich allows only one live display at a time.
class _Shared:
    lock = threading.Lock()
    bars: Any = None  # rich.progress.Progress, while a download runs
    downloads = 0


@contextlib.contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar for one download, LABEL (a service and its version): size, rate and time left."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from zeroxl.safetext import line, raw

    with _Shared.lock:
        if _Shared.bars is None:
            _Shared.bars = Progress(
                TextColumn("downloading {task.description}", markup=False),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=raw(sys.stderr)),
                transient=True,
            )
            _Shared.bars.start()
        _Shared.downloads += 1
        bars = _Shared.bars
        task = bars.add_task(line(label), total=total or None)
    try:
        yield lambda n: bars.advance(task, n)
    finally:
        with _Shared.lock:
            bars.remove_task(task)
            _Shared.downloads -= 1
            if _Shared.downloads == 0:
                bars.stop()
                _Shared.bars = None


def info(message: str) -> None:
    sys.stderr.write(message + "\n")
