"""A network namespace a test makes for itself, with real Linux bridges in it, for what 0xl checks on a host
that runs VMs (a service's bridges must exist: /sys/class/net/BRIDGE/bridge). Nothing of it touches the
machine's own network: the namespace has its own loopback and interfaces, and a mount namespace in which
/sys shows them; it goes away with its last process.

Programs run in it through nsenter: `NetNs.run` (0xl, as an operator runs it) and `NetNs.serve` (a static
HTTP server on the namespace's 127.0.0.1, for feeds).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.support.zx import Result, free_port

SETUP = 'ip link set lo up && for b in "$@"; do ip link add "$b" type bridge || exit 1; done && ' + (
    "mount -t sysfs sysfs /sys && echo ready && exec sleep 3600"
)


def available() -> str | None:
    """Why a namespace cannot be made here, or None."""
    if os.geteuid() != 0:
        return "making a network namespace with bridges needs root"
    missing = [t for t in ("unshare", "nsenter", "ip") if shutil.which(t) is None]
    return f"missing {', '.join(missing)}" if missing else None


class NetNs:
    def __init__(self, bridges: tuple[str, ...] = ("xenbr0",)) -> None:
        # --kill-child: the namespace's holder dies with unshare, whatever kills it.
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--mount", "--propagation", "private", "--kill-child",
             "sh", "-c", SETUP, "sh", *bridges],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.servers: list[subprocess.Popen[bytes]] = []
        assert self.holder.stdout is not None
        line = self.holder.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"could not make a network namespace with bridges {bridges}")
        children = Path(f"/proc/{self.holder.pid}/task/{self.holder.pid}/children").read_text().split()
        self.pid = int(children[0])

    def enter(self) -> list[str]:
        """A command prefix that runs a program in the namespace (nsenter execs it: same pid)."""
        return self._enter()

    def _enter(self) -> list[str]:
        return ["nsenter", f"--target={self.pid}", "--net", "--mount", "--"]

    def run(self, *args: str | Path, home: Path, timeout: float = 60) -> Result:
        """`0xl ARGS` in the namespace, against HOME."""
        env = dict(os.environ, ZEROXL_HOME=str(home))
        p = subprocess.run(
            [*self._enter(), sys.executable, "-m", "zeroxl", *map(str, args)],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(p.returncode, p.stdout, p.stderr)

    def serve(self, root: Path) -> str:
        """Serve ROOT on the namespace's 127.0.0.1; returns its base URL."""
        port = free_port()  # free here, and so almost surely in a namespace with nothing in it
        server = subprocess.Popen(
            [*self._enter(), sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(root),
             str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.servers.append(server)
        probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=1)"
        deadline = time.monotonic() + 15
        while subprocess.run([*self._enter(), sys.executable, "-c", probe], capture_output=True).returncode != 0:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the HTTP server in the namespace did not answer on port {port}")
            time.sleep(0.1)
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        for server in self.servers:
            server.kill()
            server.wait()
        self.holder.kill()
        self.holder.wait()
        if self.holder.stdout is not None:
            self.holder.stdout.close()
