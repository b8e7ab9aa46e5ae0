"""Freeze attacks: a mirror or network serves an old, validly signed feed for ever, so the host never
hears of newer versions (0install has the same weakness). 0xl goes beyond it as TUF does: a publisher
signs with an expiry (`0xl feed sign --expires`), which 0install still accepts until then; a host may set
the oldest signature it accepts ([trust] max_signature_age); and `status` and `update --check` show how
old each feed's signature is, warning past [trust] warn_signature_age."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from tests.support.feeds import FeedSite, Impl
from tests.support.gpgkeys import Publisher
from tests.support.http import StaticServer
from tests.support.updating import publish
from tests.support.zeroinstall import ZeroInstall
from tests.support.zx import Result, snapshot, zx_process
from zeroxl.feeds.trust import TrustDB

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "web"
DAY = 86400


def config(zhome: Path, text: str) -> None:
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text(text)


def add(zx, site: FeedSite, **publishing: int) -> str:
    url = publish(site, "web", [Impl("1.0")], **publishing)
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 0, r
    return url


# -- the publisher: signatures that expire --------------------------------------------------------------


def sign(feed: Path, publisher: Publisher, home: Path, *extra: str) -> Result:
    env_home = {"GNUPGHOME": str(publisher.gnupghome)}
    return zx_process("feed", "sign", str(feed), "--key", publisher.fingerprint, *extra, home=home, env=env_home)


def test_feed_sign_expires_makes_a_signature_0install_accepts_until_then(
    tmp_path: Path, publisher: Publisher, server: StaticServer, zx
) -> None:
    feed, url = server.root / "web.xml", f"{server.url}/web.xml"
    home = tmp_path / "publisher-home"
    for step in (
        ("feed", "init", str(feed), "--uri", url, "--name", "web", "--summary", "a tiny web server"),
        ("feed", "add", str(feed), "--version", "1.0", "--arch", "*-*", "--dir", str(EXAMPLE), "--command", "bin/web"),
    ):
        assert zx_process(*step, home=home).rc == 0
    r = sign(feed, publisher, home, "--expires", "30d")
    assert r.rc == 0, r
    expected = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * DAY))
    assert re.search(rf"the signature expires {expected} \d\d:\d\d:\d\d UTC: hosts refuse the feed after that", r.out)

    # gpg's own account of the signature packet, independent of 0xl's reading of VALIDSIG.
    (tmp_path / "empty").mkdir(mode=0o700)
    packets = subprocess.run(
        ["gpg", "--list-packets"],
        input=_signature_of(feed.read_bytes()),
        capture_output=True,
        check=True,
        env={"GNUPGHOME": str(tmp_path / "empty"), "LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    ).stdout.decode()
    assert "(sig expires after 30d0h0m)" in packets, packets

    # The oracle: the real 0install takes the feed (its testing implementation) before the date...
    zi = ZeroInstall(tmp_path / "0install")
    TrustDB([(publisher.fingerprint, [server.domain])]).save(zi.trustdb)
    done = zi.run("download", "--xml", "--refresh", url)
    assert done.returncode == 0, done.stderr
    # ...and so does 0xl.
    r = zx("add", "web", url, "--trust-key", publisher.fingerprint, "--channel", "testing")
    assert r.rc == 0, r
    signature = json.loads(zx("status", "web", "--json").out)["feed_signature"]
    assert abs(signature["expires"] - (time.time() + 30 * DAY)) < 120


def _signature_of(feed: bytes) -> bytes:
    from zeroxl.feeds.signature import split_signed

    return split_signed(feed)[1]


def test_feed_sign_refuses_an_expiry_it_cannot_read(tmp_path: Path, publisher: Publisher, server: StaticServer) -> None:
    feed, home = server.root / "web.xml", tmp_path / "publisher-home"
    assert (
        zx_process(
            "feed", "init", str(feed), "--uri", f"{server.url}/web.xml", "--name", "w", "--summary", "w", home=home
        ).rc
        == 0
    )
    before = feed.read_bytes()
    for bad in ("30", "tomorrow", "0d", "-1d"):
        r = sign(feed, publisher, home, f"--expires={bad}")
        assert r.rc == 2, r
        assert r.err.startswith("0xl: error: invalid --expires"), r
    assert feed.read_bytes() == before


# -- the host: expired signatures, the oldest one it accepts, and warnings ------------------------------


def test_a_frozen_feed_is_refused_once_its_signature_expires(
    site: FeedSite, zx, zhome: Path, server: StaticServer
) -> None:
    add(zx, site, at=int(time.time()) - 60, expires=64)
    time.sleep(max(0.0, json.loads(zx("status", "web", "--json").out)["feed_signature"]["expires"] - time.time() + 1))
    before = snapshot(zhome)
    server.answers.clear()

    # The server keeps sending the same feed: 0xl's verified copy has expired, and 0xl says so.
    r = zx("update", "web", "--check")
    assert r.rc == 4, r
    assert "the signature of the feed" in r.err and "expired on" in r.err and "freeze attack" in r.err, r
    assert server.answers == [("/web.xml", 304)]
    assert snapshot(zhome) == before
    status = zx("status", "web")
    assert "0xl: warning: web: the feed's signature expired on" in status.err, status


def test_a_host_refuses_feeds_signed_longer_ago_than_it_accepts(site: FeedSite, zx, zhome: Path) -> None:
    config(zhome, '[trust]\nmax_signature_age = "1d"\n')
    url = publish(site, "web", [Impl("1.0")], at=int(time.time()) - 2 * DAY)
    before = snapshot(zhome)
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 4, r
    assert "2 days ago: longer ago than this host accepts ([trust] max_signature_age, 24 h)" in r.err, r
    assert snapshot(zhome) == before

    # A feed that was fresh enough when added is refused once it grows too old (unchanged on the server).
    config(zhome, "")
    add(zx, site, at=int(time.time()) - 2 * 3600)
    config(zhome, '[trust]\nmax_signature_age = "1h"\n')
    before = snapshot(zhome)
    r = zx("update", "web")
    assert r.rc == 4, r
    assert "longer ago than this host accepts" in r.err and "freeze attack" in r.err, r
    assert snapshot(zhome) == before


def test_status_and_update_check_show_the_signatures_age_and_warn_past_the_threshold(
    site: FeedSite, zx, zhome: Path
) -> None:
    add(zx, site, at=int(time.time()) - 3 * 3600)
    r = zx("update", "--all", "--check")
    assert r.rc == 0, r
    assert re.fullmatch(r"web: 1\.0 is current; feed signed 3 h ago\n", r.out), r
    assert r.err == ""
    status = zx("status", "web")
    assert re.search(r"^signed: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(3 h ago\)$", status.out, re.M), status
    assert status.err == ""

    config(zhome, '[trust]\nwarn_signature_age = "2h"\n')
    r = zx("update", "--all", "--check")
    assert r.rc == 0, r
    warning = (
        "0xl: warning: web: the feed was signed 3 h ago, longer ago than [trust] warn_signature_age (2 h): if the "
        "publisher signs it more often, a server may be holding back newer versions (a freeze attack)\n"
    )
    assert r.err == warning, r
    checked = json.loads(zx("update", "web", "--check", "--json").out)
    assert checked[0]["warning"] == warning.removeprefix("0xl: warning: web: ").rstrip("\n")
    assert abs(checked[0]["feed_signed"] - (time.time() - 3 * 3600)) < 120
    status = zx("status", "web")
    assert status.rc in (0, 12) and "0xl: warning: web: the feed was signed 3 h ago, longer ago" in status.err
