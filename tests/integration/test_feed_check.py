"""`0xl feed check` on feeds published by a third party: signed with plain gpg in 0install's format
(tests/support/feeds.py), digests from the real 0install. A good one passes; each kind of damage fails
with the status documented for it, and the report names what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.feeds import FeedSite, Impl, forged_same_size
from tests.support.gpgkeys import Publisher
from tests.support.http import StaticServer


def report(zxi, *args: str) -> tuple[int, dict]:
    r = zxi("feed", "check", *args, "--json")
    return r.rc, json.loads(r.out)


def failed(findings: dict) -> dict[str, str]:
    return {f["subject"]: f["detail"] for f in findings["findings"] if not f["ok"]}


def test_a_third_party_feed_signed_with_plain_gpg_passes(site: FeedSite, zxi) -> None:
    url = site.publish("web", [Impl("1.0"), Impl("1.1", arch="Linux-x86_64", stability="testing")])

    r = zxi("feed", "check", url, "--key", site.publisher.fingerprint)

    assert r.rc == 0, r
    lines = [" ".join(ln.split()) for ln in r.out.splitlines()]
    assert lines[0] == f"checking {url}"
    assert lines[1].startswith(f"ok signature good, by {site.publisher.fingerprint} (Test Publisher <pub@example.org>)")
    assert lines[2] == f"ok feed web: 2 implementations, uri {url}"
    assert lines[3].startswith("ok 1.0 *-* http://") and lines[4].startswith("ok 1.1 Linux-x86_64 http://")
    assert lines[-1] == "all checks passed"


def test_a_local_copy_of_the_feed_is_checked_with_the_key_beside_it(site: FeedSite, server: StaticServer, zxi) -> None:
    impl = Impl("1.0")
    site.publish("web", [impl])
    server.requests.clear()

    rc, findings = report(zxi, str(site.root / "web.xml"))

    assert rc == 0 and failed(findings) == {}, findings
    # Its archive is read where the site holds it: the href's path below the feed's URL directory.
    local = str(site.root / "archives" / impl.href.rsplit("/", 1)[1])
    checked = findings["findings"][2]
    assert (checked["source"], checked["checked"]) == ("local", [local]), checked
    assert not any(r.startswith("/archives/") for r in server.requests), server.requests


def test_a_feed_edited_after_signing_fails(site: FeedSite, zxi) -> None:
    url = site.publish("web", [Impl("1.0")])
    path = site.root / "web.xml"
    path.write_bytes(path.read_bytes().replace(b"web test service", b"web evil service"))

    rc, findings = report(zxi, url)

    assert rc == 4
    assert "modified after signing" in failed(findings)["signature"]


def test_an_archive_replaced_on_the_server_fails(site: FeedSite, zxi) -> None:
    good, bad = Impl("1.0"), Impl("1.1")
    url = site.publish("web", [good, bad])
    archive = site.root / "archives" / bad.href.rsplit("/", 1)[1]
    data = archive.read_bytes()

    archive.write_bytes(forged_same_size(data))  # sound, of the size the feed says: only the digest tells
    rc, findings = report(zxi, url)
    assert rc == 4 and set(failed(findings)) == {"1.1 *-*"}, findings
    assert "do not have the digest the feed gives" in failed(findings)["1.1 *-*"], findings

    middle = len(data) // 2
    archive.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])  # same size, damaged
    rc, findings = report(zxi, url)
    assert rc == 4 and set(failed(findings)) == {"1.1 *-*"}, findings

    archive.write_bytes(data + b"more")  # another size
    rc, findings = report(zxi, url)
    assert rc == 4 and "the feed says" in failed(findings)["1.1 *-*"], findings

    archive.unlink()
    rc, findings = report(zxi, url)
    assert rc == 5 and "HTTP 404" in failed(findings)["1.1 *-*"], findings


def test_a_feed_signed_by_another_key_than_expected_fails(site: FeedSite, zxi, other_publisher: Publisher) -> None:
    url = site.publish("web", [Impl("1.0")], signer=other_publisher)
    rc, findings = report(zxi, url, "--key", site.publisher.fingerprint)
    assert rc == 4 and f"expected a signature by {site.publisher.fingerprint}" in failed(findings)["signature"]


def test_an_unsigned_feed_or_one_served_at_another_url_fails(site: FeedSite, zxi) -> None:
    site.feed_xml("web", [Impl("1.0")])
    (site.root / "plain.xml").write_bytes(site.feed_xml("plain", [Impl("1.0")]))
    rc, findings = report(zxi, site.url("plain"))
    assert rc == 4 and "no signature block" in failed(findings)["signature"], findings

    site.publish("web", [Impl("1.0")])
    (site.root / "copy.xml").write_bytes((site.root / "web.xml").read_bytes())
    rc, findings = report(zxi, site.url("copy"))
    assert rc == 4 and "URL mismatch" in failed(findings)["feed"], findings


def test_a_feed_that_cannot_be_fetched_is_a_download_error(zxi, tmp_path: Path) -> None:
    r = zxi("feed", "check", str(tmp_path / "nosuch.xml"))
    assert r.rc == 5 and "cannot read feed" in r.err, r


def test_a_feed_with_no_stable_implementation_is_warned_about(site: FeedSite, zxi) -> None:
    # A first feed is testing by default, and the stable channel (the default) then picks nothing.
    url = site.publish("web", [Impl("1.0", stability="testing")])
    r = zxi("feed", "check", url)
    assert r.rc == 0, r
    assert "0xl: warning: no implementation is stable: hosts on the stable channel (the default) pick none" in r.err
    rc, findings = report(zxi, url)
    assert rc == 0 and findings["warnings"][0].startswith("no implementation is stable"), findings
    url = site.publish("web", [Impl("1.0", stability="testing"), Impl("2.0")])
    r = zxi("feed", "check", url)
    assert r.rc == 0 and "warning" not in r.err, r
