"""A test hook: stop 0xl at a named point so that a test can kill it there with a real SIGKILL.

With ZEROXL_TEST_STOP_AT=POINT in its environment, 0xl stops itself (SIGSTOP) when it reaches POINT,
after writing `0xl: test hook: stopped at POINT` to stderr. The test sees the process stopped (state
`T` in /proc/PID/stat) and kills it. Nothing else changes: no test-only code path runs. The points are
the values of Point, each `pause()`d once; mypy checks that the code and the tests name only those.

One more hook lives where it is used, to keep `0xl list`'s imports light: ZEROXL_TEST_BOOT_ID_FILE names
a file host.procinfo reads in place of the kernel's boot id, so that a test that killed every process of
its services can simulate a host restart.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Literal

ENV = "ZEROXL_TEST_STOP_AT"

Point = Literal[
    # app.add: the implementation is in the store; the disks are made; the trust asked for is recorded.
    "add-fetched",
    "add-disks-made",
    "add-trusted",
    # app.lifecycle: run started the service, before it recorded that; destroy buried the directory.
    "run-started",
    "destroy-buried",
    # app.move: the volumes are made on the new host; the record is saved there (the old host's is not gone).
    "move-disks-made",
    "move-recorded",
    # app.update: every feed fetched and verified, and what it needs downloaded.
    "fetched",
    # app.rollback: the version to go back to is in the store again.
    "rollback-fetched",
    # app.journal, replacing a version: the old one stopped, the new one started, the new one recorded as
    # current, its history written; on the way back: the new one stopped, the old one started again.
    "stopped",
    "started",
    "done",
    "recorded",
    "rolling-back",
    "rolled-back",
]


def pause(point: Point) -> None:
    if os.environ.get(ENV) == point:
        sys.stderr.write(f"0xl: test hook: stopped at {point}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSTOP)
