"""Signatures from the future: a feed dated ahead of this host's clock by more than [trust]
max_clock_skew is refused, since recorded as the newest it would make every real update look like a
replay; and a copy 0xl took before it checked (or under a looser setting) can be forgotten, after a
confirmation, with `0xl trust forget-feed`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.support.feeds import FeedSite, Impl
from tests.support.terminal import run_on_terminal
from tests.support.updating import publish, record
from tests.support.zx import snapshot

DAY = 86400


def add(zx, site: FeedSite, *, at: int | None = None) -> str:
    url = publish(site, "web", [Impl("1.0")], at=at)
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 0, r
    return url


def test_a_feed_signed_tomorrow_is_refused_unless_the_host_allows_that_much_skew(
    site: FeedSite, zx, zhome: Path
) -> None:
    url = publish(site, "web", [Impl("1.0")], at=int(time.time()) + DAY)
    before = snapshot(zhome)
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 4, r
    assert "ahead of this host's clock" in r.err and "at most 5 min is allowed" in r.err, r
    assert "[trust] max_clock_skew" in r.err  # the hint names the setting
    assert snapshot(zhome) == before

    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text('[trust]\nmax_clock_skew = "2d"\n')
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 0, r


def test_a_copy_dated_in_the_future_blocks_updates_until_it_is_forgotten(site: FeedSite, zx, zhome: Path) -> None:
    # As before this check existed: 0xl took a feed signed a year ahead (here, under a loose setting).
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text('[trust]\nmax_clock_skew = "400d"\n')
    url = add(zx, site, at=int(time.time()) + 365 * DAY)
    (zhome / "config.toml").unlink()

    status = zx("status", "web")
    assert "in the future" in status.out and "0xl trust forget-feed" in status.err, status
    publish(site, "web", [Impl("1.0"), Impl("2.0")])  # the publisher's real next release, signed now
    before = snapshot(zhome)
    r = zx("update", "web")
    assert r.rc == 4, r
    assert "before the copy 0xl already has" in r.err
    assert (
        f"the copy 0xl has is dated in the future, which 0xl accepted before it checked signature dates: "
        f"if the publisher confirms the feed served now, forget that copy with: 0xl trust forget-feed {url}" in r.err
    )
    assert snapshot(zhome) == before

    # Without a terminal, forgetting needs --yes; on a terminal it asks, and "no" keeps the copy.
    r = zx("trust", "forget-feed", url)
    assert r.rc == 2 and "needs a confirmation" in r.err and "--yes" in r.err, r
    rc, screen = run_on_terminal(["trust", "forget-feed", url], zhome, b"n\n")
    assert rc == 0 and "That date is in the future." in screen and "nothing was forgotten" in screen, screen
    assert snapshot(zhome) == before
    rc, screen = run_on_terminal(["trust", "forget-feed", url], zhome, b"y\n")
    assert rc == 0, screen

    r = zx("update", "web")
    assert r.rc == 0, r
    assert "web: updated 1.0 -> 2.0" in r.out
    assert json.loads(zx("status", "web", "--json").out)["feed_signature"]["warning"] is None
    assert record(zhome, "web")["current"]["version"] == "2.0"


def test_forgetting_takes_yes_for_an_answer_and_a_feed_0xl_has(site: FeedSite, zx, zhome: Path) -> None:
    url = add(zx, site)
    r = zx("trust", "forget-feed", url + "x", "--yes")
    assert r.rc == 3 and f"0xl has no copy of the feed {url}x" in r.err, r
    r = zx("trust", "forget-feed", url, "--yes")
    assert r.rc == 0, r
    assert f"forgot the copy of {url}, signed " in r.out
    assert not list((zhome / "feeds").iterdir())
