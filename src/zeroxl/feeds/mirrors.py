"""Mirrors: where a host fetches an origin's feeds, keys and archives from instead (`[mirrors]`).

    [mirrors]
    "https://example.org/feeds/" = "http://mirror.lan/example.org/feeds/"   # a mirror served over HTTP
    "https://dl.example.org/" = "/srv/mirror/dl.example.org/"                 # or a local directory

(checked when config.toml is read: host.config.check_mirrors)

A URL that starts with an origin prefix is fetched from the mirror location instead: the rest of the
URL is appended to the location (for a local directory, percent-decoded into a file path). The longest
matching prefix wins. Only the mirror is asked, never the origin as well: a host with a mirror for a
prefix is usually one that cannot reach the origin, and a silent fallback from one to the other would
leave nobody able to say where a document came from (DESIGN rule 3: only hosts the user named).

The mirror is not trusted: what it serves is verified exactly as if it came from the origin (the
feed's signature, its `uri`, which still names the origin, trust for the origin's domain, replay
protection, sizes and digests). Nothing here does IO.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from zeroxl.errors import DownloadError

_REMOTE = ("http://", "https://")


def mirrored(url: str, mirrors: dict[str, str]) -> str | None:
    """Where URL is fetched from under MIRRORS (checked by `host.config.check_mirrors`), or None if not mirrored."""
    origin = max((o for o in mirrors if url.startswith(o)), key=len, default=None)
    if origin is None:
        return None
    location = mirrors[origin]
    rest = url[len(origin) :]
    parts = urlsplit(rest)
    if parts.query or parts.fragment or rest.startswith("/"):
        raise DownloadError(f"cannot fetch {url} from the mirror {location}: a mirror holds plain paths only")
    segments = unquote(parts.path).split("/")
    # A signed feed names its own hrefs, but a mirror directory is still no place to climb out of.
    if any(s in (".", "..") or "\0" in s for s in segments):
        raise DownloadError(f"cannot fetch {url} from the mirror {location}: its path has '.' or '..' in it")
    if location.startswith(_REMOTE):
        return location + rest
    return location + unquote(parts.path)
