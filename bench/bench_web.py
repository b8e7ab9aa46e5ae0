"""`0xl serve` with 100 services (added for real from signed feeds, 10 of them running): a scrape of
/metrics, the main page, its refreshed fragment and /api/services, each one request on a kept-open
connection as Prometheus and a browser make them, against `0xl list --json` on the same home, interleaved
round by round. The goal: a scrape costs less than one `list`.

The server reads more than `list` for a scrape and the page: each service's history, the cached copy of
its feed (signature age, and its name for the page)."""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import installed_env, interleaved, ms, ratio, report, run_cmd, zeroxl
from tests.support.feeds import FeedSite, Impl
from tests.support.gpgkeys import make_publisher
from tests.support.http import StaticServer
from tests.support.web import Served
from tests.support.zx import free_port, stop_everything
from zeroxl.app.add import add
from zeroxl.app.context import Context
from zeroxl.app.lifecycle import run
from zeroxl.host.paths import Home

N = 100
RUNNING = 10
ROUNDS = 21


def make_home(home: Path, site: FeedSite, fingerprint: str) -> None:
    impl = Impl("1.0")  # packed and digested once, shared by every feed
    with Context(Home(home)) as ctx:
        for i in range(N):
            url = site.publish(f"svc-{i}", [impl])
            add(ctx, f"svc-{i}", url, trust_key=fingerprint, args=[f"port={free_port()}"])
        for i in range(RUNNING):
            run(ctx, f"svc-{i}")


def main() -> None:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        pub = make_publisher(tmp / "pub")
        www = tmp / "www"
        www.mkdir()
        server = StaticServer(www)
        home = tmp / "home"
        try:
            make_home(home, FeedSite(www, server.url, pub), pub.fingerprint)
        finally:
            server.stop()
        env = installed_env(ZEROXL_HOME=str(home))
        port = free_port()
        served = Served(home, "--listen", f"127.0.0.1:{port}", port=port)
        try:
            served.wait_ready()
            with httpx.Client(base_url=served.url, timeout=30) as client:

                def get(path: str) -> None:
                    r = client.get(path)
                    r.raise_for_status()
                    assert len(r.content) > 1000

                samples = interleaved(
                    {
                        "list": lambda: run_cmd(zeroxl("list", "--json"), env=env),
                        "metrics": lambda: get("/metrics"),
                        "page": lambda: get("/"),
                        "fragment": lambda: get("/fragments/services"),
                        "api": lambda: get("/api/services"),
                    },
                    rounds=ROUNDS,
                )
        finally:
            served.stop()
            stop_everything(home)
            with contextlib.suppress(Exception):
                time.sleep(0.2)
        rows = [("0xl list --json (a new process)", ms(samples["list"]))]
        for key, what in (
            ("metrics", "GET /metrics"),
            ("page", "GET / (the page)"),
            ("fragment", "GET /fragments/services (its refresh)"),
            ("api", "GET /api/services (list --json)"),
        ):
            rows.append((what, f"{ms(samples[key])} = {ratio(samples, key, 'list'):.2f}x 0xl list --json"))
        print(f"web: {N} services, {RUNNING} running (median of {ROUNDS} interleaved rounds; ratios per round)")
        report(rows)


if __name__ == "__main__":
    main()
