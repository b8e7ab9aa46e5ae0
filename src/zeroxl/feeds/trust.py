"""Which keys 0xl trusts to sign feeds for which sites: 0install's `trustdb.xml`, and decisions on it.

The file format is 0install's (src/zeroinstall/trust.ml): a `<trusted-keys>` root in the namespace
below, one `<key fingerprint=…>` per key, one `<domain value=…>` per site the key may sign for, the
domain `*` meaning every site. `TrustDB.to_bytes` writes it byte for byte as 0install 2.18 does, so a
file written by either is read by the other.

The decisions (`check_trusted`, `check_not_replayed`) take values and answer or raise; they do no IO.
A caller loads the database, verifies a feed, asks, and saves only after the answer was yes.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from zeroxl.errors import StateError, UsageError, VerificationError
from zeroxl.state import atomic

if TYPE_CHECKING:
    from zeroxl.feeds.gpg import SigInfo

TRUST_NS = "http://zero-install.sourceforge.net/2007/injector/trust"
ANY_DOMAIN = "*"

_FINGERPRINT = re.compile(r"[0-9A-F]{40}")
# A feed URL as 0xl accepts it: http or https in lower case (0install matches the scheme so), an
# authority, and a slash after it. The authority ends where urlsplit ends it ('/', '?', '#') and also at
# a backslash, which some URL parsers read as '/'.
_FEED_URL = re.compile(r"(https?)://([^/?#\\]*)(.?)", re.DOTALL)
# The authority a feed URL may have: a plain ASCII host name or address, or an IPv6 address in
# brackets, and a port in digits. Nothing else, so that every parser (urlsplit, httpx, 0install)
# reads the same host and port out of it.
_HOST_PORT = re.compile(r"([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?")
# What `domain_of` can return for a URL one can fetch: printable ASCII (hosts in URLs are ASCII,
# international names as punycode), no slash, no star. Kept this narrow so a saved file is always XML.
_SITE = re.compile(r"[\x21-\x29\x2b-\x2e\x30-\x7e]+")  # '!'..'~' except '*' (0x2a) and '/' (0x2f)


class UntrustedKey(VerificationError):
    """The feed's signature is valid but its key is not trusted for the feed's site."""

    def __init__(self, fingerprint: str, domain: str) -> None:
        super().__init__(
            f"the feed is signed by key {fingerprint}, which is not trusted to sign feeds from {domain}",
            hint=f"if the publisher confirms the fingerprint {spaced(fingerprint)}, trust it with: "
            f"0xl trust add {fingerprint} --domain {domain}",
        )
        self.fingerprint = fingerprint
        self.domain = domain


class ReplayedFeed(VerificationError):
    """A newly fetched feed was signed before the copy 0xl already has: an old feed replayed."""

    def __init__(self, feed_url: str, cached: int, new: int) -> None:
        super().__init__(
            f"the feed {feed_url} fetched now was signed at {_utc(new)}, before the copy 0xl already has "
            f"(signed at {_utc(cached)}): refusing to go back to an older feed",
            hint="someone may be replaying an old feed with known problems; if the publisher really "
            "went back in time, remove the cached feed first",
        )
        self.feed_url = feed_url
        self.cached = cached
        self.new = new


def normalise_fingerprint(text: str) -> str:
    """TEXT as 40 upper-case hex digits: spaces dropped and case folded, anything else refused."""
    fpr = "".join(text.split()).upper()
    if not _FINGERPRINT.fullmatch(fpr):
        raise UsageError(
            f"{text!r} is not an OpenPGP fingerprint",
            hint="write the 40 hexadecimal digits of the key's fingerprint (spaces are allowed)",
        )
    return fpr


def spaced(fingerprint: str) -> str:
    """A fingerprint in groups of four, as gpg shows it to people."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))


def domain_of(url: str) -> str:
    """The trust domain of a feed URL: `host[:port]` as written, as 0install computes it.

    It is the host the URL is fetched from. A URL that parsers could read different hosts out of is
    refused (a UsageError) rather than guessed at: user info (`user@`), which 0install skips but which
    `http://evil.example?@good.example/` uses to show one host and fetch from another, and anything in
    the authority but a plain host and port. A host in Unicode is refused too, as a trust domain is
    ASCII: the punycode form names the same site.
    """
    m = _FEED_URL.match(url)
    if not m or not m.group(2) or m.group(3) != "/":
        raise UsageError(
            f"cannot tell which site {url!r} belongs to",
            hint="a feed URL looks like http://HOST[:PORT]/PATH or https://HOST[:PORT]/PATH",
        )
    netloc = m.group(2)
    if "@" in netloc:
        raise UsageError(
            f"the feed URL {url!r} has user info (…@) before its host",
            hint="write the URL without it: 0xl fetches feeds with no user name or password",
        )
    if not netloc.isascii():
        raise UsageError(
            f"the host of the feed URL {url!r} is not ASCII",
            hint=f"write it in its punycode form ({_punycode(netloc)})",
        )
    hm = _HOST_PORT.fullmatch(netloc)
    if not hm or not _port_is_valid(url) or urlsplit(url).netloc != netloc:
        raise UsageError(
            f"cannot tell which site {url!r} belongs to: {netloc!r} is not a plain HOST[:PORT]",
            hint="a feed URL looks like http://HOST[:PORT]/PATH or https://HOST[:PORT]/PATH",
        )
    return netloc


def _port_is_valid(url: str) -> bool:
    try:
        port = urlsplit(url).port
    except ValueError:  # over 65535
        return False
    return port != 0


def _punycode(netloc: str) -> str:
    """NETLOC with its host in the ASCII form DNS uses (`xn--…`), or a description if it has none."""
    host, colon, port = netloc.partition(":")  # a host in Unicode is a name, never an IPv6 address
    try:
        return host.encode("idna").decode("ascii") + colon + port
    except UnicodeError:
        return "xn--…"


# The trust domain of feeds read from local files: they have no host, and a host cannot contain "://".
# (0install does not check local feeds at all; 0xl verifies them like any other.)
LOCAL_DOMAIN = "file://"


def check_domain(domain: str) -> str:
    """DOMAIN if it can name a site (`host[:port]`, `*` for every site, `file://` for local files)."""
    if domain in (ANY_DOMAIN, LOCAL_DOMAIN):
        return domain
    if not domain.isascii():
        raise UsageError(
            f"{domain!r} is not a site a key can be trusted for: it is not ASCII",
            hint=f"write the host in its punycode form ({_punycode(domain)})",
        )
    if not _SITE.fullmatch(domain):
        raise UsageError(
            f"{domain!r} is not a site a key can be trusted for",
            hint="write the host of the feed URLs, with its port if they have one (example.org:8080), "
            "* for every site, or file:// for feeds in local files",
        )
    return domain


class TrustDB:
    """Fingerprints of trusted keys, each with the domains it may sign feeds for. Not thread-safe."""

    def __init__(self, entries: Iterable[tuple[str, Iterable[str]]] = ()) -> None:
        self._keys: dict[str, set[str]] = {}
        for fpr, domains in entries:
            for domain in domains:
                self.add(fpr, domain)

    # -- reading and writing ----------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> TrustDB:
        """Read PATH; a missing file is an empty database, an unreadable one a StateError."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return cls()
        except OSError as e:
            raise StateError(f"cannot read the trust database {path}: {e.strerror}") from e
        return cls.from_bytes(data, source=str(path))

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "trustdb.xml") -> TrustDB:
        def corrupt(why: str) -> StateError:
            return StateError(
                f"the trust database {source} is corrupt: {why}",
                hint="fix or remove it; until then 0xl trusts no key",
            )

        try:
            root = SafeET.fromstring(data)
        except (ParseError, DefusedXmlException) as e:
            raise corrupt(str(e) or type(e).__name__) from e
        if root.tag != f"{{{TRUST_NS}}}trusted-keys":
            raise corrupt(f"the root element is {root.tag}, not trusted-keys in namespace {TRUST_NS}")
        db = cls()
        # Elements other than <key> and <domain> are skipped, as 0install skips them.
        for key in root.iterfind(f"{{{TRUST_NS}}}key"):
            fpr = key.get("fingerprint")
            if fpr is None:
                raise corrupt("a <key> element has no fingerprint")
            # 0install compares fingerprints as strings against gpg's upper-case hex: anything else
            # in the file would never match there, so it is a mistake to point out, not to honour.
            if not _FINGERPRINT.fullmatch(fpr):
                raise corrupt(f"{fpr!r} is not a fingerprint of 40 upper-case hexadecimal digits")
            if fpr in db._keys:
                raise corrupt(f"key {fpr} is listed twice")
            domains: set[str] = set()
            for elem in key.iterfind(f"{{{TRUST_NS}}}domain"):
                value = elem.get("value")
                if value is None:
                    raise corrupt(f"a <domain> element of key {fpr} has no value")
                domains.add(value)
            if domains:  # a key with no domain grants nothing; 0install keeps it, 0xl drops it
                db._keys[fpr] = domains
        return db

    def to_bytes(self) -> bytes:
        """The database as 0install writes it: XML declaration, no indentation, no final newline.

        Keys come in *descending* order of fingerprint and domains in ascending order: 0install
        folds its sorted map of keys into a list back to front (XString.Map.map_bindings), and
        lists each key's set of domains in order.
        """
        parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<trusted-keys xmlns="{TRUST_NS}"']
        if not self._keys:
            parts.append("/>")
        else:
            parts.append(">")
            for fpr, domains in reversed(self.entries()):
                parts.append(f'<key fingerprint="{_attr(fpr)}">')
                parts.extend(f'<domain value="{_attr(d)}"/>' for d in domains)
                parts.append("</key>")
            parts.append("</trusted-keys>")
        return "".join(parts).encode("utf-8")

    def save(self, path: Path) -> None:
        """Write the database to PATH atomically (mode 0644, like 0install)."""
        try:
            atomic.write_bytes(path, self.to_bytes())
        except OSError as e:
            raise StateError(f"cannot write the trust database {path}: {e.strerror}") from e

    # -- queries and changes --------------------------------------------------------------------

    def trusted(self, fingerprint: str, domain: str) -> bool:
        domains = self._keys.get(normalise_fingerprint(fingerprint), set())
        return domain in domains or ANY_DOMAIN in domains

    def domains(self, fingerprint: str) -> list[str]:
        return sorted(self._keys.get(normalise_fingerprint(fingerprint), set()))

    def add(self, fingerprint: str, domain: str) -> bool:
        """Trust FINGERPRINT for DOMAIN; False if it already was (for exactly that domain)."""
        fpr = normalise_fingerprint(fingerprint)
        check_domain(domain)
        domains = self._keys.setdefault(fpr, set())
        if domain in domains:
            return False
        domains.add(domain)
        return True

    def remove(self, fingerprint: str, domain: str | None = None) -> bool:
        """Stop trusting FINGERPRINT for DOMAIN, or everywhere if None; False if nothing changed."""
        fpr = normalise_fingerprint(fingerprint)
        domains = self._keys.get(fpr)
        if domains is None:
            return False
        if domain is None:
            del self._keys[fpr]
            return True
        if domain not in domains:
            return False
        domains.discard(domain)
        if not domains:
            del self._keys[fpr]
        return True

    def entries(self) -> list[tuple[str, list[str]]]:
        """(fingerprint, sorted domains) for every key, sorted by fingerprint."""
        return [(fpr, sorted(self._keys[fpr])) for fpr in sorted(self._keys)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TrustDB) and self._keys == other._keys

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"TrustDB({self.entries()!r})"


def _utc(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _attr(value: str) -> str:
    # The four characters 0install's XML writer (Xmlm) escapes in attribute values; nothing else.
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# -- decisions ------------------------------------------------------------------------------------


def check_trusted(sig: SigInfo, domain: str, db: TrustDB) -> None:
    """Accept SIG for a feed from DOMAIN, or raise UntrustedKey.

    Trust is keyed on the fingerprint of the key that made the signature, as in 0install: when a
    signing subkey signs, it is the subkey's fingerprint that must be trusted, not the primary's.
    Expired and revoked keys are not refused here, as 0install does not refuse them (gpg still
    reports VALIDSIG); `SigInfo` carries those flags for the caller to show.
    """
    if not db.trusted(sig.fingerprint, domain):
        raise UntrustedKey(sig.fingerprint, domain)


def check_not_replayed(new: SigInfo, cached: SigInfo | None, *, feed_url: str) -> None:
    """Refuse a feed signed before the copy already accepted (0install: equal times are fine)."""
    if cached is not None and cached.timestamp > new.timestamp:
        raise ReplayedFeed(feed_url, cached.timestamp, new.timestamp)
