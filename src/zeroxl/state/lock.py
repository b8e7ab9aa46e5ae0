"""Advisory locks (flock) on files under ZEROXL_HOME/locks: one per service, one host-wide.

A lock dies with its process, so a killed 0xl never leaves a service locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from zeroxl.errors import WAIT, ConflictError
from zeroxl.state.private import create_file, makedirs


@contextlib.contextmanager
def locked(
    path: Path,
    *,
    what: str,
    wait: float = 0.0,
    shared: bool = False,
    busy: Callable[[], str | None] | None = None,
) -> Iterator[None]:
    """Hold an exclusive lock on PATH; wait up to WAIT seconds for it, then raise ConflictError.

    With SHARED, hold a shared lock: any number of shared holders, but none while an exclusive one holds it.
    BUSY, if given, says what holds the lock, for the error message.
    """
    # Private (0600 in a 0700 directory): anyone who can open a lock file can hold flock on it.
    makedirs(str(path.parent))
    fd = create_file(str(path), os.O_RDWR | os.O_CREAT)
    try:
        if not acquire(fd, deadline=time.monotonic() + wait, shared=shared):
            holder = (busy() if busy else None) or "another 0xl command is working on it"
            raise ConflictError(f"{what} is busy: {holder}", hint=["wait for it to finish, or pass ", WAIT, " SECONDS"])
        yield
    finally:
        os.close(fd)


def acquire(fd: int, *, deadline: float, shared: bool = False, on_wait: Callable[[], None] | None = None) -> bool:
    """Take a flock on FD, trying again until DEADLINE (time.monotonic()); False if it is still held.

    ON_WAIT is called each time a try finds the lock held, so that a command can say it waits.
    """
    op = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    while True:
        try:
            fcntl.flock(fd, op)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            if on_wait is not None:
                on_wait()
            time.sleep(0.05)
        else:
            return True
