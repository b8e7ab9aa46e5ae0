"""`0xl update --all --check` over 100 services whose feeds have not changed, against the same over one
service. Each service has its own feed on a loopback server; 0xl fetches them concurrently with
conditional requests, and the server answers 304 Not Modified. The goal: under 2x the time of one.

Three servers: HTTP/1.1 keeping connections open (as production servers do), HTTP/1.0 with one
connection per request, and HTTP/1.1 answering after 20 ms (a server across a network: where fetching
concurrently matters most)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from bench.common import installed_env, interleaved, ms, ratio, report, run_cmd, zeroxl
from tests.support.feeds import FeedSite, Impl
from tests.support.gpgkeys import make_publisher
from tests.support.http import StaticServer
from zeroxl.app.add import add
from zeroxl.app.context import Context
from zeroxl.host.paths import Home

N = 100
ROUNDS = 10


def make_home(home: Path, site: FeedSite, impl: Impl, fingerprint: str, count: int) -> None:
    with Context(Home(home)) as ctx:
        for i in range(count):
            url = (
                site.publish(f"svc-{i}", [impl]) if not (site.root / f"svc-{i}.xml").exists() else site.url(f"svc-{i}")
            )
            add(ctx, f"svc-{i}", url, trust_key=fingerprint, args=[f"port={20000 + i}"])


def measure(*, keep_alive: bool, delay: float = 0.0) -> None:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        pub = make_publisher(tmp / "pub")
        www = tmp / "www"
        www.mkdir()
        server = StaticServer(www, keep_alive=keep_alive)
        server.stall = delay
        try:
            site = FeedSite(www, server.url, pub)
            impl = Impl("1.0")  # one implementation: packed and digested once, shared by every feed
            one, many = tmp / "one", tmp / "many"
            make_home(one, site, impl, pub.fingerprint, 1)
            make_home(many, site, impl, pub.fingerprint, N)
            envs = {home: installed_env(ZEROXL_HOME=str(home)) for home in (one, many)}
            cmd = zeroxl("update", "--all", "--check")
            server.answers.clear()
            samples = interleaved(
                {"1": lambda: run_cmd(cmd, env=envs[one]), str(N): lambda: run_cmd(cmd, env=envs[many])},
                rounds=ROUNDS,
            )
            answers = [code for path, code in server.answers if path.endswith(".xml")]
        finally:
            server.stop()
            subprocess.run(["gpgconf", "--homedir", str(pub.gnupghome), "--kill", "gpg-agent"], check=False)
        kind = "HTTP/1.1, connections kept open" if keep_alive else "HTTP/1.0, a connection per request"
        if delay:
            kind += f", answering after {delay * 1000:.0f} ms"
        print(f"update --all --check, unchanged feeds; feed server: {kind} ({ROUNDS} interleaved rounds)")
        report(
            [
                ("1 service", ms(samples["1"])),
                (f"{N} services", f"{ms(samples[str(N)])} = {ratio(samples, str(N), '1'):.2f}x one (goal: < 2x)"),
                ("feed requests answered 304", f"{answers.count(304)} of {len(answers)}"),
            ]
        )


def main() -> None:
    measure(keep_alive=True)
    measure(keep_alive=False)
    measure(keep_alive=True, delay=0.02)


if __name__ == "__main__":
    main()
