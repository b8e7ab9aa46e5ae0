"""`0xl mirror FEED-URL… DIR`: a verified copy of feeds, their keys and archives, for hosts without
internet access.

The layout is the URLs themselves, so that mapping an origin to the mirror is a prefix substitution
(`feeds.mirrors`) and any static HTTP server, or the directory itself, can serve it:

    DIR/<host[:port]>/<path of the URL, percent-decoded>
    e.g. http://example.org:8080/feeds/web.xml   -> DIR/example.org:8080/feeds/web.xml
         http://example.org:8080/feeds/KEYID.gpg -> DIR/example.org:8080/feeds/KEYID.gpg

and a host uses it with `"http://example.org:8080/" = "<DIR or its URL>/example.org:8080/"` in
config.toml's `[mirrors]`.

Nothing enters the mirror unverified. The feed is loaded as `0xl add` loads it (signature, trust for
the origin's domain, `uri`, replay protection against the last copy this host saw); the key file must
hold exactly the key that signed; every implementation 0xl can fetch is downloaded and built from the
downloaded files through the mirror layout itself, and its digest checked. Files are staged inside DIR
and renamed into place, the feed last, so the mirror never lists an implementation it does not hold.
Files already in the mirror with the right size are reused, but checked like the others.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from zeroxl.errors import DownloadError, UsageError, VerificationError
from zeroxl.feeds.extract import rmtree
from zeroxl.feeds.fetch import Fetcher
from zeroxl.feeds.gpg import Gpg
from zeroxl.feeds.load import ConfirmFn, FeedLoader
from zeroxl.feeds.model import Implementation
from zeroxl.feeds.store import Store
from zeroxl.feeds.verify import key_url
from zeroxl.host.config import check_mirrors
from zeroxl.publish.check import downloads_of
from zeroxl.state import atomic
from zeroxl.state.lock import locked

_LOCK = ".0xl-mirror.lock"
_STAGING_PREFIX = ".0xl-mirror-"


@dataclass(frozen=True)
class Mirrored:
    url: str
    feed_file: Path
    key_file: Path
    versions: tuple[str, ...]  # of the implementations mirrored
    skipped: tuple[str, ...]  # implementations 0xl cannot fetch or verify, so not mirrored
    origins: tuple[str, ...]  # "scheme://host[:port]/" of the feed and its archives
    downloaded: int  # bytes fetched from the origin this time


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def _host(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2]


def mirror_path(root: Path, url: str) -> Path:
    """Where the document at URL lives in a mirror at ROOT."""
    parts = urlsplit(url)
    host = _host(url)
    segments = unquote(parts.path).split("/")[1:]
    if (
        parts.scheme not in ("http", "https")
        or not host
        or parts.query
        or parts.fragment
        or not segments
        or any(s in ("", ".", "..") or "\0" in s for s in segments)
    ):
        raise VerificationError(f"cannot mirror {url}: only http(s) URLs of plain file paths fit a mirror")
    return root.joinpath(host, *segments)


def mirror_feed(
    url: str,
    dest: Path,
    *,
    loader: FeedLoader,
    fetcher: Fetcher,
    trust_key: str | None = None,
    confirm: ConfirmFn | None = None,
) -> Mirrored:
    """Copy the feed at URL, its key and its implementations into the mirror at DEST, verified."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"cannot mirror {url!r}: a mirror holds feeds published at http(s) URLs")
    mirror_path(dest, url)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the mirror directory {dest}: {e.strerror}") from e
    with locked(dest / _LOCK, what=f"the mirror {dest}"), _staging(dest) as staging:
        loaded = loader.load(url, trust_key=trust_key, confirm=confirm)
        fingerprint = loaded.entry.fingerprint
        key_href = key_url(url, fingerprint[-16:])
        key = fetcher.fetch(key_href, max_bytes=fetcher.config.max_key_bytes, what="key").data
        if key is None:  # pragma: no cover - only a conditional request can get 304
            raise DownloadError(f"key {key_href}: unexpected 304 Not Modified")
        # A host that has never seen the key imports this file: it must hold that key and nothing else.
        Gpg(staging / "gnupg").import_key(key, fingerprint, source=f"the key file {key_href}")
        copier = _Copier(dest, staging, fetcher)
        versions, skipped = [], []
        for impl in loaded.feed.implementations:
            if impl.sha256new is None or not downloads_of(impl):
                skipped.append(f"{impl.version} ({impl.arch})")
                continue
            copier.add(impl)
            versions.append(str(impl.version))
        copier.publish()
        key_file = mirror_path(dest, key_href)
        feed_file = mirror_path(dest, url)
        _write(key_file, key)
        _write(feed_file, loaded.entry.data)  # last: from now on the mirror offers this feed
        loader.commit(loaded)
    origins = sorted({origin_of(url), *(origin_of(href) for href in copier.hrefs)})
    return Mirrored(url, feed_file, key_file, tuple(versions), tuple(skipped), tuple(origins), copier.downloaded)


class _Copier:
    """Downloads implementations into a staging copy of the mirror, checks them, then moves them in."""

    def __init__(self, dest: Path, staging: Path, fetcher: Fetcher) -> None:
        self.dest = dest
        self.tree = staging / "tree"
        self.work = staging / "work"
        self.fetcher = fetcher
        self.hrefs: list[str] = []
        self.downloaded = 0

    def add(self, impl: Implementation) -> None:
        downloads = downloads_of(impl)
        reused = [href for href, size in downloads if self._stage(href, size, reuse=True)]
        try:
            self._verify(impl, downloads)
        except VerificationError:
            if not reused:
                raise
            # A file already in the mirror was not what the feed says: fetch it again from the origin.
            for href in reused:
                mirror_path(self.tree, href).unlink()
            for href, size in downloads:
                self._stage(href, size, reuse=False)
            self._verify(impl, downloads)
        self.hrefs.extend(href for href, _ in downloads if href not in self.hrefs)

    def _stage(self, href: str, size: int, *, reuse: bool) -> bool:
        """Put HREF into the staging tree; True if the copy already in the mirror was taken."""
        staged = mirror_path(self.tree, href)
        if staged.exists():
            return False
        staged.parent.mkdir(parents=True, exist_ok=True)
        existing = mirror_path(self.dest, href)
        if reuse and existing.is_file() and not existing.is_symlink() and existing.stat().st_size == size:
            os.link(existing, staged)
            return True
        with staged.open("wb") as out:
            self.fetcher.download(href, out, size=size, what="archive")
        self.downloaded += size
        return False

    def _verify(self, impl: Implementation, downloads: list[tuple[str, int]]) -> None:
        """Build IMPL from the staged files, through the mirror layout a host will use, in a scratch store."""
        origins = {origin_of(href) for href, _ in downloads}
        mirrors = check_mirrors({o: f"{self.tree / _host(o)}/" for o in origins})
        work = Path(tempfile.mkdtemp(prefix="verify-", dir=self.work))
        try:
            with Fetcher(self.fetcher.config, mirrors=mirrors) as local:
                Store(work / "store", work / "tmp").ensure(impl, local)
        finally:
            rmtree(work)

    def publish(self) -> None:
        """Move every staged file to its place in the mirror (a rename each: no half-written file)."""
        for href in self.hrefs:
            staged, final = mirror_path(self.tree, href), mirror_path(self.dest, href)
            final.parent.mkdir(parents=True, exist_ok=True)
            staged.replace(final)
            atomic.fsync_dir(final.parent)


def _write(path: Path, data: bytes) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.read_bytes() == data:
            return
    atomic.write_bytes(path, data, mode=0o644)  # served by a web server


@contextlib.contextmanager
def _staging(dest: Path) -> Iterator[Path]:
    """A scratch directory inside DEST (so that files are renamed, not copied, into the mirror)."""
    staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=dest))
    (staging / "work").mkdir()
    try:
        yield staging
    finally:
        rmtree(staging)
