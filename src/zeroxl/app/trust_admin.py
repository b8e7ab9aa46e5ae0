"""`0xl trust add/list/remove`: the trust database, edited under its lock; `0xl trust forget-feed`:
the copy of a feed that replay protection compares new ones against."""

from __future__ import annotations

from zeroxl.app.context import Context
from zeroxl.errors import NotFoundError
from zeroxl.feeds.cache import CachedFeed, FeedCache
from zeroxl.feeds.trust import TrustDB, check_domain, normalise_fingerprint
from zeroxl.state.lock import locked


def trust_add(ctx: Context, fingerprint: str, domain: str) -> tuple[str, str]:
    home = ctx.home
    fpr = normalise_fingerprint(fingerprint)
    check_domain(domain)
    with locked(home.locks / "trust.lock", what="the trust database", wait=30):
        db = TrustDB.load(home.trustdb)
        db.add(fpr, domain)
        db.save(home.trustdb)
    return fpr, domain


def trust_list(ctx: Context) -> list[tuple[str, list[str]]]:
    home = ctx.home
    return [(fpr, list(domains)) for fpr, domains in TrustDB.load(home.trustdb).entries()]


def trust_remove(ctx: Context, fingerprint: str, domain: str | None) -> str:
    home = ctx.home
    fpr = normalise_fingerprint(fingerprint)
    if domain is not None:
        check_domain(domain)
    with locked(home.locks / "trust.lock", what="the trust database", wait=30):
        db = TrustDB.load(home.trustdb)
        if not db.remove(fpr, domain):
            where = f" for {domain}" if domain else ""
            raise NotFoundError(f"key {fpr} is not trusted{where}", hint="see 0xl trust list")
        db.save(home.trustdb)
    return fpr


def feed_copy(ctx: Context, url: str) -> CachedFeed:
    """The copy of the feed at URL that 0xl verified last; NotFoundError if it has none."""
    home = ctx.home
    cached = FeedCache(home.feeds).load(url)
    if cached is None:
        raise NotFoundError(
            f"0xl has no copy of the feed {url}",
            hint="write the feed URL exactly as the service has it (0xl status NAME shows it)",
        )
    return cached


def forget_feed(ctx: Context, url: str) -> None:
    """Forget the copy of URL, and with it the signature time the next copy must not be older than.

    The way out for a copy dated in the future, taken before 0xl refused such dates, which makes every
    real update look like a replay. The next fetch is verified like a first one (signature, dates,
    trust); replay protection starts again from what it brings.
    """
    home = ctx.home
    with locked(home.locks / "trust.lock", what="the trust database", wait=30):
        if not FeedCache(home.feeds).forget(url):
            raise NotFoundError(f"0xl has no copy of the feed {url}")
