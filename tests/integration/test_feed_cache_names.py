"""The feed cache names its files after feed URLs, as 0install does (issue 10, point 11): a URL too long
for a file name gets a hashed name instead, and keeps every protection the cache gives."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from tests.support.feeds import FeedSite, Impl
from tests.support.http import StaticServer
from tests.support.updating import publish
from tests.support.zeroinstall import ZeroInstall
from tests.support.zx import snapshot
from zeroxl.feeds.cache import file_name
from zeroxl.feeds.trust import TrustDB

# A feed file name of 240 characters: the URL, escaped as 0install escapes it, is far over NAME_MAX.
LONG = ("a-very-long-feed-name-" * 11)[:236]


def _impls(site: FeedSite, *versions: str) -> list[Impl]:
    """Implementations whose archives have short names (the test's server keeps them as files too)."""
    impls = [Impl(v) for v in versions]
    for impl in impls:
        site.add_archive("web", impl)
    return impls


def test_feed_with_a_240_character_path_is_added_and_updated(site: FeedSite, zx, zhome: Path) -> None:
    url = publish(site, LONG, _impls(site, "1.0"))
    assert len(url.rsplit("/", 1)[1]) == 240
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 0, r
    (cached,) = (zhome / "feeds").iterdir()
    assert len(cached.name) <= 255 and json.loads(cached.read_bytes())["url"] == url

    publish(site, LONG, _impls(site, "1.0", "2.0"))
    r = zx("update", "web", "--check")
    assert r.rc == 0 and "1.0 -> 2.0 available" in r.out, r


def test_replayed_feed_with_a_long_url_is_refused(site: FeedSite, zx, zhome: Path) -> None:
    # The hashed name is found again: replay protection holds for long URLs too.
    old = site.publisher.sign(site.feed_xml(LONG, _impls(site, "1.0")))
    time.sleep(1.1)  # signature times are in seconds
    url = publish(site, LONG, _impls(site, "1.0", "2.0"))
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint).rc == 0
    (site.root / f"{LONG}.xml").write_bytes(old)
    stamp = int(time.time()) + 5  # a new Last-Modified, so that the server sends it rather than 304
    os.utime(site.root / f"{LONG}.xml", (stamp, stamp))
    before = snapshot(zhome)
    r = zx("update", "web", "--check")
    assert r.rc == 4, r
    assert "before the copy 0xl already has" in r.err, r
    assert snapshot(zhome) == before


def test_cache_names_are_0installs_where_0install_can_name_the_file(
    site: FeedSite, server: StaticServer, tmp_path: Path
) -> None:
    # The real 0install caches a feed as interfaces/ESCAPED-URL; for the long URL it fails ("File name
    # too long"), which is where 0xl's hashed name takes over.
    zi = ZeroInstall(tmp_path / "0install")
    TrustDB([(site.publisher.fingerprint, [server.domain])]).save(zi.trustdb)
    short, long = site.publish("web", _impls(site, "1.0")), site.publish(LONG, _impls(site, "1.0"))
    assert zi.run("select", "--xml", short).returncode == 0
    failed = zi.run("select", "--xml", long)
    assert failed.returncode != 0 and "File name too long" in failed.stderr, failed.stderr
    assert [p.name for p in zi.interfaces.iterdir()] == [file_name(short).removesuffix(".json")]
    assert file_name(long) == f"sha256={hashlib.sha256(long.encode()).hexdigest()}.json"
