"""A test hook: stop 0xl at a named point so that a test can kill it there with a real SIGKILL.

With ZEROXL_TEST_STOP_AT=POINT in its environment, 0xl stops itself (SIGSTOP) when it reaches POINT,
after writing `0xl: test hook: stopped at POINT` to stderr. The test sees the process stopped (state
`T` in /proc/PID/stat) and kills it. Nothing else changes: no test-only code path runs. The points
are named where `pause()` is called (app.journal, app.update, app.rollback, app.add, app.lifecycle).
"""

from __future__ import annotations

import os
import signal
import sys

ENV = "ZEROXL_TEST_STOP_AT"


def pause(point: str) -> None:
    if os.environ.get(ENV) == point:
        sys.stderr.write(f"0xl: test hook: stopped at {point}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSTOP)
