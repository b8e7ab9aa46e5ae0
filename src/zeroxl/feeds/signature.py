"""0install's signature block: a detached OpenPGP signature in an XML comment at the end of a feed.

A signed feed is `SIGNED + b"<!-- Base64 Signature\\n" + base64(signature) + b"\\n-->\\n"`, where
SIGNED starts with `<?xml ` and ends with a newline. The block is delimited exactly as 0install 2.18
does it (src/support/gpg.ml, `verify` and `find_sig_end`):

- the signed bytes are everything before the *last* line that is exactly `<!-- Base64 Signature`;
- after the last non-blank character the document must end with a line `-->`; only whitespace may
  follow it;
- between the two, `\\n` and `\\r` are dropped and trailing `=` and whitespace are padding; what is
  left must be base64 characters only.

0xl is stricter than 0install in one corner: 0install's decoder silently drops a lone trailing
base64 character (a length of 4n+1); 0xl refuses such a block as malformed. No publisher writes one.

`SigInfo` is what gpg (feeds.gpg) says of a good signature, and what the trust decisions (feeds.trust)
are asked about.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from zeroxl.errors import VerificationError

XML_START = b"<?xml "
MARKER = b"<!-- Base64 Signature"
END = b"\n-->"

# `^` and `$` as in OCaml's Str: at the start of the text or after a newline, and at the end of the
# text or before a newline. A line ending in "\r\n" is therefore not a marker, in 0install either.
_MARKER_LINE = re.compile(rb"^" + re.escape(MARKER) + rb"$", re.MULTILINE)
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*")
_TRAILING_WS = b" \n\r\t"
_PADDING = b" \n\r\t="


def split_signed(data: bytes) -> tuple[bytes, bytes]:
    """Split a signed feed into the bytes that were signed and the decoded detached signature."""
    if not data.startswith(XML_START):
        raise VerificationError(
            f"not a 0install feed: it should be an XML document starting with '<?xml ', "
            f"but it starts with {data[:40]!r}"
        )
    last = None
    for last in _MARKER_LINE.finditer(data):  # noqa: B007 - only the last match counts
        pass
    if last is None:
        raise VerificationError(
            "the feed has no signature block (a line '<!-- Base64 Signature' near its end)",
            hint="0xl only uses signed feeds; ask the publisher to sign it (0install's 0publish --xmlsign)",
        )
    index = last.start()
    sig_start = last.end()
    if sig_start == len(data):
        raise VerificationError("the feed's signature block is cut off after '<!-- Base64 Signature'")

    end = len(data.rstrip(_TRAILING_WS))
    end_marker = end - len(END)
    if end_marker < sig_start or data[end_marker:end] != END:
        raise VerificationError(
            "the feed's signature block is malformed: after the signature, the last line must be '-->' "
            "and nothing but whitespace may follow it"
        )
    sig_end = max(len(data[:end_marker].rstrip(_PADDING)), sig_start)
    text = data[sig_start:sig_end].replace(b"\n", b"").replace(b"\r", b"")
    if not _BASE64.fullmatch(text):
        raise VerificationError("the feed's signature block is malformed: invalid characters in the base64 signature")
    if not text:
        raise VerificationError("the feed's signature block is empty")
    if len(text) % 4 == 1:
        raise VerificationError("the feed's signature block is malformed: the base64 signature is truncated")
    try:
        sig = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except binascii.Error as e:  # cannot happen after the checks above; kept so a surprise is still a refusal
        raise VerificationError(f"the feed's signature block is malformed: {e}") from e
    return data[:index], sig


def append_signature(data: bytes, sig: bytes) -> bytes:
    """DATA (the exact bytes that SIG signs) followed by a signature block holding SIG.

    To re-sign a feed, split it first and sign the signed bytes again: appending to a feed that
    already carries a block would sign the old block too.
    """
    if not data.startswith(XML_START):
        raise ValueError("a feed must start with '<?xml ' (0install refuses anything else)")
    if not data.endswith(b"\n"):
        # The marker must start a line; adding the newline here would change the signed bytes.
        raise ValueError("the signed data must end with a newline")
    if not sig:
        raise ValueError("empty signature")
    return data + MARKER + b"\n" + base64.encodebytes(sig) + b"\n-->\n"


@dataclass(frozen=True)
class SigInfo:
    """A good signature: who made it and when."""

    fingerprint: str  # of the key that signed (a subkey's, if a subkey signed): what trust is keyed on
    primary_fingerprint: str  # of the primary key it belongs to
    timestamp: int  # signature creation time, seconds since the epoch
    key_expired: bool = False
    key_revoked: bool = False
    sig_expired: bool = False
    expires: int | None = None  # when the signature expires (OpenPGP signature expiry), if it does
    key_expired_at: int | None = None  # when the key expired, if gpg said (KEYEXPIRED)
