"""`0xl run` of a cached unix service until its first log line, against starting the same program
directly and reading its first line."""

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


def first_line_0xl(env: dict[str, str], log: Path) -> float:
    t = time.perf_counter()
    run_cmd(zeroxl("run", "web"), env=env)
    while b"listening" not in (log.read_bytes() if log.exists() else b""):
        time.sleep(0.002)
    elapsed = time.perf_counter() - t
    run_cmd(zeroxl("stop", "web"), env=env)
    log.unlink()
    return elapsed


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
        via = statistics.median(first_line_0xl(env, home / "services/web/log") for _ in range(RUNS))
        print("run")
        report(
            [
                ("program started directly, to its first line", f"{direct * 1000:.0f} ms"),
                ("0xl run, to the service's first log line", f"{via * 1000:.0f} ms = {via / direct:.2f}x direct"),
            ]
        )


if __name__ == "__main__":
    main()
