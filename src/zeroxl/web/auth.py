"""Who may read the page: anyone on the host when the server listens on loopback alone; beyond it,
only a client that shows the token (docs/web.md).

A program sends `Authorization: Bearer TOKEN`; a browser posts the token once to /login, which keeps it
in a cookie (HttpOnly, SameSite=Strict, Secure over TLS). Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import stat
from pathlib import Path

COOKIE = "zeroxl_token"
MIN_TOKEN = 16  # characters: `openssl rand -hex 32` makes 64


class TokenError(Exception):
    """The token file cannot be used; the message says why."""


def is_loopback(host: str) -> bool:
    """True if HOST (as given to --listen) is reachable from this machine alone."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def read_token(path: Path) -> str:
    """The token in PATH (one line). Refused if others may read the file, or if it is too short to guess."""
    try:
        st = path.stat()
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TokenError(f"cannot read the token file {path}: {getattr(e, 'strerror', None) or e}") from e
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO) and os.geteuid() == st.st_uid:
        raise TokenError(f"the token file {path} may be read by others (mode {stat.S_IMODE(st.st_mode):04o})")
    token = text.strip()
    if len(token) < MIN_TOKEN or any(c.isspace() for c in token) or not token.isascii():
        raise TokenError(f"the token in {path} must be one word of at least {MIN_TOKEN} ASCII characters")
    return token


def matches(given: str | None, token: str) -> bool:
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode())


def bearer(header: str | None) -> str | None:
    """The token in an `Authorization: Bearer TOKEN` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None
