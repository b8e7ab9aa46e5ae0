"""The guardian: finishes what a killed 0xl left half done at once, not at the next command.

Before 0xl stops a running service to replace it, it starts a guardian (app.journal): a small process in
its own session holding the read end of a pipe whose write end only that 0xl process has. When the 0xl
process ends — normally, by Ctrl-C, or killed with SIGKILL — or lets go of the pipe once the replacement
is over, the pipe reads end-of-file. The guardian then takes the lock of each service whose record still
holds a change owned by that process (state/transition.py) and finishes or undoes the change
(app.journal.recover), as the next command on the service would. Without it, a service killed between
stopping its old version and starting the new one would stay down until someone ran 0xl again.

The guardian runs without the test hook (testhooks.ENV) and logs to ZEROXL_HOME/guardian.log.
Run as `python -m zeroxl.app.guardian HOME FD OWNER_PID [HOST]`: HOST, for a change on a host other than
local (docs/fleet.md), whose records are under HOME/hosts/HOST and which is reached at its libvirt URI.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from zeroxl.app import journal, session
from zeroxl.app.context import Ui
from zeroxl.app.hosts import context_of
from zeroxl.errors import ZeroxlError
from zeroxl.host.paths import Home
from zeroxl.state.hosts import LOCAL, Host, Hosts
from zeroxl.state.private import UMASK

# How long the guardian waits for a service's lock: another command may be updating it meanwhile.
LOCK_WAIT = 600.0


def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sys.stderr.write(f"[{stamp}] guardian {os.getpid()}: {message}\n")
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    if len(argv) not in {4, 5}:
        sys.stderr.write("usage: python -m zeroxl.app.guardian HOME FD OWNER_PID [HOST]\n")
        return 2
    os.umask(UMASK)  # it writes only in ZEROXL_HOME, which is its owner's alone
    home, fd, owner = Home(Path(argv[1])), int(argv[2]), int(argv[3])
    with contextlib.suppress(OSError):
        while os.read(fd, 4096):
            pass
    ui = Ui(info=_log)
    try:
        # HOST: a host other than local (docs/fleet.md), reached at its URI as the 0xl that started this one did.
        host = Hosts(home.root).get(argv[4]) if len(argv) == 5 else Host(LOCAL, "")
    except ZeroxlError as e:  # the host was removed from the registry meanwhile
        _log(e.message)
        return 1
    with context_of(home, host, ui) as ctx:
        orphaned = []
        for name in ctx.records.names():
            with contextlib.suppress(ZeroxlError):
                t = ctx.records.load(name).transition
                if t is not None and t.owner.get("pid") == owner:
                    orphaned.append(name)
        status = 0
        for name in orphaned:
            _log(f"0xl (pid {owner}) ended during a change of {name}; finishing it")
            try:
                with session.service_lock(ctx, name, wait=LOCK_WAIT):
                    journal.recover(ctx, name)
            except ZeroxlError as e:
                _log(f"{name}: {e.message}")
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
