"""`0xl list --json` with 0, 100 and 1,000 services, against `0install select --offline` of a cached
feed (the peer) and `python3 -c pass`; peak memory of `0xl list`."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.common import installed_env, interleaved, ms, peak_rss_kib, ratio, report, run_cmd, zeroxl
from tests.support.feeds import FeedSite, Impl
from tests.support.gpgkeys import make_publisher
from tests.support.http import StaticServer
from zeroxl.host.paths import Home
from zeroxl.state.selected import Selected
from zeroxl.state.service import Records, Service


def make_services(home: Path, n: int) -> None:
    records = Records(Home(home).services)
    for i in range(n):
        records.save(
            Service(
                name=f"svc-{i}",
                feed=f"http://127.0.0.1:1/svc-{i}.xml",
                backend="unix",
                target="Linux-x86_64",
                args={"port": str(10000 + i)},
                current=Selected(f"id{i}", "1.0", "sha256new_X", "*-*", "stable", "bin/web"),
            )
        )


def zeroinstall_with_cached_feed(tmp: Path) -> tuple[list[str], dict[str, str]]:
    pub = make_publisher(tmp / "pub")
    www = tmp / "www"
    www.mkdir()
    server = StaticServer(www)
    site = FeedSite(www, server.url, pub)
    url = site.publish("web", [Impl("1.0"), Impl("2.0")])
    base = tmp / "0install"
    config = base / "config" / "injector"
    config.mkdir(parents=True)
    # No key-information server and no mirror: 0install would send the feed's URL to third parties.
    (config / "global").write_text("[global]\nkey_info_server = \n")
    (config / "trustdb.xml").write_text(
        '<?xml version="1.0" ?>\n<trusted-keys xmlns="http://zero-install.sourceforge.net/2007/injector/trust">'
        f'<key fingerprint="{pub.fingerprint}"><domain value="{server.domain}"/></key></trusted-keys>\n'
    )
    gnupg = tmp / "0install-gnupg"
    gnupg.mkdir(mode=0o700)
    env = dict(
        os.environ,
        ZEROINSTALL_PORTABLE_BASE=str(base),
        GNUPGHOME=str(gnupg),
        http_proxy="http://127.0.0.1:9",  # refuses everything: the hard-coded mirror is never reached
        no_proxy="127.0.0.1",
    )
    run_cmd(["0install", "download", "--console", url], env=env)  # fetch and cache once
    server.stop()  # offline from here on
    return ["0install", "select", "--offline", url], env


def main() -> None:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        peer_cmd, peer_env = zeroinstall_with_cached_feed(tmp)
        cmds: dict[str, Callable[[], object]] = {
            "peer": lambda: run_cmd(peer_cmd, env=peer_env),
            "python": lambda: run_cmd([sys.executable, "-c", "pass"]),
        }
        envs = {}
        for n in (0, 100, 1000):
            home = tmp / f"home-{n}"
            make_services(home, n)
            envs[n] = installed_env(ZEROXL_HOME=str(home))
            cmds[f"list{n}"] = lambda e=envs[n]: run_cmd(zeroxl("list", "--json"), env=e)  # type: ignore[misc]
        s = interleaved(cmds, rounds=21)
        rows = [
            ("0install select --offline (cached feed)", ms(s["peer"])),
            ("python3 -c pass", ms(s["python"])),
        ]
        for n in (0, 100, 1000):
            k = f"list{n}"
            rows.append(
                (
                    f"0xl list --json, {n} services",
                    f"{ms(s[k])} = {ratio(s, k, 'peer'):.2f}x 0install select, {ratio(s, k, 'python'):.2f}x python -c pass",
                )
            )
        rows.append(
            (
                "peak memory of 0xl list, 100 services",
                f"{peak_rss_kib(zeroxl('list', '--json'), envs[100]) / 1024:.1f} MiB",
            )
        )
        print("list (median of 21 interleaved rounds; ratios are medians of per-round ratios)")
        report(rows)


if __name__ == "__main__":
    main()
