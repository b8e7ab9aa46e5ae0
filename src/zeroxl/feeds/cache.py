"""Verified feeds as last fetched: one JSON file per feed URL under ZEROXL_HOME/feeds.

The cache serves two purposes: replay protection (a newly fetched feed signed earlier than the cached
one is refused) and conditional requests (ETag / Last-Modified). Only feeds that passed verification
and trust are written here, and only once the command that fetched them has succeeded. The feed's
bytes and what is known about them live in one file, so one atomic write keeps them consistent.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from zeroxl.errors import StateError
from zeroxl.state import atomic

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
# File names are at most 255 bytes (NAME_MAX); the temporary file of an atomic write adds 14 more
# (`.NAME.XXXXXXXX.tmp`). An escaped URL longer than this gets a hashed name instead.
_MAX_ESCAPED = 200


def escape(url: str) -> str:
    """A file name for URL, reversible, as 0install escapes feed URLs for its cache (`%2f` for '/')."""
    return "".join(c if c in _SAFE else "".join(f"%{b:02x}" for b in c.encode()) for c in url)


def file_name(url: str) -> str:
    """The cache file of URL: its escaped form, as 0install names its cached feeds, or for a URL too long
    for that, `sha256=HEX` of the URL (escape never writes '=', so the two kinds of name cannot meet)."""
    escaped = escape(url)
    if len(escaped) <= _MAX_ESCAPED:
        return f"{escaped}.json"
    return f"sha256={hashlib.sha256(url.encode()).hexdigest()}.json"


@dataclass(frozen=True)
class CachedFeed:
    url: str
    data: bytes  # the whole signed feed, as fetched
    signed: int  # the signature's creation time (seconds since the epoch)
    fingerprint: str
    fetched: float
    etag: str | None = None
    last_modified: str | None = None
    expires: int | None = None  # when the signature expires, if it does: checked again on every use


class FeedCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, url: str) -> Path:
        return self.root / file_name(url)

    def load(self, url: str) -> CachedFeed | None:
        try:
            d = json.loads(self.path(url).read_bytes())
            entry = CachedFeed(
                url=d["url"],
                data=base64.b64decode(d["data"]),
                signed=int(d["signed"]),
                fingerprint=d["fingerprint"],
                fetched=float(d["fetched"]),
                etag=d.get("etag"),
                last_modified=d.get("last_modified"),
                expires=int(d["expires"]) if d.get("expires") is not None else None,
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as e:
            # Not "never seen": that would silently switch off the replay check for this feed.
            raise self._damaged(url, str(e)) from e
        if entry.url != url:  # a hashed name, or a file copied by hand
            raise self._damaged(url, f"it is the copy of {entry.url}")
        return entry

    def _damaged(self, url: str, problem: str) -> StateError:
        return StateError(
            f"the cached copy of feed {url} ({self.path(url)}) is damaged: {problem}",
            hint="remove that file to accept the feed as new",
        )

    def save(self, entry: CachedFeed) -> None:
        atomic.write_json(
            self.path(entry.url),
            {
                "url": entry.url,
                "data": base64.b64encode(entry.data).decode("ascii"),
                "signed": entry.signed,
                "fingerprint": entry.fingerprint,
                "fetched": entry.fetched,
                "etag": entry.etag,
                "last_modified": entry.last_modified,
                "expires": entry.expires,
            },
        )

    def forget(self, url: str) -> bool:
        """Remove the copy of URL (and with it the signature time the replay check compares against);
        False if there was none."""
        try:
            self.path(url).unlink()
        except FileNotFoundError:
            return False
        atomic.fsync_dir(self.root)
        return True
