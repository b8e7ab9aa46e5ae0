"""Running 0xl on a terminal: a pseudo-terminal, as an operator's, for prompts and what they show."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path


def run_on_terminal(args: list[str], home: Path, answer: bytes, timeout: float = 60) -> tuple[int, str]:
    """Run `0xl ARGS` with stdin and stderr on a pseudo-terminal; type ANSWER when it asks."""
    master, slave = pty.openpty()
    env = dict(os.environ, ZEROXL_HOME=str(home), TERM="dumb")
    p = subprocess.Popen(
        [sys.executable, "-m", "zeroxl", *args], stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=env
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    answered = False
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(master, answer)
            answered = True
        if p.poll() is not None:
            break
    rc = p.wait(timeout=timeout)
    os.close(master)
    return rc, seen.decode(errors="replace")
