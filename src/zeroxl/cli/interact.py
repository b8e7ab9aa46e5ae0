"""The terminal side of the few interactions the core asks for: confirming a key, showing progress."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zeroxl.feeds.load import UnknownKey


def on_terminal() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirm_key(key: UnknownKey) -> bool:
    """Show an unknown key and ask whether to trust it for the feed's domain (default: no)."""
    err = sys.stderr
    err.write(f"\nThe feed {key.feed_url} is signed by a key that is not trusted for {key.domain}:\n")
    err.write(f"  fingerprint: {key.fingerprint}\n")
    for uid in key.uids or ("(no user id)",):
        err.write(f"  user id:     {uid}\n")
    for vote, message in key.hints:
        err.write(f"  key info ({vote}): {message}\n")
    err.write(f"Trust this key for {key.domain}? [y/N] ")
    err.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


@contextlib.contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(
        TextColumn("downloading {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total or None)
        yield lambda n: bar.advance(task, n)


def info(message: str) -> None:
    sys.stderr.write(message + "\n")
