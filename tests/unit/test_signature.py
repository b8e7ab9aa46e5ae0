"""The signature block, delimited exactly as 0install does (src/support/gpg.ml)."""

from __future__ import annotations

import base64
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zeroxl.errors import VerificationError
from zeroxl.feeds.signature import append_signature, split_signed

FEED = b'<?xml version="1.0" ?>\n<interface uri="http://example.org/a.xml"/>\n'
SIG = bytes(range(256)) * 2  # long enough for several base64 lines


def block(sig: bytes = SIG) -> bytes:
    return b"<!-- Base64 Signature\n" + base64.encodebytes(sig) + b"\n-->\n"


def test_publisher_block_splits_into_signed_bytes_and_signature() -> None:
    assert split_signed(FEED + block()) == (FEED, SIG)


def test_append_writes_the_block_0publish_writes() -> None:
    assert append_signature(FEED, SIG) == FEED + block()
    # The base64 lines as coreutils' base64 writes them (76 characters a line): an encoder apart from
    # the one 0xl uses. That 0install accepts such blocks: tests/integration/test_publish.py.
    lines = subprocess.run(["base64"], input=SIG, capture_output=True, check=True).stdout
    assert append_signature(FEED, SIG) == FEED + b"<!-- Base64 Signature\n" + lines + b"\n-->\n"


@given(
    body=st.binary(max_size=300),
    sig=st.binary(min_size=1, max_size=600),
)
def test_append_then_split_round_trips(body: bytes, sig: bytes) -> None:
    data = b"<?xml " + body + b"\n"
    assert split_signed(append_signature(data, sig)) == (data, sig)


@given(sig=st.binary(min_size=1, max_size=200), old=st.binary(min_size=1, max_size=50))
def test_an_earlier_block_belongs_to_the_signed_bytes(sig: bytes, old: bytes) -> None:
    # Only the last marker line delimits the block: an earlier one is part of what was signed.
    signed = append_signature(FEED, old)
    assert split_signed(append_signature(signed, sig)) == (signed, sig)


@given(sig=st.binary(min_size=1, max_size=200), trailing=st.text(alphabet=" \t\r\n", max_size=5))
def test_whitespace_after_the_end_of_comment_is_allowed(sig: bytes, trailing: str) -> None:
    assert split_signed(append_signature(FEED, sig) + trailing.encode()) == (FEED, sig)


def test_unpadded_single_line_base64_is_accepted() -> None:
    # 0install strips '=' and whitespace before "-->": padding is optional.
    text = base64.b64encode(b"ab").rstrip(b"=")
    assert split_signed(FEED + b"<!-- Base64 Signature\n" + text + b"\n-->") == (FEED, b"ab")


def test_crlf_line_endings_inside_the_base64_are_dropped() -> None:
    text = base64.encodebytes(SIG).replace(b"\n", b"\r\n")
    assert split_signed(FEED + b"<!-- Base64 Signature\n" + text + b"-->\r\n") == (FEED, SIG)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<interface/>\n" + block(), "not a 0install feed"),
        (b"\n" + FEED + block(), "not a 0install feed"),
        (b"<?xml\tversion='1.0'?>\n" + block(), "not a 0install feed"),
        (FEED, "no signature block"),
        (FEED + b"<!-- Base64 Signature \n" + base64.encodebytes(SIG) + b"-->\n", "no signature block"),
        (FEED + b"<!-- Base64 Signature\r\n" + base64.encodebytes(SIG) + b"-->\n", "no signature block"),
        (FEED + b" <!-- Base64 Signature\n" + base64.encodebytes(SIG) + b"-->\n", "no signature block"),
        (FEED + b"<!-- Base64 Signature", "cut off"),
        (FEED + b"<!-- Base64 Signature\n" + base64.encodebytes(SIG), "last line must be '-->'"),
        (FEED + block() + b"<!-- trailing junk -->\n", "last line must be '-->'"),
        (FEED + block() + b"x", "last line must be '-->'"),
        (FEED + b"<!-- Base64 Signature\n" + base64.encodebytes(SIG) + b"-->junk\n", "must be '-->'"),
        (FEED + b"<!-- Base64 Signature\n" + base64.b64encode(SIG) + b"-->\n", "last line must be '-->'"),
        (FEED + b"<!-- Base64 Signature\n-->\n", "empty"),
        (FEED + b"<!-- Base64 Signature\n====\n-->\n", "empty"),
        (FEED + b"<!-- Base64 Signature\nAAAA AAAA\n-->\n", "invalid characters"),
        (FEED + b"<!-- Base64 Signature\nAA==AAAA\n-->\n", "invalid characters"),
        (FEED + b"<!-- Base64 Signature\nAAAA\tBB\n-->\n", "invalid characters"),
        (FEED + b"<!-- Base64 Signature\nAAAA-_\n-->\n", "invalid characters"),
        (FEED + b"<!-- Base64 Signature\n<!-- x -->\n-->\n", "invalid characters"),
        (FEED + b"<!-- Base64 Signature\nAAAAB\n-->\n", "truncated"),
    ],
)
def test_malformed_block_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        split_signed(data)


@given(junk=st.binary(min_size=1, max_size=20).filter(lambda b: b.strip(b" \t\r\n") != b""))
def test_anything_but_whitespace_after_the_block_is_refused(junk: bytes) -> None:
    with pytest.raises(VerificationError):
        split_signed(append_signature(FEED, SIG) + junk)


@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_are_split_or_refused_never_crash(data: bytes) -> None:
    for candidate in (data, b"<?xml " + data, FEED + b"<!-- Base64 Signature\n" + data):
        try:
            signed, sig = split_signed(candidate)
        except VerificationError:
            continue
        assert candidate.startswith(signed)
        assert sig


def test_append_refuses_data_that_could_not_be_split_again() -> None:
    with pytest.raises(ValueError, match="newline"):
        append_signature(FEED.rstrip(b"\n"), SIG)
    with pytest.raises(ValueError, match="<\\?xml"):
        append_signature(b"<interface/>\n", SIG)
    with pytest.raises(ValueError, match="empty"):
        append_signature(FEED, b"")


def test_unsigned_feed_is_refused_saying_how_feeds_get_signed() -> None:
    # Found by `make mutate` (docs/mutation.md): nothing checked the hint of the commonest refusal.
    with pytest.raises(VerificationError) as e:
        split_signed(FEED)
    assert "0publish --xmlsign" in (e.value.hint or "")
