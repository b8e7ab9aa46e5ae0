"""Revoked keys, expired keys, expired signatures and signatures from the future are refused by add,
update and mirror (feeds.load) and by feed check alike: one decision, feeds.trust.check_signature.

0install accepts all of them (it reads only gpg's VALIDSIG, which gpg still gives next to REVKEYSIG,
EXPKEYSIG and EXPSIG). The keys are real, made in the test; they are revoked with the certificate gpg
made for them, and expired with a new self-signature (gpg --quick-set-expire) dated in the past.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.gpgkeys import Publisher, make_publisher
from tests.support.http import StaticServer
from tests.support.updating import FAST, add_running, publish, serves
from tests.support.zx import snapshot


@pytest.fixture
def pub(tmp_path: Path) -> Iterator[Publisher]:
    """A key of this test's own, since the tests revoke or expire it."""
    p = make_publisher(tmp_path / "publisher", "Key Owner", "owner@example.org")
    try:
        yield p
    finally:
        subprocess.run(["gpgconf", "--homedir", str(p.gnupghome), "--kill", "gpg-agent"], check=False)


@pytest.fixture
def psite(server: StaticServer, pub: Publisher) -> FeedSite:
    return FeedSite(server.root, server.url, pub)


NOW = int(time.time())


def revoked(site: FeedSite) -> None:
    site.publish("web", [Impl("1.0")], at=NOW - 600)  # signed while the key was good
    site.publisher.revoke()
    site.publisher.publish_key(site.root)


def key_expired(site: FeedSite) -> None:
    site.publish("web", [Impl("1.0")], at=NOW - 600)
    site.publisher.expire(NOW - 240)
    site.publisher.publish_key(site.root)


def signature_expired(site: FeedSite) -> None:
    site.publish("web", [Impl("1.0")], at=NOW - 7200, expires=3600)


def from_the_future(site: FeedSite) -> None:
    site.publish("web", [Impl("1.0")], at=NOW + 86400)


CASES: list[tuple[Callable[[FeedSite], None], str]] = [
    (revoked, "which has been revoked"),
    (key_expired, f"which expired on {time.strftime('%Y-%m-%d %H:%M', time.gmtime(NOW - 240))}"),
    (signature_expired, f"expired on {time.strftime('%Y-%m-%d %H:%M', time.gmtime(NOW - 3600))}"),
    (from_the_future, "ahead of this host's clock"),
]


@pytest.mark.parametrize(("make", "words"), CASES, ids=[make.__name__ for make, _ in CASES])
def test_add_and_feed_check_refuse_it_alike(
    psite: FeedSite, zx, zhome: Path, make: Callable[[FeedSite], None], words: str
) -> None:
    make(psite)
    before = snapshot(zhome)

    r = zx("add", "web", psite.url("web"), "--trust-key", psite.publisher.fingerprint)

    assert r.rc == 4, r
    assert r.err.startswith(f"0xl: error: the {'signature of the ' if 'signature' in make.__name__ else ''}feed")
    assert words in r.err, r
    assert snapshot(zhome) == before, "a refused add changed ZEROXL_HOME"
    check = zx("feed", "check", psite.url("web"))
    assert check.rc == 4, check
    assert f"FAIL  signature  good, by {psite.publisher.fingerprint}" in check.out and words in check.out, check


def test_update_refuses_a_feed_whose_key_was_revoked_since(psite: FeedSite, zx, zhome: Path) -> None:
    # A key in the wrong hands signs a new version; its owner revokes it and publishes the revocation
    # beside the feed, where 0xl fetches the key again whenever it verifies a feed that changed.
    port = add_running(zx, psite, "web", [Impl("1.0")], at=NOW - 1200)
    publish(psite, "web", [Impl("1.0"), Impl("2.0")], at=NOW - 600)
    psite.publisher.revoke()
    psite.publisher.publish_key(psite.root)
    before = snapshot(zhome)

    r = zx("update", "web", *FAST)

    assert r.rc == 4, r
    assert f"is signed by key {psite.publisher.fingerprint}, which has been revoked" in r.err, r
    assert "web: not updated, still 1.0" in r.out
    assert snapshot(zhome) == before
    assert serves(port, "1.0")


def test_update_refuses_an_expired_key_until_the_publisher_extends_it(psite: FeedSite, zx, zhome: Path) -> None:
    port = add_running(zx, psite, "web", [Impl("1.0")], at=NOW - 1200)
    publish(psite, "web", [Impl("1.0"), Impl("2.0")], at=NOW - 600)
    psite.publisher.expire(NOW - 240)
    psite.publisher.publish_key(psite.root)
    before = snapshot(zhome)

    r = zx("update", "web", *FAST)

    assert r.rc == 4, r
    assert "which expired on" in r.err and f"{psite.publisher.keyid}.gpg" in r.err, r  # the hint says where
    assert snapshot(zhome) == before
    assert serves(port, "1.0")

    # The owner extends the key and publishes it again: 0xl, finding its copy expired, fetches it again.
    psite.publisher.gpg("--quick-set-expire", psite.publisher.fingerprint, "1y")
    psite.publisher.publish_key(psite.root)
    r = zx("update", "web", *FAST)
    assert r.rc == 0, r
    assert "web: updated 1.0 -> 2.0" in r.out
    assert serves(port, "2.0")


def test_update_refuses_a_new_feed_with_an_expired_signature(psite: FeedSite, zx, zhome: Path) -> None:
    port = add_running(zx, psite, "web", [Impl("1.0")], at=NOW - 7200)
    publish(psite, "web", [Impl("1.0"), Impl("2.0")], at=NOW - 3600, expires=60)
    before = snapshot(zhome)

    r = zx("update", "web", *FAST)

    assert r.rc == 4, r
    assert "the signature of the feed" in r.err and "expired on" in r.err, r
    assert snapshot(zhome) == before
    assert serves(port, "1.0")
