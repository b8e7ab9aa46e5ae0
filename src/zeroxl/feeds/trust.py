"""Which keys 0xl trusts to sign feeds for which sites: 0install's `trustdb.xml`, and decisions on it.

The file format is 0install's (src/zeroinstall/trust.ml): a `<trusted-keys>` root in the namespace
below, one `<key fingerprint=…>` per key, one `<domain value=…>` per site the key may sign for, the
domain `*` meaning every site. `TrustDB.to_bytes` writes it byte for byte as 0install 2.18 does, so a
file written by either is read by the other.

The decisions (`check_signature`, `check_trusted`, `check_not_replayed`) take values and answer or
raise; they do no IO. A caller loads the database, verifies a feed, asks, and saves only after the
answer was yes. `feeds.load` (add, update, mirror) and `publish.check` (feed check) ask the same ones.
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
from zeroxl.host.units import format_duration
from zeroxl.state import atomic

if TYPE_CHECKING:
    from zeroxl.feeds.signature import SigInfo
    from zeroxl.host.config import SignatureLimits

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

    def __init__(self, feed_url: str, cached: int, new: int, *, cached_from_the_future: bool = False) -> None:
        forget = f"0xl trust forget-feed {feed_url}"
        super().__init__(
            f"the feed {feed_url} fetched now was signed at {_utc(new)}, before the copy 0xl already has "
            f"(signed at {_utc(cached)}): refusing to go back to an older feed",
            hint=f"the copy 0xl has is dated in the future, which 0xl accepted before it checked signature "
            f"dates: if the publisher confirms the feed served now, forget that copy with: {forget}"
            if cached_from_the_future
            else "someone may be replaying an old feed with known problems; if the publisher really "
            f"went back in time, forget the copy 0xl has with: {forget}",
        )
        self.feed_url = feed_url
        self.cached = cached
        self.new = new


class RevokedKey(VerificationError):
    """The feed's signature is good, but its key has been revoked by its owner."""

    def __init__(self, feed_url: str, fingerprint: str) -> None:
        super().__init__(
            f"the feed {feed_url} is signed by key {fingerprint}, which has been revoked",
            hint="a revoked key may be in someone else's hands: ask the publisher which key signs their feeds "
            "now, and trust that one (0xl trust add FPR --domain …)",
        )


class ExpiredKey(VerificationError):
    """The feed's signature is good, but its key has expired."""

    def __init__(self, feed_url: str, fingerprint: str, expired: int | None) -> None:
        when = f" on {_utc(expired)}" if expired is not None else ""
        super().__init__(
            f"the feed {feed_url} is signed by key {fingerprint}, which expired{when}",
            hint=f"the publisher must extend the key's expiry and publish it beside the feed as "
            f"{fingerprint[-16:]}.gpg: 0xl fetches it again when it finds the key expired",
        )


class ExpiredSignature(VerificationError):
    """The feed's signature expired: the publisher meant it to be used until then only."""

    def __init__(self, feed_url: str, signed: int, expired: int) -> None:
        super().__init__(
            f"the signature of the feed {feed_url} expired on {_utc(expired)} (it was made on {_utc(signed)})",
            hint="a server that serves a feed after its signature expired may be holding back newer versions "
            "(a freeze attack); the publisher should sign the feed again (0xl feed sign --expires)",
        )


class FutureSignature(VerificationError):
    """The feed is signed at a time ahead of this host's clock by more than the allowed skew."""

    def __init__(self, feed_url: str, signed: int, now: float, skew: int) -> None:
        super().__init__(
            f"the feed {feed_url} is signed at {_utc(signed)}, {format_duration(signed - now)} ahead of this "
            f"host's clock ({_utc(now)}); at most {format_duration(skew)} is allowed",
            hint="check this host's clock (and ask the publisher to check theirs); a feed dated in the future "
            "would make every real update look like a replay. [trust] max_clock_skew in config.toml sets the limit",
        )


class StaleSignature(VerificationError):
    """The feed was signed longer ago than this host accepts ([trust] max_signature_age)."""

    def __init__(self, feed_url: str, signed: int, now: float, max_age: int) -> None:
        super().__init__(
            f"the feed {feed_url} was signed on {_utc(signed)}, {format_duration(now - signed)} ago: longer ago "
            f"than this host accepts ([trust] max_signature_age, {format_duration(max_age)})",
            hint="a server may be serving an old feed to hold back newer versions (a freeze attack); if the "
            "publisher does not sign the feed that often, raise [trust] max_signature_age in config.toml",
        )


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
            hint=_punycode_hint(netloc, "write it"),
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


def _punycode_hint(netloc: str, write: str) -> str:
    """How to write NETLOC's host in the ASCII form DNS uses (`xn--…`), by IDNA 2008 with UTS #46 mapping
    as browsers and curl do: the standard library's codec is IDNA 2003, which turns `faß.de` into another
    domain (`fass.de`) and encodes names IDNA 2008 forbids (`☃.net`)."""
    import idna  # imported here: only a refused name needs it

    host, colon, port = netloc.partition(":")  # a host in Unicode is a name, never an IPv6 address
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as e:
        return f"{host!r} is not a valid internationalised domain name either (IDNA 2008: {e})"
    return f"{write} in its punycode form ({ascii_host}{colon}{port})"


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
            hint=_punycode_hint(domain, "write the host"),
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


def _utc(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _attr(value: str) -> str:
    # The four characters 0install's XML writer (Xmlm) escapes in attribute values; nothing else.
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# -- decisions ------------------------------------------------------------------------------------


def check_signature(sig: SigInfo, *, feed_url: str, now: float, limits: SignatureLimits) -> None:
    """Accept a good signature SIG of the feed at FEED_URL as usable NOW, or raise why not.

    Refused, where 0install accepts them all (it only looks at gpg's VALIDSIG): a signature by a
    revoked key (RevokedKey) or an expired one (ExpiredKey); a signature past its own expiry
    (ExpiredSignature: a publisher signing with an expiry says until when the feed may be believed);
    one dated more than `limits.max_clock_skew` ahead of NOW (FutureSignature: recorded as the newest,
    it would make every real update look like a replay); one older than `limits.max_age`, if the host
    set it (StaleSignature: a freeze attack serves an old feed for ever). Asked before trust, so that
    nobody is asked to trust a key that would be refused anyway.
    """
    if sig.key_revoked:
        raise RevokedKey(feed_url, sig.fingerprint)
    if sig.key_expired:
        raise ExpiredKey(feed_url, sig.fingerprint, sig.key_expired_at)
    if sig.sig_expired or (sig.expires is not None and sig.expires <= now):
        raise ExpiredSignature(feed_url, sig.timestamp, sig.expires if sig.expires is not None else int(now))
    if sig.timestamp > now + limits.max_clock_skew:
        raise FutureSignature(feed_url, sig.timestamp, now, limits.max_clock_skew)
    if limits.max_age is not None and now - sig.timestamp > limits.max_age:
        raise StaleSignature(feed_url, sig.timestamp, now, limits.max_age)


def check_trusted(sig: SigInfo, domain: str, db: TrustDB) -> None:
    """Accept SIG for a feed from DOMAIN, or raise UntrustedKey.

    Trust is keyed on the fingerprint of the key that made the signature, as in 0install: when a
    signing subkey signs, it is the subkey's fingerprint that must be trusted, not the primary's.
    Whether the key is revoked or expired is `check_signature`'s question.
    """
    if not db.trusted(sig.fingerprint, domain):
        raise UntrustedKey(sig.fingerprint, domain)


def check_not_replayed(
    signed: int, cached_signed: int | None, *, feed_url: str, now: float, limits: SignatureLimits
) -> None:
    """Refuse a feed signed (at SIGNED) before the copy already accepted (signed at CACHED_SIGNED, None
    if there is none); equal times are fine, as in 0install. The hint tells a copy dated in the future,
    which 0xl accepted before `check_signature` refused such dates, from a replay."""
    if cached_signed is not None and cached_signed > signed:
        future = cached_signed > now + limits.max_clock_skew
        raise ReplayedFeed(feed_url, cached_signed, signed, cached_from_the_future=future)


def signature_warning(signed: int, expires: int | None, *, now: float, limits: SignatureLimits) -> str | None:
    """What `status` and `update --check` warn about a feed's signature, made at SIGNED and expiring at
    EXPIRES, as of NOW; None when there is nothing to say. The refusals are `check_signature`'s: this
    tells the operator before, or about a copy 0xl took before it checked dates."""
    if signed > now + limits.max_clock_skew:
        return (
            f"the feed's signature is dated {format_duration(signed - now)} in the future ({_utc(signed)}), which "
            "makes every real update of it look like a replay; see 0xl trust forget-feed"
        )
    if expires is not None and expires <= now:
        return f"the feed's signature expired on {_utc(expires)}: updates are refused until it is signed again"
    if limits.warn_age and now - signed > limits.warn_age:
        return (
            f"the feed was signed {format_duration(now - signed)} ago, longer ago than [trust] warn_signature_age "
            f"({format_duration(limits.warn_age)}): if the publisher signs it more often, a server may be holding "
            "back newer versions (a freeze attack)"
        )
    return None
