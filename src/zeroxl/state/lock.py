"""Advisory locks (flock) on files under ZEROXL_HOME/locks: one per service, one host-wide.

A lock dies with its process, so a killed 0xl never leaves a service locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from zeroxl.errors import ConflictError


@contextlib.contextmanager
def locked(path: Path, *, what: str, wait: float = 0.0) -> Iterator[None]:
    """Hold an exclusive lock on PATH; wait up to WAIT seconds for it, then raise ConflictError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConflictError(
                        f"{what} is busy: another 0xl command is working on it",
                        hint="wait for it to finish, or pass --wait SECONDS",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)
