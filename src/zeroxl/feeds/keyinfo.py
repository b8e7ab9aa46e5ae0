"""Hints about an unknown key from a key-information server, only if the operator configured one.

0install asks a third-party server by default; 0xl asks none unless `[trust] key_info_server` is set.
The answer is `<key-lookup><item vote="good|bad">message</item></key-lookup>`. A hint is advice shown
next to the fingerprint, never a trust decision, and a server that fails only loses the hint.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from zeroxl.errors import ZeroxlError
from zeroxl.feeds.fetch import Fetcher


@dataclass(frozen=True)
class Hint:
    vote: str  # "good" or "bad"
    message: str


def lookup(server: str, fingerprint: str, fetcher: Fetcher) -> list[Hint]:
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    url = f"{server.rstrip('/')}/key/{fingerprint}"
    try:
        fetched = fetcher.fetch(url, max_bytes=64 << 10, what="key information")
        if fetched.data is None:
            return []
        root = SafeET.fromstring(fetched.data, forbid_dtd=True)
    except (ZeroxlError, ET.ParseError, DefusedXmlException):
        return []
    return [
        Hint(item.get("vote", "?"), " ".join((item.text or "").split()))
        for item in root.iter("item")
        if item.get("vote") in ("good", "bad")
    ]
