"""Verify a fetched feed's signature, fetching the signing key from beside the feed if need be.

As 0install does (src/zeroinstall/fetch.ml, `download_missing_keys`): when gpg reports that the
signing key is missing, the key is fetched from the feed's directory as `<KEYID>.gpg`, where KEYID is
the 16-hex key id gpg gives in ERRSIG (a subkey's id if a subkey signed), imported, and the signature
checked again. Unlike 0install, the key file must hold that key and nothing else, and there is no
mirror to fall back to.

A key 0xl has already is fetched again from the same place when gpg finds it expired (the publisher
may have extended it), and, with `refresh`, whenever a feed is verified (a feed that changed, in
`feeds.load`): that is how a host learns that the publisher revoked the key or extended it. A refresh
that fails (no key file, a file with another key) changes nothing and is only logged: the key 0xl has
still decides.

This answers "is this a good signature, and by which key"; whether it may be used (revoked or expired
key, expired or future signature) is `trust.check_signature`, and whether that key is trusted for the
feed's site `trust.check_trusted`, which the caller asks next.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from zeroxl.errors import DownloadError, VerificationError
from zeroxl.feeds.gpg import Gpg, MissingKey
from zeroxl.feeds.signature import SigInfo, split_signed

_KEYID = re.compile(r"[0-9A-F]{16}")

log = logging.getLogger("zeroxl.verify")


def key_url(feed_url: str, keyid: str) -> str:
    """Where 0install looks for a missing key: the feed URL up to its last slash, then KEYID.gpg."""
    if not _KEYID.fullmatch(keyid):
        raise ValueError(f"not a 16-hex key id: {keyid!r}")
    slash = feed_url.rfind("/")
    if slash < 0:
        raise ValueError(f"no directory in feed URL {feed_url!r}")
    return feed_url[: slash + 1] + keyid + ".gpg"


def verify_feed(
    data: bytes, *, feed_url: str, gpg: Gpg, fetch_key: Callable[[str], bytes], refresh: bool = False
) -> SigInfo:
    """The signer of the signed feed DATA fetched from FEED_URL, or a VerificationError.

    FETCH_KEY(url) returns the bytes at URL (the caller's Fetcher, with its size limit) or raises
    DownloadError. Only the key that signed is imported, and only from beside the feed. With REFRESH,
    a key 0xl has already is fetched again (revocations, new expiry dates); an expired one always is.
    """
    signed, sig = split_signed(data)
    try:
        info = gpg.verify(signed, sig)
    except MissingKey as missing:
        keyid, signer = missing.keyid, missing.fingerprint or missing.keyid
    else:
        if (refresh or info.key_expired) and _refresh_key(info.fingerprint, feed_url, gpg, fetch_key):
            info = gpg.verify(signed, sig)
        return info
    url = key_url(feed_url, keyid)
    try:
        armored = fetch_key(url)
    except DownloadError as e:
        raise DownloadError(
            f"the feed {feed_url} is signed by key {signer}, which 0xl does not have, "
            f"and fetching that key failed: {e.message}",
            hint=f"the publisher should publish the key beside the feed, as {keyid}.gpg",
        ) from e
    # Only the signing key, and only if the file holds nothing else (gpg.import_key checks).
    gpg.import_key(armored, signer, source=f"the key file {url}")
    try:
        return gpg.verify(signed, sig)
    except MissingKey as still:
        # import_key saw the key in the file; gpg disagreeing now is not worth a second round.
        raise VerificationError(f"the key imported from {url} still does not verify the feed's signature") from still


def _refresh_key(fingerprint: str, feed_url: str, gpg: Gpg, fetch_key: Callable[[str], bytes]) -> bool:
    """Import the key FINGERPRINT again from beside the feed; False (and a debug line) if that fails."""
    url = key_url(feed_url, fingerprint[-16:])
    try:
        gpg.import_key(fetch_key(url), fingerprint, source=f"the key file {url}")
    except (DownloadError, VerificationError) as e:
        log.debug("the key %s was not refreshed from %s: %s", fingerprint, url, e.message)
        return False
    return True
