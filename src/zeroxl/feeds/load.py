"""From a feed URL to a verified, trusted, parsed feed — without saving anything yet.

The steps, each of which refuses rather than falls back: fetch (with limits), verify the signature
(fetching a missing key from beside the feed), check that it may be used now (key neither revoked
nor expired, signature neither expired, nor from the future, nor older than the host accepts),
decide trust for the URL's domain, check that the feed is not older than the one seen before
(replay), parse. The caller commits (`FeedLoader.commit`) only
when the whole command has succeeded, so that a failed `0xl add` records nothing, not even trust.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from zeroxl.errors import DownloadError
from zeroxl.feeds.cache import CachedFeed, FeedCache
from zeroxl.feeds.fetch import Fetcher, is_remote
from zeroxl.feeds.gpg import Gpg
from zeroxl.feeds.model import Feed
from zeroxl.feeds.parse import parse_feed
from zeroxl.feeds.signature import SigInfo, split_signed
from zeroxl.feeds.trust import (
    LOCAL_DOMAIN,
    TrustDB,
    UntrustedKey,
    check_not_replayed,
    check_signature,
    check_trusted,
    domain_of,
)
from zeroxl.feeds.verify import verify_feed
from zeroxl.host.config import Config
from zeroxl.host.paths import Home
from zeroxl.state.lock import locked


def trust_domain(url: str) -> str:
    return domain_of(url) if is_remote(url) else LOCAL_DOMAIN


@dataclass(frozen=True)
class UnknownKey:
    """What the user is shown before trusting a key."""

    fingerprint: str
    uids: tuple[str, ...]
    domain: str
    feed_url: str
    hints: tuple[tuple[str, str], ...] = ()  # (vote, message) from the configured key-info server


ConfirmFn = Callable[[UnknownKey], bool]


@dataclass(frozen=True)
class LoadedFeed:
    feed: Feed
    entry: CachedFeed
    new_trust: tuple[str, str] | None  # (fingerprint, domain) to record on commit
    changed: bool  # False when the server said 304 or sent the feed already cached


class FeedLoader:
    def __init__(self, home: Home, config: Config, fetcher: Fetcher) -> None:
        self.home = home
        self.config = config
        self.fetcher = fetcher
        self.cache = FeedCache(home.feeds)
        self._gpg: Gpg | None = None
        self._trust: tuple[tuple[int, int, int] | None, TrustDB] | None = None

    @property
    def gpg(self) -> Gpg:
        if self._gpg is None:
            self._gpg = Gpg(self.home.gnupg)
        return self._gpg

    def trustdb(self) -> TrustDB:
        return TrustDB.load(self.home.trustdb)

    def _current_trust(self) -> TrustDB:
        """The trust database as it is now, read again only when the file changed (every write replaces
        it: a new inode): `0xl update --all` decides trust once per feed."""
        try:
            st = self.home.trustdb.stat()
            key: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            key = None
        cached = self._trust
        if cached is None or cached[0] != key:
            cached = (key, self.trustdb())
            self._trust = cached
        return cached[1]

    def load(self, url: str, *, trust_key: str | None = None, confirm: ConfirmFn | None = None) -> LoadedFeed:
        # First, so that a URL whose site cannot be told (or trusted) is refused before anything is fetched.
        domain = trust_domain(url)
        cached = self.cache.load(url)
        fetched = self.fetcher.fetch(
            url,
            max_bytes=self.fetcher.config.max_feed_bytes,
            what="feed",
            etag=cached.etag if cached else None,
            last_modified=cached.last_modified if cached else None,
        )
        if fetched.data is None:
            if cached is None:
                raise DownloadError(f"feed {url}: the server answered 304 Not Modified to an unconditional request")
            data, etag, last_modified = cached.data, cached.etag, cached.last_modified
        else:
            data, etag, last_modified = fetched.data, fetched.etag, fetched.last_modified
        if cached is not None and data == cached.data:
            # Not modified (304, or the same bytes again): their signature was verified when they were
            # saved, and the cache is 0xl's own state, so gpg need not say so again (it is most of the
            # time `0xl update --all` takes over unchanged feeds). Trust is checked again below: it may
            # have been withdrawn since (`0xl trust remove`), and so are the signature's dates: it may
            # have expired or grown too old since.
            sig = SigInfo(cached.fingerprint, cached.fingerprint, cached.signed, expires=cached.expires)
        else:
            sig = verify_feed(data, feed_url=url, gpg=self.gpg, fetch_key=self._fetch_key, refresh=True)
        now = time.time()
        limits = self.config.signatures
        check_signature(sig, feed_url=url, now=now, limits=limits)
        new_trust = self._decide_trust(sig, domain, url, trust_key, confirm)
        check_not_replayed(sig.timestamp, cached.signed if cached else None, feed_url=url, now=now, limits=limits)
        signed_part, _ = split_signed(data)
        feed = parse_feed(signed_part, url=url, check_uri=is_remote(url))
        entry = CachedFeed(
            url=url,
            data=data,
            signed=sig.timestamp,
            fingerprint=sig.fingerprint,
            fetched=time.time(),
            etag=etag,
            last_modified=last_modified,
            expires=sig.expires,
        )
        changed = cached is None or cached.data != data
        return LoadedFeed(feed=feed, entry=entry, new_trust=new_trust, changed=changed)

    def cached_feed(self, url: str) -> Feed | None:
        """The feed as last verified, parsed, without any network; None if never fetched."""
        cached = self.cache.load(url)
        if cached is None:
            return None
        signed_part, _ = split_signed(cached.data)
        return parse_feed(signed_part, url=url, check_uri=is_remote(url))

    def commit(self, loaded: LoadedFeed) -> None:
        """Record what loading decided: the new trust (if any), then the feed for replay protection."""
        if loaded.new_trust is not None:
            fingerprint, domain = loaded.new_trust
            with locked(self.home.locks / "trust.lock", what="the trust database", wait=30):
                db = self.trustdb()
                db.add(fingerprint, domain)
                db.save(self.home.trustdb)
        self.cache.save(loaded.entry)

    def _fetch_key(self, key_url: str) -> bytes:
        fetched = self.fetcher.fetch(key_url, max_bytes=self.fetcher.config.max_key_bytes, what="key")
        if fetched.data is None:
            raise DownloadError(f"key {key_url}: the server answered 304 Not Modified to an unconditional request")
        return fetched.data

    def _decide_trust(
        self, sig: SigInfo, domain: str, url: str, trust_key: str | None, confirm: ConfirmFn | None
    ) -> tuple[str, str] | None:
        try:
            check_trusted(sig, domain, self._current_trust())
        except UntrustedKey:
            if trust_key is not None and trust_key == sig.fingerprint:
                return (sig.fingerprint, domain)
            if confirm is not None and trust_key is None and confirm(self.describe_key(sig, domain, url)):
                return (sig.fingerprint, domain)
            raise
        return None

    def describe_key(self, sig: SigInfo, domain: str, url: str) -> UnknownKey:
        info = self.gpg.key_info(sig.fingerprint)
        hints: tuple[tuple[str, str], ...] = ()
        if self.config.key_info_server:
            from zeroxl.feeds import keyinfo  # defusedxml for its answers: only when a server is configured

            hints = tuple(
                (h.vote, h.message) for h in keyinfo.lookup(self.config.key_info_server, sig.fingerprint, self.fetcher)
            )
        return UnknownKey(sig.fingerprint, tuple(info.uids), domain, url, hints)
