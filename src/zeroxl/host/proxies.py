"""Which HTTP proxy, if any, a URL is fetched through: `[fetch] proxy` in config.toml, else the
environment's `https_proxy`, `http_proxy`, `all_proxy` and `no_proxy`, read as curl reads them.

Pure: given strings, it answers. A proxy only carries bytes: feeds, keys and archives are verified the
same whichever way they came (signature, size, digest), so a proxy that changes them is refused.

- `http_proxy` is read in lower case only (curl's rule: `HTTP_PROXY` can be set by a web server's
  client as a CGI header, "httpoxy"); the others in either case, lower case first.
- `no_proxy`: comma-separated host names (a name also covers its subdomains; a leading dot is
  ignored), IP addresses or networks (`10.0.0.0/8`), each optionally with `:PORT`; `*` alone: no proxy.
- A proxy is an `http://` or `https://` URL (`host:port` alone means `http://host:port`); 0xl speaks no
  SOCKS, and says so rather than going direct.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from zeroxl.errors import ConfigError


@dataclass(frozen=True)
class Proxies:
    """Proxy URLs per scheme (None: direct), and the no_proxy entries that bypass them."""

    http: str | None = None
    https: str | None = None
    no_proxy: tuple[str, ...] = ()
    source: str = "https_proxy, http_proxy or all_proxy in the environment"  # for messages

    def for_url(self, url: str) -> str | None:
        """The proxy URL to fetch URL through, or None to connect directly."""
        parts = urlsplit(url)
        proxy = {"http": self.http, "https": self.https}.get(parts.scheme)
        if proxy is None or parts.hostname is None:
            return None
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return proxy  # not a URL 0xl fetches anyway; the fetch itself reports it
        if any(_bypasses(entry, parts.hostname, port) for entry in self.no_proxy):
            return None
        return proxy


NO_PROXIES = Proxies(source="nowhere")


def check_proxy(value: str, where: str) -> str:
    """VALUE as a proxy URL (scheme added when missing), or a ConfigError naming WHERE it came from."""
    url = value.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number under 65536
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{where} is {shown(value)!r}, not an http proxy URL",
            hint="write http://HOST:PORT (0xl speaks to HTTP proxies, not SOCKS ones)",
        )
    return url


def shown(url: str) -> str:
    """URL without its user name and password, for messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="…@" + parts.netloc.rpartition("@")[2]).geturl()


def split_no_proxy(value: str) -> tuple[str, ...]:
    return tuple(e.strip() for e in value.split(",") if e.strip())


def from_environment(environ: Mapping[str, str]) -> Proxies:
    def get(*names: str) -> str | None:
        for name in names:
            value = environ.get(name, "").strip()
            if value:
                return check_proxy(value, f"{name} in the environment")
        return None

    every = get("all_proxy", "ALL_PROXY")
    return Proxies(
        http=get("http_proxy") or every,
        https=get("https_proxy", "HTTPS_PROXY") or every,
        no_proxy=split_no_proxy(environ.get("no_proxy") or environ.get("NO_PROXY") or ""),
    )


def from_config(proxy: str, no_proxy: tuple[str, ...]) -> Proxies:
    """`[fetch] proxy` (checked by host.config): for every http(s) URL; "" means none, whatever the
    environment says."""
    return Proxies(http=proxy or None, https=proxy or None, no_proxy=no_proxy, source="[fetch] proxy in config.toml")


def _bypasses(entry: str, host: str, port: int) -> bool:
    import ipaddress  # imported here: config.toml is read by commands that fetch nothing

    entry = entry.lower()
    if entry == "*":
        return True
    host = host.lower()
    name, want_port = entry, None
    if entry.startswith("["):  # [v6]:port
        name, _, rest = entry[1:].partition("]")
        want_port = rest[1:] if rest.startswith(":") else None
    elif entry.count(":") == 1:
        name, _, want_port = entry.partition(":")
    if want_port is not None and want_port != str(port):
        return False
    try:
        network = ipaddress.ip_network(name, strict=False)
    except ValueError:
        name = name.lstrip(".")
        return bool(name) and (host == name or host.endswith("." + name))
    try:
        return ipaddress.ip_address(host) in network
    except ValueError:
        return False
