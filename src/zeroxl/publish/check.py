"""`0xl feed check`: would a host accept this feed, and every implementation in it?

The feed (a local file or a URL) is checked as a host checks it, with the same code: the signature
block and the signature, with a keyring that holds nothing but the key published beside the feed; the
XML, the `uri` (which must be the URL it was fetched from) and the service needs; then every
implementation is downloaded, unpacked and its size and digest compared with the feed's, in a
temporary store. A local feed's archives are read from beside it instead, where the publisher's
site holds them before upload (`_path_beside_feed`), through the same store code; `download=True`
fetches them from their URLs, as for a feed given by URL. Trust is not checked: which keys a host
trusts is the host's business, but `--key` says which key must have signed. Whether the signature
may be used now (revoked or expired key, expired, future or too old signature) is decided as a host
decides it (`trust.check_signature`), with the host's limits. Each check gives a finding; any failed
one makes the report fail.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from zeroxl.errors import DownloadError, ExitStatus, VerificationError, ZeroxlError
from zeroxl.feeds.fetch import Fetcher, is_remote, local_path
from zeroxl.feeds.gpg import Gpg
from zeroxl.feeds.model import Archive, Feed, FileSource, Implementation, Recipe, Stability, Step
from zeroxl.feeds.parse import parse_feed
from zeroxl.feeds.signature import split_signed
from zeroxl.feeds.store import Store, usable_retrieval
from zeroxl.feeds.trust import check_signature, normalise_fingerprint
from zeroxl.feeds.verify import verify_feed
from zeroxl.host.config import SignatureLimits


@dataclass(frozen=True)
class Finding:
    subject: str  # "signature", "feed", or "VERSION ARCH" of an implementation
    ok: bool
    detail: str
    status: int = ExitStatus.OK  # of a failed check: what `0xl feed check` exits with
    source: str | None = None  # of an implementation: "local" (files beside the feed) or "url"
    checked: tuple[str, ...] = ()  # of an implementation: the files or URLs read, in order

    def to_json(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "ok": self.ok,
            "detail": self.detail,
            "status": int(self.status),
            "source": self.source,
            "checked": list(self.checked),
        }


@dataclass(frozen=True)
class Report:
    location: str
    findings: tuple[Finding, ...]
    warnings: tuple[str, ...] = ()  # what a host would not fail on, but likely not what was meant

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    @property
    def status(self) -> int:
        """The status of the first problem, or OK."""
        return next((f.status for f in self.problems), ExitStatus.OK)


def check_feed(
    location: str,
    *,
    fetcher: Fetcher,
    key: str | None = None,
    limits: SignatureLimits | None = None,
    download: bool = False,
) -> Report:
    """Check the feed at LOCATION; a local one's archives beside it, unless DOWNLOAD."""
    url = _absolute(location)
    expected = normalise_fingerprint(key) if key else None
    fetched = fetcher.fetch(url, max_bytes=fetcher.config.max_feed_bytes, what="feed").data
    if fetched is None:  # pragma: no cover - only a conditional request can get 304
        raise DownloadError(f"feed {url}: the server answered 304 Not Modified to an unconditional request")
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="0xl-check-") as tmp:
        work = Path(tmp)
        findings.append(
            _signature(
                fetched, url, Gpg(work / "gnupg"), fetcher, expected=expected, limits=limits or SignatureLimits()
            )
        )
        feed = _parse(fetched, url, findings)
        if feed is not None:
            store = Store(work / "store", work / "tmp")
            local = None if download or is_remote(url) else _shown_directory(location)
            for impl in feed.implementations:
                if local is None:
                    findings.append(_implementation(impl, store, fetcher))
                else:
                    findings.append(
                        _local_implementation(
                            impl, store, fetcher, uri=feed.url, directory=Path(url).parent, shown=local
                        )
                    )
    return Report(url, tuple(findings), _warnings(feed))


def _warnings(feed: Feed | None) -> tuple[str, ...]:
    if feed is None or not feed.implementations:
        return ()
    if all(impl.stability < Stability.STABLE for impl in feed.implementations):
        return (
            "no implementation is stable: hosts on the stable channel (the default) pick none of them; "
            "promote one with 0xl feed set-stability FEED.xml VERSION stable",
        )
    return ()


def _absolute(location: str) -> str:
    """A URL as it is; a local feed (a path, relative or not, or a file:// URL) as an absolute path, so
    that the key beside it is found where 0install would look for it."""
    if is_remote(location):
        return location
    if location.startswith("file://"):
        return str(local_path(location))
    return str(Path(location).resolve())


def _signature(
    data: bytes, url: str, gpg: Gpg, fetcher: Fetcher, *, expected: str | None, limits: SignatureLimits
) -> Finding:
    def fetch_key(key_url: str) -> bytes:
        got = fetcher.fetch(key_url, max_bytes=fetcher.config.max_key_bytes, what="key").data
        if got is None:  # pragma: no cover - only a conditional request can get 304
            raise DownloadError(f"key {key_url}: unexpected 304 Not Modified")
        return got

    try:
        sig = verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key)
    except ZeroxlError as e:
        return Finding("signature", False, e.message, e.exit_status)
    uids = gpg.key_info(sig.fingerprint).uids
    detail = f"good, by {sig.fingerprint}" + (f" ({uids[0]})" if uids else "") + f", made {_utc(sig.timestamp)}"
    if sig.expires is not None:
        detail += f", expires {_utc(sig.expires)}"
    try:
        check_signature(sig, feed_url=url, now=time.time(), limits=limits)
    except VerificationError as e:
        return Finding("signature", False, f"{detail}; refused: {e.message}", e.exit_status)
    if expected is not None and sig.fingerprint != expected:
        return Finding("signature", False, f"{detail}; expected a signature by {expected}", ExitStatus.REFUSED)
    return Finding("signature", True, detail)


def _utc(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _parse(data: bytes, url: str, findings: list[Finding]) -> Feed | None:
    try:
        signed = split_signed(data)[0]
    except VerificationError:
        signed = data  # already reported with the signature; the XML can still be checked
    try:
        feed = parse_feed(signed, url=url, check_uri=is_remote(url))
    except ZeroxlError as e:
        findings.append(Finding("feed", False, e.message, e.exit_status))
        return None
    count = len(feed.implementations)
    detail = f"{feed.name}: {count} implementation{'s' if count != 1 else ''}, uri {feed.url}"
    if not is_remote(feed.url):
        findings.append(Finding("feed", False, f"{detail}: a published feed needs an http(s) uri", ExitStatus.REFUSED))
    else:
        findings.append(Finding("feed", True, detail))
    return feed


def _implementation(
    impl: Implementation, store: Store, fetcher: Fetcher, *, local: tuple[str, ...] | None = None
) -> Finding:
    """IMPL fetched into STORE and checked there; LOCAL: the files beside the feed FETCHER reads instead."""
    subject = f"{impl.version} {impl.arch}"
    downloads = downloads_of(impl)
    checked = local if local is not None else tuple(href for href, _ in downloads)
    source = "local" if local is not None else "url"
    listed = ("local " if local is not None else "") + ", ".join(checked)
    try:
        store.ensure(impl, fetcher)
    except ZeroxlError as e:
        # A store's message may not say which file it read: a publisher must see it was the local one.
        detail = e.message if local is None else f"{listed}: {e.message}"
        return Finding(subject, False, detail, e.exit_status, source, checked)
    size = sum(size for _, size in downloads)
    detail = f"{listed}: {size} bytes, digest sha256new_{impl.sha256new} as declared"
    return Finding(subject, True, detail, source=source, checked=checked)


def _local_implementation(
    impl: Implementation, store: Store, fetcher: Fetcher, *, uri: str, directory: Path, shown: Path
) -> Finding:
    """IMPL checked from the files beside the feed: the store reads them through a fetcher whose only
    mirrors map each href to its local file, so size, digest and unpacking limits are checked by the
    code that checks a download."""
    subject = f"{impl.version} {impl.arch}"
    places: dict[str, str] = {}
    checked: list[str] = []
    for href, _ in downloads_of(impl):
        relative = _path_beside_feed(href, uri)
        if relative is None:
            return Finding(
                subject, False, f"{href} names no file to look for beside the feed", ExitStatus.NOT_FOUND, "local"
            )
        if not (directory / relative).is_file():
            return Finding(
                subject,
                False,
                f"{shown / relative} is missing: the feed's archive {href} is checked beside the feed "
                f"(put it there, or check the copies at their URLs with --download)",
                ExitStatus.NOT_FOUND,
                "local",
                (str(shown / relative),),
            )
        places[href] = str(directory / relative)
        checked.append(str(shown / relative))
    beside = Fetcher(fetcher.config, mirrors=places, proxies=fetcher.proxies)
    return _implementation(impl, store, beside, local=tuple(checked))


def _path_beside_feed(href: str, uri: str) -> Path | None:
    """Where HREF is in the publisher's directory of a feed served at URI, relative to the feed: its path
    below the feed's URL directory if it is served from there (the site laid out as served), else its
    file name (`feed add --href` elsewhere). None if it names no file."""
    base = uri.rsplit("/", 1)[0] + "/"
    parts = urlsplit(href)
    if href.startswith(base) and not parts.query and not parts.fragment:
        segments = unquote(href[len(base) :]).split("/")
        if all(s not in ("", ".", "..") and "\0" not in s for s in segments):
            return Path(*segments)
    name = unquote(parts.path.rsplit("/", 1)[-1])
    if name in ("", ".", "..") or "\0" in name:
        return None
    return Path(name)


def _shown_directory(location: str) -> Path:
    """The feed's directory as the publisher named it (`site`), for the report."""
    if location.startswith("file://"):
        return local_path(location).parent
    return Path(os.path.normpath(location)).parent


def downloads_of(impl: Implementation) -> list[tuple[str, int]]:
    """(href, bytes to download) of what a host downloads for IMPL, in the order it does."""
    retrieval = usable_retrieval(impl)
    steps: tuple[Step, ...] = (
        () if retrieval is None else retrieval.steps if isinstance(retrieval, Recipe) else (retrieval,)
    )
    found: list[tuple[str, int]] = []
    for step in steps:
        if isinstance(step, Archive):
            # A host downloads the skipped prefix too (feeds.store, as 0install's fetch.ml).
            found.append((step.href, step.size + step.start_offset))
        elif isinstance(step, FileSource):
            found.append((step.href, step.size))
    return found
