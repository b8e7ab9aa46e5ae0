"""The one fetcher: feeds, keys and archives over http(s) or from local paths, with limits.

Limits live in one frozen `FetchConfig`. A download never reads more than its limit (a feed's maximum
size, an archive's declared size) and a server that sends more, or less, is an error. Redirects are
bounded and may not go from https to http. No host is contacted but the one in the URL (and the hosts
it redirects to), or, for a URL under an origin the host's config.toml maps to a mirror, that mirror
alone (`feeds.mirrors`): there is no built-in mirror or lookup service. Callers always name the origin
URL; verifying what came back is theirs to do, and is the same whichever place served it.

HTTP proxies are the host's (`host.proxies`: `[fetch] proxy`, else `https_proxy`/`http_proxy`/
`all_proxy`/`no_proxy`): they carry the bytes, and change none of the checks.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import unquote, urlsplit

from zeroxl.errors import DownloadError, VerificationError
from zeroxl.feeds.mirrors import mirrored
from zeroxl.host.proxies import Proxies, from_environment, shown
from zeroxl.host.units import whole_number

if TYPE_CHECKING:
    import httpx

CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchConfig:
    max_feed_bytes: int = 4 << 20
    max_key_bytes: int = 256 << 10
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # A server can keep each read within read_timeout and still never finish, a byte at a time: a
    # feed or key must arrive whole within document_timeout, and a download (of any size, over any
    # link) is given up when it moves slower than min_speed bytes/s for speed_time seconds, as
    # curl's --speed-limit/--speed-time do.
    document_timeout: float = 120.0
    min_speed: int = 1024
    speed_time: float = 60.0
    max_redirects: int = 5
    user_agent: str = "0xl/0.1"


@dataclass(frozen=True)
class Fetched:
    """A fetched document, or `data is None` when the server said it has not changed (HTTP 304)."""

    data: bytes | None
    etag: str | None = None
    last_modified: str | None = None


def is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def local_path(url: str) -> Path:
    """The file a local feed or archive location names: an absolute path or a file:// URL."""
    if url.startswith("file://"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise DownloadError(f"cannot fetch {url}: file URLs must name a local file")
        return Path(unquote(parts.path))
    path = Path(url)
    if not path.is_absolute():
        raise DownloadError(f"cannot fetch {url!r}: expected an http(s) URL or an absolute path")
    return path


ProgressFn = Callable[[int], None]


class Fetcher:
    def __init__(
        self,
        config: FetchConfig | None = None,
        *,
        mirrors: Mapping[str, str] | None = None,
        proxies: Proxies | None = None,
    ) -> None:
        """MIRRORS maps origin prefixes to mirror locations, as checked by `host.config.check_mirrors`;
        PROXIES says which URLs go through which proxy (None: as the environment says)."""
        self.config = config or FetchConfig()
        self.mirrors = dict(mirrors or {})
        self.proxies = proxies if proxies is not None else from_environment(os.environ)
        # One client per proxy (None: direct), for every thread (httpx's Client may be shared between
        # threads): creating one costs tens of milliseconds, for its TLS context.
        self._clients: dict[str | None, httpx.Client] = {}
        self._client_lock = threading.Lock()

    def locate(self, url: str) -> str:
        """Where URL is fetched from: its mirror if one is configured for it, else URL itself."""
        return mirrored(url, self.mirrors) or url

    def close(self) -> None:
        with self._client_lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _http(self, proxy: str | None) -> httpx.Client:
        with self._client_lock:
            client = self._clients.get(proxy)
            if client is None:
                import httpx  # imported here: it costs start-up time that `0xl list` must not pay

                c = self.config
                client = self._clients[proxy] = httpx.Client(
                    # The proxy given as a transport: httpx renamed Client's `proxies` to `proxy` (0.26)
                    # and Debian 12 has 0.23; HTTPTransport(proxy=Proxy) is in both.
                    transport=httpx.HTTPTransport(proxy=httpx.Proxy(proxy) if proxy else None),
                    timeout=httpx.Timeout(c.read_timeout, connect=c.connect_timeout),
                    follow_redirects=False,
                    # Bytes as the server stores them: a feed declares an archive's size and digest as
                    # published, and a server that labels `.tar.gz` files `Content-Encoding: gzip`
                    # (Apache's `AddEncoding x-gzip .gz`) would have httpx unpack that layer. 0install
                    # (curl) asks for no encoding either.
                    headers={"User-Agent": c.user_agent, "Accept-Encoding": "identity"},
                    # Proxies are chosen above (host.proxies); no netrc passwords sent to feed servers.
                    trust_env=False,
                )
            return client

    # -- documents (feeds, keys) ------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        max_bytes: int,
        what: str,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Fetched:
        """Fetch URL whole into memory, refusing more than MAX_BYTES.

        ETAG and LAST_MODIFIED make the request conditional: an unchanged document comes back as
        `Fetched(None)` without its body.
        """
        url = self.locate(url)
        if not is_remote(url):
            path = local_path(url)
            try:
                with path.open("rb") as f:
                    data = f.read(max_bytes + 1)
            except OSError as e:
                raise DownloadError(f"cannot read {what} {path}: {e.strerror}") from e
            if len(data) > max_bytes:
                raise DownloadError(f"{what} {path} is larger than the limit of {max_bytes} bytes")
            return Fetched(data)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self.config.document_timeout
        with self._open(url, what=what, headers=headers) as response:
            if response.status_code == 304:
                response.read()  # nothing, but read: only then does the connection go back to the pool
                return Fetched(None, etag, last_modified)
            declared = whole_number(response.headers.get("Content-Length", ""))
            if declared is not None and declared > max_bytes:
                raise DownloadError(f"{what} {url} is larger than the limit of {max_bytes} bytes")
            buf = bytearray()
            for chunk in self._chunks(response, url, what, deadline=deadline):
                buf += chunk
                if len(buf) > max_bytes:
                    raise DownloadError(f"{what} {url} is larger than the limit of {max_bytes} bytes")
            return Fetched(bytes(buf), response.headers.get("ETag"), response.headers.get("Last-Modified"))

    # -- archives -----------------------------------------------------------------------------------

    def download(self, url: str, out: BinaryIO, *, size: int, what: str, progress: ProgressFn | None = None) -> None:
        """Copy exactly SIZE bytes from URL into OUT; more or fewer is a VerificationError."""
        url = self.locate(url)
        if not is_remote(url):
            path = local_path(url)
            try:
                with path.open("rb") as f:
                    self._copy(iter(lambda: f.read(CHUNK), b""), out, size=size, url=url, what=what, progress=progress)
            except OSError as e:
                raise DownloadError(f"cannot read {what} {path}: {e.strerror}") from e
            return
        with self._open(url, what=what, headers={}) as response:
            declared = whole_number(response.headers.get("Content-Length", ""))
            if declared is not None and declared != size:
                raise VerificationError(
                    f"{what} {url} has {declared} bytes but the feed says {size}",
                    hint="the archive on the server is not the one the publisher signed",
                )
            chunks = self._chunks(response, url, what, raw=True, paced=True)
            self._copy(chunks, out, size=size, url=url, what=what, progress=progress)

    @staticmethod
    def _copy(
        chunks: Iterable[bytes], out: BinaryIO, *, size: int, url: str, what: str, progress: ProgressFn | None
    ) -> None:
        total = 0
        for chunk in chunks:
            total += len(chunk)
            if total > size:
                raise VerificationError(
                    f"{what} {url} is larger than the {size} bytes the feed declares",
                    hint="the archive on the server is not the one the publisher signed",
                )
            out.write(chunk)
            if progress:
                progress(len(chunk))
        if total != size:
            raise VerificationError(f"{what} {url} has {total} bytes but the feed declares {size}")

    # -- HTTP plumbing ------------------------------------------------------------------------------

    def _open(self, url: str, *, what: str, headers: dict[str, str]) -> _Response:
        import httpx

        current = url
        for _ in range(self.config.max_redirects + 1):
            proxy = self.proxies.for_url(current)
            client = self._http(proxy)
            try:
                request = client.build_request("GET", current, headers=headers)
                response = client.send(request, stream=True)
            except httpx.TimeoutException as e:
                raise DownloadError(
                    f"cannot fetch {what} {current}{self._through(proxy)}: the server did not answer in time"
                ) from e
            except httpx.HTTPError as e:
                raise DownloadError(
                    f"cannot fetch {what} {current}{self._through(proxy)}: {_reason(e)}",
                    hint=self._proxy_hint(proxy),
                ) from e
            if response.is_redirect and response.status_code != 304:
                target = str(response.next_request.url) if response.next_request else None
                response.close()
                if target is None:
                    raise DownloadError(f"cannot fetch {what} {current}: redirect without a location")
                if current.startswith("https://") and not target.startswith("https://"):
                    raise DownloadError(f"cannot fetch {what} {url}: refusing a redirect from https to {target}")
                current = target
                continue
            if response.status_code not in (200, 304):
                response.close()
                raise DownloadError(
                    f"cannot fetch {what} {current}{self._through(proxy)}: "
                    f"HTTP {response.status_code} {response.reason_phrase}",
                    hint=self._proxy_hint(proxy) if response.status_code == 407 else None,
                )
            return _Response(response)
        raise DownloadError(f"cannot fetch {what} {url}: more than {self.config.max_redirects} redirects")

    @staticmethod
    def _through(proxy: str | None) -> str:
        return f" through the proxy {shown(proxy)}" if proxy else ""

    def _proxy_hint(self, proxy: str | None) -> str | None:
        if proxy is None:
            return None
        return f"the proxy comes from {self.proxies.source}: check it, or list the host in no_proxy"

    def _chunks(
        self,
        response: httpx.Response,
        url: str,
        what: str,
        *,
        raw: bool = False,
        deadline: float | None = None,
        paced: bool = False,
    ) -> Iterator[bytes]:
        """The body as it arrives. RAW keeps any Content-Encoding the server sent anyway: downloads are
        checked against the size the feed declares for the stored file. Documents (feeds, keys) are
        decoded, as HTTP means, since their checks apply to the document itself.

        The body must be whole by DEADLINE (time.monotonic()); with PACED it must move at min_speed
        over every speed_time seconds. Pieces are taken as the network gives them, not gathered into
        chunks first, so that a trickle is seen while it trickles.
        """
        import httpx

        c = self.config
        window_start, window_bytes = time.monotonic(), 0
        try:
            for piece in response.iter_raw() if raw else response.iter_bytes():
                now = time.monotonic()
                if deadline is not None and now > deadline:
                    raise DownloadError(
                        f"cannot fetch {what} {url}: it did not arrive whole within {c.document_timeout:g} s"
                    )
                window_bytes += len(piece)
                if paced and now - window_start >= c.speed_time:
                    if window_bytes < c.min_speed * (now - window_start):
                        raise DownloadError(
                            f"cannot fetch {what} {url}: it came slower than {c.min_speed} bytes/s "
                            f"for {c.speed_time:g} s",
                            hint="try again later, or from a mirror ([mirrors] in config.toml)",
                        )
                    window_start, window_bytes = now, 0
                yield piece
        except httpx.HTTPError as e:
            raise DownloadError(f"cannot fetch {what} {url}: {_reason(e)}") from e


class _Response:
    """A streamed response that is closed however the `with` block ends."""

    def __init__(self, raw: httpx.Response) -> None:
        self.raw = raw

    def __enter__(self) -> httpx.Response:
        return self.raw

    def __exit__(self, *exc: object) -> None:
        self.raw.close()


def _reason(e: Exception) -> str:
    text = str(e) or type(e).__name__
    if "Connection refused" in text or "ConnectError" in type(e).__name__:
        return f"connection failed ({text})"
    return text
