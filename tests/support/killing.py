"""Running `0xl` so that a test can stop it at a named point and kill it there with a real SIGKILL.

0xl stops itself (SIGSTOP) at the point named in ZEROXL_TEST_STOP_AT (zeroxl/testhooks.py); the test
waits until the process is stopped, then kills it, or lets it go on with SIGCONT.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.support.zx import wait_for
from zeroxl.testhooks import Point


class Stoppable:
    def __init__(self, home: Path, point: Point | None, *args: str, prefix: Sequence[str] = ()) -> None:
        """`0xl ARGS`, run through PREFIX if given (a command that execs its arguments, such as nsenter)."""
        env = dict(os.environ, ZEROXL_HOME=str(home))
        if point is not None:
            env["ZEROXL_TEST_STOP_AT"] = point
        self.out = home.parent / f"0xl-{os.urandom(4).hex()}.out"
        with self.out.open("wb") as out:
            self.proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", "zeroxl", *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    def state(self) -> str | None:
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return None
        return stat[stat.rindex(")") + 2]

    def wait_stopped(self, timeout: float = 30) -> None:
        assert wait_for(lambda: self.state() == "T" or self.proc.poll() is not None, timeout=timeout), self.output()
        assert self.proc.poll() is None, f"0xl ended before its stop point:\n{self.output()}"

    def has_open(self, name: str) -> bool:
        """True once the process has a file named NAME open (a lock file it is waiting for, say)."""
        try:
            fds = list(Path(f"/proc/{self.proc.pid}/fd").iterdir())
        except OSError:
            return False
        return any(os.readlink(fd).endswith("/" + name) for fd in fds if fd.is_symlink())

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def resume(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGCONT)
        return self.proc.wait(timeout=timeout)

    def output(self) -> str:
        return self.out.read_text() if self.out.exists() else ""
