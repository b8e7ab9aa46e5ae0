"""A bound on how long a call may run, for tests of input that used to make 0xl run forever (a pattern
that backtracks exponentially). Not a timing assertion: the bound is far above the normal time.

SIGALRM raises in the main thread even inside a regular-expression match (CPython's `re` checks for
signals). The exception is a BaseException, so that no `except Exception` in 0xl can swallow it.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class Overran(BaseException):
    pass


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def fire(_signum: int, _frame: object) -> None:
        raise Overran(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
