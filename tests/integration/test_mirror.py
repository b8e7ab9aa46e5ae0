"""Hosts without internet access: `0xl mirror` copies feeds, keys and archives (verified) into a
directory; a host whose config.toml maps the origin to that mirror, served over HTTP or read as a local
directory, installs and updates from it with the origin gone, and verifies everything exactly as if it
came from the origin. A mirror that serves something else is refused."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl, forged_same_size
from tests.support.gpgkeys import Publisher
from tests.support.http import StaticServer
from tests.support.zx import (
    Result,
    free_port,
    http_get,
    open_to_services,
    snapshot,
    stop_everything,
    wait_for,
    zx_inprocess,
)
from zeroxl.app.context import Context
from zeroxl.feeds.selection import Requirements, Target, host_cpu, select
from zeroxl.host.paths import Home
from zeroxl.publish.mirror import mirror_path

Zx = Callable[..., Result]


def host(monkeypatch: pytest.MonkeyPatch, home: Path) -> Zx:
    """0xl in this process, for the host whose ZEROXL_HOME is HOME."""

    def run(*args: str) -> Result:
        monkeypatch.setenv("ZEROXL_HOME", str(home))
        return zx_inprocess(*args, home=home)

    return run


@dataclass
class Lab:
    site: FeedSite
    origin: StaticServer
    url: str
    mirror: Path
    connected: Zx  # the host that runs `0xl mirror`
    publisher: Publisher

    @property
    def feed_in_mirror(self) -> Path:
        return mirror_path(self.mirror, self.url)

    def archive_in_mirror(self, impl: Impl) -> Path:
        return mirror_path(self.mirror, impl.href)

    def remirror(self) -> Result:
        return self.connected("mirror", self.url, str(self.mirror))


@pytest.fixture
def lab(site: FeedSite, server: StaticServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    url = site.publish("web", [Impl("1.0")])
    connected = host(monkeypatch, tmp_path / "connected")
    mirror = tmp_path / "mirror"
    r = connected("mirror", url, str(mirror), "--trust-key", site.publisher.fingerprint)
    assert r.rc == 0, r
    assert f'"{server.url}/" = "{mirror}/{server.domain}/"' in r.out
    return Lab(site, server, url, mirror, connected, site.publisher)


@pytest.fixture
def offline_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "offline"
    home.mkdir()
    open_to_services(home)
    yield home
    stop_everything(home)


def offline_host(home: Path, monkeypatch: pytest.MonkeyPatch, lab: Lab, location: str) -> tuple[Zx, Path]:
    """0xl on a host without access to the origin, whose config.toml maps the origin to LOCATION."""
    (home / "config.toml").write_text(f'[mirrors]\n"{lab.origin.url}/" = "{location}"\n')
    return host(monkeypatch, home), home


@pytest.fixture
def mirror_server(lab: Lab) -> Iterator[StaticServer]:
    srv = StaticServer(lab.mirror)
    try:
        yield srv
    finally:
        srv.stop()


def http_location(lab: Lab, srv: StaticServer) -> str:
    return f"{srv.url}/{lab.origin.domain}/"


def local_location(lab: Lab) -> str:
    return f"{lab.mirror}/{lab.origin.domain}/"


# -- installing through a mirror ------------------------------------------------------------------------


def test_mirror_layout_is_the_origin_urls(lab: Lab) -> None:
    names = sorted(str(p.relative_to(lab.mirror)) for p in lab.mirror.rglob("*") if p.is_file())
    domain = lab.origin.domain
    [archive] = [n for n in names if n.endswith(".tar.gz")]
    assert names == sorted([".0xl-mirror.lock", archive, f"{domain}/{lab.publisher.keyid}.gpg", f"{domain}/web.xml"])
    assert archive.startswith(f"{domain}/archives/web-1.0-")
    assert lab.feed_in_mirror.read_bytes() == (lab.site.root / "web.xml").read_bytes()


def test_add_and_run_through_a_mirror_served_over_http_with_the_origin_down(
    lab: Lab, mirror_server: StaticServer, offline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.origin.stop()
    zx, _home = offline_host(offline_home, monkeypatch, lab, http_location(lab, mirror_server))
    port = free_port()
    try:
        r = zx("add", "web", lab.url, "--trust-key", lab.publisher.fingerprint, "--arg", f"port={port}")
        assert r.rc == 0, r
        assert zx("run", "web").rc == 0
        assert wait_for(lambda: http_get(port) == "web 1.0\n")
    finally:
        zx("destroy", "web")
    # The service and the trust are the origin's, not the mirror's.
    assert json.loads(zx("trust", "list", "--json").out) == [
        {"fingerprint": lab.publisher.fingerprint, "domains": [lab.origin.domain]}
    ]
    domain = lab.origin.domain
    assert f"/{domain}/web.xml" in mirror_server.requests
    assert f"/{domain}/{lab.publisher.keyid}.gpg" in mirror_server.requests


def test_add_through_a_mirror_in_a_local_directory(
    lab: Lab, offline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.origin.stop()
    zx, _home = offline_host(offline_home, monkeypatch, lab, local_location(lab))
    r = zx("add", "web", lab.url, "--trust-key", lab.publisher.fingerprint)
    assert r.rc == 0, r
    status = json.loads(zx("status", "web", "--json").out)
    assert (status["feed"], status["version"]) == (lab.url, "1.0")


def test_the_origin_is_not_contacted_for_a_mirrored_prefix(
    lab: Lab, offline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = len(lab.origin.requests)
    zx, _home = offline_host(offline_home, monkeypatch, lab, local_location(lab))
    assert zx("add", "web", lab.url, "--trust-key", lab.publisher.fingerprint).rc == 0
    assert lab.origin.requests[seen:] == []


# -- a mirror is not trusted ------------------------------------------------------------------------------


def refused(zx: Zx, home: Path, lab: Lab, status: int, message: str) -> None:
    before = snapshot(home)
    r = zx("add", "web", lab.url, "--trust-key", lab.publisher.fingerprint)
    assert r.rc == status and message in r.err, r
    assert snapshot(home) == before


def test_a_mirror_serving_a_modified_feed_is_refused(
    lab: Lab, mirror_server: StaticServer, offline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zx, home = offline_host(offline_home, monkeypatch, lab, http_location(lab, mirror_server))
    lab.feed_in_mirror.write_bytes(lab.feed_in_mirror.read_bytes().replace(b"web test service", b"web evil service"))
    refused(zx, home, lab, 4, "modified after signing")


def flipped(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


# What a mirror may do to an archive, and the check that catches each: gzip's (a flipped byte: the deflate
# data's own checks or, where the data still inflates, the CRC-32 in the gzip trailer), the size
# the feed declares (bytes added), and the manifest digest alone (one byte of a file's content changed,
# and the whole packed again to the same size: forged_same_size).
DAMAGE = {"corrupt": flipped, "longer": lambda data: data + b"padding", "same-size": forged_same_size}
CAUGHT_BY = {
    "corrupt": "the archive is corrupt",
    "longer": "the feed declares",
    "same-size": "the implementation's contents do not have the digest the feed gives",
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_mirror_serving_a_modified_archive_is_refused(
    lab: Lab, offline_home: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    zx, home = offline_host(offline_home, monkeypatch, lab, local_location(lab))
    [archive] = lab.mirror.rglob("*.tar.gz")
    archive.write_bytes(DAMAGE[damage](archive.read_bytes()))
    refused(zx, home, lab, 4, CAUGHT_BY[damage])


def test_a_mirror_serving_another_feed_at_the_url_is_refused(
    lab: Lab, offline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zx, home = offline_host(offline_home, monkeypatch, lab, local_location(lab))
    other = lab.site.publish("other", [Impl("6.6")])
    assert other != lab.url
    lab.feed_in_mirror.write_bytes((lab.site.root / "other.xml").read_bytes())
    refused(zx, home, lab, 4, "URL mismatch")


def test_a_mirror_replaying_an_older_feed_is_refused(
    lab: Lab, offline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The origin publishes 1.1, signed now; the mirror and then the host take it.
    now = int(time.time())
    lab.site.publish("web", [Impl("1.0"), Impl("1.1")], at=now)
    os.utime(lab.site.root / "web.xml", (now + 60, now + 60))
    assert lab.remirror().rc == 0
    newer = lab.feed_in_mirror.read_bytes()
    zx, home = offline_host(offline_home, monkeypatch, lab, local_location(lab))
    assert zx("add", "web", lab.url, "--trust-key", lab.publisher.fingerprint).rc == 0

    # The origin (or someone in its place) serves the old feed, signed an hour earlier: `0xl mirror` will
    # not go back...
    lab.site.publish("web", [Impl("1.0")], at=now - 3600)
    os.utime(lab.site.root / "web.xml", (now + 120, now + 120))  # so that the server sends it at all
    r = lab.remirror()
    assert r.rc == 4 and "before the copy 0xl already has" in r.err, r
    assert lab.feed_in_mirror.read_bytes() == newer
    # ...and a host refuses an old feed put into the mirror by hand.
    lab.feed_in_mirror.write_bytes((lab.site.root / "web.xml").read_bytes())
    before = snapshot(home)
    r = zx("add", "web2", lab.url)
    assert r.rc == 4 and "before the copy 0xl already has" in r.err, r
    assert snapshot(home) == before


# -- what `0xl mirror` lets in ----------------------------------------------------------------------------


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_mirror_refuses_a_feed_whose_archive_does_not_match(
    site: FeedSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    impl = Impl("1.0")
    url = site.publish("web", [impl])
    archive = site.root / "archives" / impl.href.rsplit("/", 1)[1]
    archive.write_bytes(DAMAGE[damage](archive.read_bytes()))
    mirror = tmp_path / "mirror"
    connected = host(monkeypatch, tmp_path / "connected")

    r = connected("mirror", url, str(mirror), "--trust-key", site.publisher.fingerprint)

    # From the origin, a longer archive is caught by the server's Content-Length before any byte comes.
    message = "the feed says" if damage == "longer" else CAUGHT_BY[damage]
    assert r.rc == 4 and message in r.err, r
    assert [p.name for p in mirror.iterdir()] == [".0xl-mirror.lock"]  # nothing half-mirrored
    assert not (tmp_path / "connected" / "feeds").exists() or not any((tmp_path / "connected" / "feeds").iterdir())


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_mirroring_again_fetches_only_what_is_missing_and_repairs_damage(lab: Lab, damage: str) -> None:
    r = lab.remirror()
    assert r.rc == 0 and "; 0 bytes fetched" in r.out, r
    [archive] = lab.mirror.rglob("*.tar.gz")
    good = archive.read_bytes()
    archive.write_bytes(DAMAGE[damage](good))

    r = lab.remirror()

    assert r.rc == 0 and f"; {len(good)} bytes fetched" in r.out, r
    assert archive.read_bytes() == good


# -- updating through a mirror ----------------------------------------------------------------------------


def publish_update(lab: Lab) -> None:
    """The origin publishes 1.1 (signed a second later than 1.0, at least) and the mirror takes it."""
    time.sleep(1.0)
    lab.site.publish("web", [Impl("1.0"), Impl("1.1")])
    assert lab.remirror().rc == 0


def test_a_refresh_through_the_mirror_sees_the_new_version(
    lab: Lab, offline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `0xl update` does first, at the level of the loader: fetch the feed again, through the mirror."""
    zx, home = offline_host(offline_home, monkeypatch, lab, local_location(lab))
    assert zx("add", "web", lab.url, "--trust-key", lab.publisher.fingerprint).rc == 0
    publish_update(lab)
    lab.origin.stop()

    with Context(Home(home)) as ctx:
        loaded = ctx.loader.load(lab.url)
        impl = select(loaded.feed, Requirements(Target("Linux", host_cpu())))
        ctx.store.ensure(impl, ctx.fetcher)

    assert loaded.changed and str(impl.version) == "1.1"
    assert loaded.feed.url == lab.url


@pytest.mark.parametrize("served", ["http", "local"])
def test_update_through_the_mirror(
    served: str, lab: Lab, offline_home: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror_server = request.getfixturevalue("mirror_server") if served == "http" else None
    location = local_location(lab) if mirror_server is None else http_location(lab, mirror_server)
    zx, _home = offline_host(offline_home, monkeypatch, lab, location)
    assert zx("add", "web", lab.url, "--trust-key", lab.publisher.fingerprint).rc == 0
    publish_update(lab)
    lab.origin.stop()

    r = zx("update", "web")

    assert r.rc == 0, r
    assert json.loads(zx("status", "web", "--json").out)["version"] == "1.1"
