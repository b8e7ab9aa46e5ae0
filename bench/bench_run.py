"""`0xl run` of a cached unix service until its first log line, against starting the same program
directly and reading its first line; and until `0xl run` returns, which includes its start check (it
watches the program for half a second, so that one that exits at once is reported, not "started")."""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import installed_env, report, run_cmd, zeroxl
from tests.support.feeds import FeedSite, Impl
from tests.support.gpgkeys import make_publisher
from tests.support.http import StaticServer
from tests.support.zx import free_port

RUNS = 7


def first_line_direct(program: Path, port: int) -> float:
    t = time.perf_counter()
    p = subprocess.Popen([str(program), f"--port={port}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert p.stdout is not None
    p.stdout.readline()
    elapsed = time.perf_counter() - t
    p.kill()
    p.wait()
    return elapsed


def first_line_0xl(env: dict[str, str], log: Path) -> tuple[float, float]:
    """Seconds from `0xl run` to the service's first log line, and to `0xl run` returning."""
    t = time.perf_counter()
    p = subprocess.Popen(zeroxl("run", "web"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while b"listening" not in (log.read_bytes() if log.exists() else b""):
        time.sleep(0.002)
    first_line = time.perf_counter() - t
    if p.wait() != 0:
        raise SystemExit("0xl run failed")
    returned = time.perf_counter() - t
    run_cmd(zeroxl("stop", "web"), env=env)
    log.unlink()
    return first_line, returned


def main() -> None:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        pub = make_publisher(tmp / "pub")
        www = tmp / "www"
        www.mkdir()
        server = StaticServer(www)
        url = FeedSite(www, server.url, pub).publish("web", [Impl("1.0")])
        home = tmp / "home"
        env = installed_env(ZEROXL_HOME=str(home))
        port = free_port()
        run_cmd(zeroxl("add", "web", url, "--trust-key", pub.fingerprint, "--arg", f"port={port}"), env=env)
        server.stop()  # the service is cached: run needs no network
        program = next((home / "store").glob("sha256new_*/bin/web"))
        direct = statistics.median(first_line_direct(program, port) for _ in range(RUNS))
        runs = [first_line_0xl(env, home / "services/web/log") for _ in range(RUNS)]
        via = statistics.median(first for first, _ in runs)
        returned = statistics.median(ret for _, ret in runs)
        print("run")
        report(
            [
                ("program started directly, to its first line", f"{direct * 1000:.0f} ms"),
                ("0xl run, to the service's first log line", f"{via * 1000:.0f} ms = {via / direct:.2f}x direct"),
                (
                    "0xl run, until it returns (start check)",
                    f"{returned * 1000:.0f} ms = {returned / direct:.2f}x direct",
                ),
            ]
        )


if __name__ == "__main__":
    main()
