"""The guardian: finishes what a killed 0xl left half done at once, not at the next command.

Before 0xl first stops a running service to replace it, it starts one guardian: a small process in
its own session holding the read end of a pipe whose write end only that 0xl process has. When the
0xl process ends — normally, by Ctrl-C, or killed with SIGKILL — the pipe reads end-of-file. The
guardian then takes the lock of each service whose record still holds a change owned by that process
(state/transition.py); taking the lock finishes or undoes the change (zeroxl.transition.recover), as
the next command on the service would. Without it, a service killed between stopping its old version
and starting the new one would stay down until someone ran 0xl again.

The guardian runs without the test hook (testhooks.ENV) and logs to ZEROXL_HOME/guardian.log.
Run as `python -m zeroxl.guardian HOME FD OWNER_PID`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from zeroxl import proc, testhooks
from zeroxl.host.paths import Home
from zeroxl.state.private import UMASK, create_file

# How long the guardian waits for a service's lock: another command may be updating it meanwhile.
LOCK_WAIT = 600.0

_pipes: dict[Path, tuple[int, int]] = {}  # home -> (write end of the pipe, guardian pid), in this process


def watch(home: Home) -> int:
    """Start this process's guardian for HOME if it has none yet; returns its pid."""
    if home.root in _pipes:
        return _pipes[home.root][1]
    read_end, write_end = os.pipe()  # not inherited by anything else 0xl starts (close_fds, O_CLOEXEC)
    log = home.root / "guardian.log"
    env = {k: v for k, v in os.environ.items() if k != testhooks.ENV}
    try:
        with open(create_file(str(log), os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab") as out:  # noqa: PTH123
            child = proc.spawn(
                [sys.executable, "-m", "zeroxl.guardian", str(home.root), str(read_end), str(os.getpid())],
                cwd=home.root,
                stdout=out.fileno(),
                stderr=out.fileno(),
                env=env,
                pass_fds=(read_end,),
            )
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    _pipes[home.root] = (write_end, child.pid)
    return child.pid


def release(home: Home) -> None:
    """Tell HOME's guardian that this process is done (it checks, finds nothing to do, and exits)."""
    entry = _pipes.pop(home.root, None)
    if entry is not None:
        os.close(entry[0])


def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sys.stderr.write(f"[{stamp}] guardian {os.getpid()}: {message}\n")
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    from zeroxl.errors import ZeroxlError
    from zeroxl.services import App, Ui
    from zeroxl.state.service import Records

    if len(argv) != 4:
        sys.stderr.write("usage: python -m zeroxl.guardian HOME FD OWNER_PID\n")
        return 2
    os.umask(UMASK)  # it writes only in ZEROXL_HOME, which is its owner's alone
    home, fd, owner = Home(Path(argv[1])), int(argv[2]), int(argv[3])
    with contextlib.suppress(OSError):
        while os.read(fd, 4096):
            pass
    records = Records(home.services)
    orphaned = []
    for name in records.names():
        with contextlib.suppress(ZeroxlError):
            t = records.load(name).transition
            if t is not None and t.owner.get("pid") == owner:
                orphaned.append(name)
    if not orphaned:
        return 0
    app = App(home, Ui(info=_log))
    status = 0
    for name in orphaned:
        _log(f"0xl (pid {owner}) ended during a change of {name}; finishing it")
        try:
            with app.lock(name, wait=LOCK_WAIT):  # taking the lock finishes the change
                pass
        except ZeroxlError as e:
            _log(f"{name}: {e.message}")
            status = 1
    app.close()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
