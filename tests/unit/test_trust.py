"""The trust database in 0install's format, trust domains, and the decisions made on them (no IO)."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zeroxl.errors import StateError, UsageError, VerificationError
from zeroxl.feeds.signature import SigInfo
from zeroxl.feeds.trust import (
    TRUST_NS,
    ExpiredKey,
    ExpiredSignature,
    FutureSignature,
    ReplayedFeed,
    RevokedKey,
    StaleSignature,
    TrustDB,
    UntrustedKey,
    check_domain,
    check_not_replayed,
    check_signature,
    check_trusted,
    domain_of,
    normalise_fingerprint,
    signature_warning,
)
from zeroxl.host.config import SignatureLimits

PRIMARY = "8CE381503423072CB0F14C5C398DB73A2908A249"
SUBKEY = "33E7F5A0D5C919247A81D96E6F03C8F32EFF4C29"
OTHER = "B2D86688EC680A5F170306F1520CB69191349AE8"
SITE_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/*")
HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def keys(inner: str) -> bytes:
    """A database document with INNER inside its root element."""
    return f'<trusted-keys xmlns="{TRUST_NS}">{inner}</trusted-keys>'.encode()


def sig(fpr: str = PRIMARY, ts: int = 1_700_000_000, primary: str = PRIMARY) -> SigInfo:
    return SigInfo(fingerprint=fpr, primary_fingerprint=primary, timestamp=ts)


# -- fingerprints -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        PRIMARY,
        PRIMARY.lower(),
        "8CE3 8150 3423 072C B0F1  4C5C 398D B73A 2908 A249",  # as gpg prints it for people
        f"  {PRIMARY}\n",
    ],
)
def test_fingerprint_spellings_normalise_to_upper_hex(text: str) -> None:
    assert normalise_fingerprint(text) == PRIMARY


@pytest.mark.parametrize(
    "text", ["", PRIMARY[:-1], PRIMARY + "0", "0x" + PRIMARY[2:], PRIMARY[:-1] + "G", "398DB73A2908A249", "*"]
)
def test_anything_but_a_fingerprint_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="not an OpenPGP fingerprint"):
        normalise_fingerprint(text)


# -- trust domains, as 0install's Trust.domain_from_url ---------------------------------------------


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("http://example.org/feed.xml", "example.org"),
        ("https://example.org/a/b/feed.xml", "example.org"),
        ("http://example.org:8080/feed.xml", "example.org:8080"),
        # The port is kept as written: a default port is not dropped, so it is another domain.
        ("http://example.org:80/feed.xml", "example.org:80"),
        ("https://example.org:443/feed.xml", "example.org:443"),
        # Case is kept too (0install compares domains as strings).
        ("http://Example.ORG/feed.xml", "Example.ORG"),
        ("http://[::1]:8080/feed.xml", "[::1]:8080"),
        ("http://127.0.0.1:43689/feeds/hello.xml", "127.0.0.1:43689"),
    ],
)
def test_domain_is_host_and_port_as_0install_computes_it(url: str, domain: str) -> None:
    assert domain_of(url) == domain


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org",  # 0install requires a slash after the host
        "ftp://example.org/feed.xml",
        "HTTP://example.org/feed.xml",  # the scheme is matched case-sensitively
        "file:///srv/feed.xml",
        "/srv/feed.xml",
        "http:///feed.xml",
        "http://*.example.org/feed.xml",  # no '*' in a host: a feed can never be in domain '*'
    ],
)
def test_url_without_a_domain_is_refused(url: str) -> None:
    with pytest.raises(UsageError, match="cannot tell which site"):
        domain_of(url)


@pytest.mark.parametrize(
    "url",
    [
        # Fetched from evil.example, but 0install's domain_from_url says good.example: the authority
        # ends at '?' (or '#') for urlsplit and httpx, while a pattern up to the first '/' skips to '@'.
        "http://evil.example?@good.example/feed.xml",
        "http://evil.example#@good.example/feed.xml",
        # Some parsers read '\\' as '/', others as part of the user info.
        "http://evil.example\\@good.example/feed.xml",
        "http://evil.example:80\\x/feed.xml",
        # Not a plain host and port.
        "http://example.org:/feed.xml",
        "http://example.org:0/feed.xml",
        "http://example.org:65536/feed.xml",
        "http://example.org:8o/feed.xml",
        "http://exa\tmple.org/feed.xml",
        "http://exa%6dple.org/feed.xml",
        "http://[::1/feed.xml",
    ],
)
def test_url_whose_host_parsers_could_read_differently_is_refused(url: str) -> None:
    with pytest.raises(UsageError, match="cannot tell which site"):
        domain_of(url)


@pytest.mark.parametrize(
    "url", ["http://user:pw@example.org/feed.xml", "http://a@b@example.org/feed.xml", "http://@example.org/feed.xml"]
)
def test_url_with_user_info_is_refused(url: str) -> None:
    # 0install skips user info to find the domain; 0xl refuses it, as it is how a URL shows one host
    # and is fetched from another (above).
    with pytest.raises(UsageError, match="has user info"):
        domain_of(url)


def test_host_in_unicode_is_refused_with_its_punycode_form() -> None:
    # A trust domain is ASCII (the database refuses anything else), so the user is told at once, not
    # after the feed was fetched and trusted.
    with pytest.raises(UsageError, match="not ASCII") as e:
        domain_of("https://b\u00fccher.example:8443/feed.xml")
    assert e.value.hint is not None and "xn--bcher-kva.example:8443" in e.value.hint
    with pytest.raises(UsageError, match="not ASCII") as e:
        TrustDB().add(PRIMARY, "b\u00fccher.example")
    assert e.value.hint is not None and "xn--bcher-kva.example" in e.value.hint


def test_punycode_hint_follows_idna_2008_not_the_standard_librarys_2003() -> None:
    # IDNA 2003 (Python's "idna" codec) maps ß to "ss": it would send the user to fass.de, another
    # domain, where IDNA 2008 keeps ß (xn--fa-hia.de), as browsers and curl resolve it.
    with pytest.raises(UsageError, match="not ASCII") as e:
        domain_of("https://fa\u00df.de/feed.xml")
    assert e.value.hint is not None and "(xn--fa-hia.de)" in e.value.hint
    assert "fass.de" not in e.value.hint
    with pytest.raises(UsageError, match="not ASCII") as e:
        check_domain("Fa\u00df.de:8443")  # UTS #46 maps upper case, as browsers do
    assert e.value.hint is not None and "(xn--fa-hia.de:8443)" in e.value.hint


def test_name_idna_2008_forbids_gets_no_punycode_to_copy() -> None:
    # IDNA 2003 encodes a snowman (xn--n3h.net); IDNA 2008 forbids symbols, so no registry hands such a
    # name out and there is nothing to suggest.
    with pytest.raises(UsageError, match="not ASCII") as e:
        domain_of("https://\u2603.net/feed.xml")
    assert e.value.hint is not None
    assert "xn--n3h" not in e.value.hint
    assert "not a valid internationalised domain name" in e.value.hint


# -- the database -----------------------------------------------------------------------------------


def test_key_is_trusted_only_for_its_domains() -> None:
    db = TrustDB()
    db.add(PRIMARY, "example.org")
    assert db.trusted(PRIMARY, "example.org")
    assert not db.trusted(PRIMARY, "example.org:8080")
    assert not db.trusted(PRIMARY, "evil.example")
    assert not db.trusted(OTHER, "example.org")


def test_star_domain_trusts_a_key_everywhere() -> None:
    db = TrustDB([(PRIMARY, ["*"])])
    assert db.trusted(PRIMARY, "example.org")
    assert db.trusted(PRIMARY, "127.0.0.1:1234")
    assert not db.trusted(OTHER, "example.org")


def test_add_and_remove_report_whether_anything_changed() -> None:
    db = TrustDB()
    assert db.add(PRIMARY.lower(), "a.example")
    assert not db.add(PRIMARY, "a.example")
    assert db.add(PRIMARY, "b.example")
    assert db.entries() == [(PRIMARY, ["a.example", "b.example"])]
    assert not db.remove(PRIMARY, "c.example")
    assert not db.remove(OTHER)
    assert db.remove(PRIMARY, "a.example")
    assert db.entries() == [(PRIMARY, ["b.example"])]
    assert db.remove(PRIMARY, "b.example")  # the last domain takes the key with it, as in 0install
    assert db.entries() == []
    db.add(PRIMARY, "a.example")
    db.add(PRIMARY, "b.example")
    assert db.remove(PRIMARY)
    assert db.entries() == []


@pytest.mark.parametrize("domain", ["", "a b", "a.org/path", "*.a.org", "a\nb", "caf\u00e9.example"])
def test_domain_that_names_no_site_is_refused(domain: str) -> None:
    with pytest.raises(UsageError):
        TrustDB().add(PRIMARY, domain)


def test_bad_fingerprint_is_refused_before_anything_changes() -> None:
    db = TrustDB()
    with pytest.raises(UsageError):
        db.add("not a key", "example.org")
    with pytest.raises(UsageError):
        db.add(PRIMARY, "a/b")
    assert db.entries() == []


def test_database_is_written_byte_for_byte_as_0install_writes_it() -> None:
    # What 0install 2.18 wrote after trusting a key (captured from a real run): declaration and
    # newline, default namespace on the root, no whitespace, no final newline.
    expected = (
        HEAD + b'<trusted-keys xmlns="http://zero-install.sourceforge.net/2007/injector/trust">'
        b'<key fingerprint="26F63AAA43ACCC687059367932FCA8FFE30BE351">'
        b'<domain value="127.0.0.1:43689"/></key></trusted-keys>'
    )
    db = TrustDB([("26F63AAA43ACCC687059367932FCA8FFE30BE351", ["127.0.0.1:43689"])])
    assert db.to_bytes() == expected
    assert TrustDB.from_bytes(expected) == db


def test_keys_and_domains_are_ordered_as_0install_orders_them() -> None:
    # Keys in descending order of fingerprint, domains ascending: checked against 0install's own
    # output in tests/integration/test_trust_interop.py.
    db = TrustDB([(PRIMARY, ["b.example"]), (OTHER, ["z.example", "*", "a.example:80"]), (SUBKEY, ["c"])])
    assert db.to_bytes() == (
        HEAD
        + f'<trusted-keys xmlns="{TRUST_NS}">'.encode()
        + f'<key fingerprint="{OTHER}"><domain value="*"/><domain value="a.example:80"/>'.encode()
        + b'<domain value="z.example"/></key>'
        + f'<key fingerprint="{PRIMARY}"><domain value="b.example"/></key>'.encode()
        + f'<key fingerprint="{SUBKEY}"><domain value="c"/></key>'.encode()
        + b"</trusted-keys>"
    )
    assert [fpr for fpr, _ in db.entries()] == [SUBKEY, PRIMARY, OTHER]


def test_empty_database_is_an_empty_root_element() -> None:
    assert TrustDB().to_bytes() == HEAD + f'<trusted-keys xmlns="{TRUST_NS}"/>'.encode()


def test_hand_written_database_with_whitespace_and_prefixes_is_read() -> None:
    data = f"""<?xml version='1.0'?>
<!-- trusted by hand -->
<t:trusted-keys xmlns:t="{TRUST_NS}">
  <t:key fingerprint="{PRIMARY}">
    <t:domain value="example.org"/>
    <t:domain value="example.org:8443"/>
  </t:key>
  <t:key fingerprint="{OTHER}"/>
  <other xmlns="urn:x-unknown"/>
</t:trusted-keys>
""".encode()
    db = TrustDB.from_bytes(data)
    assert db.entries() == [(PRIMARY, ["example.org", "example.org:8443"])]


def test_missing_file_is_an_empty_database(tmp_path: Path) -> None:
    assert TrustDB.load(tmp_path / "trustdb.xml").entries() == []


def test_save_then_load_round_trips_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "home" / "trustdb.xml"
    db = TrustDB([(PRIMARY, ["example.org", "*"]), (SUBKEY, ["127.0.0.1:8000"])])
    db.save(path)
    assert TrustDB.load(path) == db
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # ZEROXL_HOME is its owner's alone (docs/home.md)
    assert [p.name for p in path.parent.iterdir()] == ["trustdb.xml"]  # no temporary file left


@given(
    st.dictionaries(
        st.text(alphabet="0123456789ABCDEF", min_size=40, max_size=40),
        st.sets(
            st.text(alphabet=SITE_CHARS, min_size=1) | st.just("*"),
            min_size=1,
            max_size=4,
        ),
        max_size=5,
    )
)
def test_any_database_survives_writing_and_reading(keys: dict[str, set[str]]) -> None:
    db = TrustDB(keys.items())
    again = TrustDB.from_bytes(db.to_bytes())
    assert again == db
    assert again.to_bytes() == db.to_bytes()


def test_special_characters_are_escaped_as_0install_escapes_them() -> None:
    db = TrustDB([(PRIMARY, ["a&b<c>\"d'e"])])
    assert b'<domain value="a&amp;b&lt;c&gt;&quot;d\'e"/>' in db.to_bytes()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "corrupt"),
        (b"<trusted-keys", "corrupt"),
        (HEAD + f'<trusted-keys xmlns="{TRUST_NS}"><key fingerprint="{PRIMARY}">'.encode(), "corrupt"),
        (b"<trusted-keys/>", "not trusted-keys in namespace"),  # 0install would ignore every key here
        (f'<trust xmlns="{TRUST_NS}"/>'.encode(), "not trusted-keys"),
        (keys('<key><domain value="a"/></key>'), "no fingerprint"),
        (keys(f'<key fingerprint="{PRIMARY}"><domain/></key>'), "has no value"),
        (keys(f'<key fingerprint="{PRIMARY.lower()}"><domain value="a"/></key>'), "upper-case"),
        (
            keys(f'<key fingerprint="{PRIMARY}"><domain value="a"/></key>' * 2),
            "listed twice",
        ),
    ],
)
def test_corrupt_database_is_an_error_not_an_empty_database(data: bytes, why: str) -> None:
    with pytest.raises(StateError, match=why):
        TrustDB.from_bytes(data)


def test_entity_expansion_in_the_database_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>' + keys(
        f'<key fingerprint="{PRIMARY}"><domain value="&b;"/></key>'
    )
    with pytest.raises(StateError, match="corrupt"):
        TrustDB.from_bytes(bomb)


def test_unreadable_database_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "trustdb.xml").mkdir()
    with pytest.raises(StateError, match="cannot read"):
        TrustDB.load(tmp_path / "trustdb.xml")


# -- decisions --------------------------------------------------------------------------------------


def test_signature_by_a_trusted_key_is_accepted() -> None:
    check_trusted(sig(), "example.org", TrustDB([(PRIMARY, ["example.org"])]))


def test_signature_by_a_key_trusted_for_another_site_is_refused() -> None:
    db = TrustDB([(PRIMARY, ["example.org"])])
    with pytest.raises(UntrustedKey) as e:
        check_trusted(sig(), "evil.example", db)
    assert (e.value.fingerprint, e.value.domain) == (PRIMARY, "evil.example")
    assert "not trusted to sign feeds from evil.example" in e.value.message
    assert e.value.exit_status == 4


def test_trusting_the_primary_key_does_not_cover_a_signing_subkey() -> None:
    # As 0install: trust is keyed on the fingerprint gpg reports in VALIDSIG, the subkey's.
    db = TrustDB([(PRIMARY, ["example.org"])])
    with pytest.raises(UntrustedKey) as e:
        check_trusted(sig(fpr=SUBKEY), "example.org", db)
    assert e.value.fingerprint == SUBKEY
    check_trusted(sig(fpr=SUBKEY), "example.org", TrustDB([(SUBKEY, ["example.org"])]))


def test_trust_alone_is_check_trusteds_question() -> None:
    # Revoked and expired keys are check_signature's refusals, asked before trust (below).
    db = TrustDB([(PRIMARY, ["example.org"])])
    worn = SigInfo(PRIMARY, PRIMARY, 1, key_expired=True, key_revoked=True)
    check_trusted(worn, "example.org", db)


# check_not_replayed is the check feeds.load makes (add, update, mirror); tests/integration/test_refusals.py
# and test_updates.py show it refusing through the commands.
URL = "http://example.org/f.xml"
NOW = 1_800_000_000
LIMITS = SignatureLimits()


def test_replayed_older_feed_is_refused() -> None:
    with pytest.raises(ReplayedFeed, match="before the copy 0xl already has") as e:
        check_not_replayed(1000, 2000, feed_url=URL, now=NOW, limits=LIMITS)
    assert e.value.exit_status == 4
    assert "0xl trust forget-feed http://example.org/f.xml" in (e.value.hint or "")
    assert "replaying an old feed" in (e.value.hint or "")


def test_same_or_newer_feed_is_not_a_replay() -> None:
    check_not_replayed(2000, 2000, feed_url=URL, now=NOW, limits=LIMITS)
    check_not_replayed(2001, 2000, feed_url=URL, now=NOW, limits=LIMITS)
    check_not_replayed(5, None, feed_url=URL, now=NOW, limits=LIMITS)


def test_a_replay_against_a_copy_dated_in_the_future_says_how_to_forget_it() -> None:
    with pytest.raises(ReplayedFeed) as e:
        check_not_replayed(NOW, NOW + 86400, feed_url=URL, now=NOW, limits=LIMITS)
    assert "dated in the future" in (e.value.hint or "")
    assert "0xl trust forget-feed http://example.org/f.xml" in (e.value.hint or "")


# -- check_signature: the one decision add, update, mirror and feed check make on a good signature ------


def test_a_good_signature_of_today_is_usable() -> None:
    check_signature(sig(ts=NOW - 60), feed_url=URL, now=NOW, limits=LIMITS)
    check_signature(sig(ts=NOW + 299), feed_url=URL, now=NOW, limits=LIMITS)  # within the default 5 min skew


@pytest.mark.parametrize(
    ("info", "error", "words"),
    [
        (SigInfo(PRIMARY, PRIMARY, NOW, key_revoked=True), RevokedKey, "which has been revoked"),
        (SigInfo(PRIMARY, PRIMARY, NOW, key_expired=True, key_expired_at=NOW - 86400), ExpiredKey, "expired on"),
        (SigInfo(PRIMARY, PRIMARY, NOW - 86400, sig_expired=True, expires=NOW - 10), ExpiredSignature, "expired on"),
        # A copy 0xl kept: no gpg flag, but its expiry date has passed since.
        (SigInfo(PRIMARY, PRIMARY, NOW - 86400, expires=NOW), ExpiredSignature, "expired on"),
        (SigInfo(PRIMARY, PRIMARY, NOW + 301), FutureSignature, "ahead of this host's clock"),
        # Revoked wins over everything else: it is the reason that matters.
        (SigInfo(PRIMARY, PRIMARY, NOW + 999, key_revoked=True, key_expired=True), RevokedKey, "revoked"),
    ],
)
def test_unusable_signatures_are_refused_saying_why(info: SigInfo, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words) as e:
        check_signature(info, feed_url=URL, now=NOW, limits=LIMITS)
    assert e.value.exit_status == 4  # type: ignore[attr-defined]


def test_the_clock_skew_and_the_oldest_signature_are_the_hosts_settings() -> None:
    strict = SignatureLimits(max_clock_skew=0, max_age=30 * 86400)
    with pytest.raises(FutureSignature, match="at most 0 s is allowed"):
        check_signature(sig(ts=NOW + 1), feed_url=URL, now=NOW, limits=strict)
    with pytest.raises(StaleSignature, match=r"31 days ago: longer ago than this host accepts .*30 days"):
        check_signature(sig(ts=NOW - 31 * 86400), feed_url=URL, now=NOW, limits=strict)
    check_signature(sig(ts=NOW - 29 * 86400), feed_url=URL, now=NOW, limits=strict)
    check_signature(sig(ts=NOW - 3650 * 86400), feed_url=URL, now=NOW, limits=LIMITS)  # no limit by default


def test_status_warns_about_old_expired_and_future_signatures() -> None:
    assert signature_warning(NOW - 89 * 86400, None, now=NOW, limits=LIMITS) is None
    assert "longer ago than [trust] warn_signature_age (90 days)" in (
        signature_warning(NOW - 91 * 86400, None, now=NOW, limits=LIMITS) or ""
    )
    assert "expired on" in (signature_warning(NOW - 60, NOW - 1, now=NOW, limits=LIMITS) or "")
    assert "0xl trust forget-feed" in (signature_warning(NOW + 86400, None, now=NOW, limits=LIMITS) or "")
    assert signature_warning(NOW - 91 * 86400, None, now=NOW, limits=SignatureLimits(warn_age=0)) is None


# -- what `make mutate` found untested (docs/mutation.md) --------------------------------------------
# Dates in messages: 1_800_000_000 is 2027-01-15 08:00:00 UTC (`date -u -d @1800000000`).


@pytest.mark.parametrize(
    ("info", "words"),
    [
        (SigInfo(PRIMARY, PRIMARY, NOW, key_revoked=True), f"the feed {URL} is signed by key {PRIMARY}, which has"),
        (
            SigInfo(PRIMARY, PRIMARY, NOW, key_expired=True, key_expired_at=NOW - 86400),
            f"the feed {URL} is signed by key {PRIMARY}, which expired on 2027-01-14 08:00:00 UTC",
        ),
        (
            SigInfo(PRIMARY, PRIMARY, NOW - 86400, sig_expired=True, expires=NOW - 10),
            f"the feed {URL} expired on 2027-01-15 07:59:50 UTC (it was made on 2027-01-14 08:00:00 UTC)",
        ),
        # gpg said EXPSIG but gave no expiry date: the signature counts as expired now.
        (
            SigInfo(PRIMARY, PRIMARY, NOW - 86400, sig_expired=True),
            f"the feed {URL} expired on 2027-01-15 08:00:00 UTC",
        ),
        (SigInfo(PRIMARY, PRIMARY, NOW + 3600), f"the feed {URL} is signed at 2027-01-15 09:00:00 UTC, 60 min ahead"),
    ],
)
def test_refusals_name_the_feed_the_key_and_the_dates_in_utc(
    info: SigInfo, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In UTC whatever the host's time zone: a date in the zone of whoever reads the log misleads.
    monkeypatch.setenv("TZ", "JST-9")  # POSIX form: needs no tzdata
    time.tzset()
    try:
        with pytest.raises(VerificationError) as e:
            check_signature(info, feed_url=URL, now=NOW, limits=LIMITS)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert words in e.value.message
    assert e.value.hint  # every refusal says what to do next


def test_stale_signature_names_the_feed_and_says_how_to_allow_it() -> None:
    limits = SignatureLimits(max_age=30 * 86400)
    with pytest.raises(StaleSignature) as e:
        check_signature(sig(ts=NOW - 31 * 86400), feed_url=URL, now=NOW, limits=limits)
    assert f"the feed {URL} was signed on 2026-12-15 08:00:00 UTC" in e.value.message
    assert "max_signature_age" in (e.value.hint or "")


def test_key_expired_at_an_unknown_date_is_refused_without_a_date() -> None:
    info = SigInfo(PRIMARY, PRIMARY, NOW, key_expired=True, key_expired_at=None)
    with pytest.raises(ExpiredKey) as e:
        check_signature(info, feed_url=URL, now=NOW, limits=LIMITS)
    assert e.value.message.endswith(f"key {PRIMARY}, which expired")
    assert f"beside the feed as {PRIMARY[-16:]}.gpg:" in (e.value.hint or "")  # the 16-hex key id


def test_limits_are_inclusive_at_their_edge() -> None:
    # Exactly the allowed skew or age is allowed; one second more is not (checked above).
    check_signature(sig(ts=NOW + 300), feed_url=URL, now=NOW, limits=LIMITS)
    strict = SignatureLimits(max_age=30 * 86400)
    check_signature(sig(ts=NOW - 30 * 86400), feed_url=URL, now=NOW, limits=strict)
    assert signature_warning(NOW + 300, None, now=NOW, limits=LIMITS) is None
    assert signature_warning(NOW - 90 * 86400, None, now=NOW, limits=LIMITS) is None
    # A signature expiring now has expired: the refusal and the warning agree.
    assert "expired on" in (signature_warning(NOW - 60, NOW, now=NOW, limits=LIMITS) or "")


def test_a_replay_against_a_copy_within_the_clock_skew_is_called_a_replay() -> None:
    # The copy is in the past by less than the skew: not "dated in the future", so the hint is the replay one.
    with pytest.raises(ReplayedFeed) as e:
        check_not_replayed(NOW - 200, NOW - 100, feed_url=URL, now=NOW, limits=LIMITS)
    assert "replaying an old feed" in (e.value.hint or "")
    # Exactly at the skew is still within it.
    with pytest.raises(ReplayedFeed) as e:
        check_not_replayed(NOW - 200, NOW + 300, feed_url=URL, now=NOW, limits=LIMITS)
    assert "replaying an old feed" in (e.value.hint or "")


def test_untrusted_key_hint_shows_the_fingerprint_in_groups_of_four() -> None:
    with pytest.raises(UntrustedKey) as e:
        check_trusted(sig(), "example.org", TrustDB())
    assert "8CE3 8150 3423 072C B0F1 4C5C 398D B73A 2908 A249" in (e.value.hint or "")
    assert f"0xl trust add {PRIMARY} --domain example.org" in (e.value.hint or "")


def test_databases_with_different_keys_are_not_equal() -> None:
    assert TrustDB([(PRIMARY, ["example.org"])]) != TrustDB([(OTHER, ["example.org"])])
    assert TrustDB([(PRIMARY, ["example.org"])]) != TrustDB([(PRIMARY, ["example.net"])])
    assert TrustDB([(PRIMARY, ["b", "a"])]) == TrustDB([(PRIMARY, ["a", "b"])])


def test_domains_of_a_key_are_listed_sorted_and_none_for_an_unknown_key() -> None:
    db = TrustDB([(PRIMARY, ["example.org", "a.example:8080"])])
    assert db.domains(PRIMARY.lower()) == ["a.example:8080", "example.org"]
    assert db.domains(OTHER) == []


def test_corrupt_database_says_which_file_what_the_parser_saw_and_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "trustdb.xml").write_bytes(b"<trusted-keys")
    with pytest.raises(StateError) as e:
        TrustDB.load(tmp_path / "trustdb.xml")
    assert f"the trust database {tmp_path / 'trustdb.xml'} is corrupt: unclosed token: line 1" in e.value.message
    assert "until then 0xl trusts no key" in (e.value.hint or "")


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("ftp://example.org/feed.xml", "http://HOST[:PORT]/PATH"),
        ("http://user@example.org/feed.xml", "no user name or password"),
        ("http://example.org:99999/feed.xml", "http://HOST[:PORT]/PATH"),
    ],
)
def test_refused_feed_urls_say_what_a_feed_url_looks_like(url: str, hint: str) -> None:
    with pytest.raises(UsageError) as e:
        domain_of(url)
    assert hint in (e.value.hint or "")


def test_refused_fingerprints_and_domains_say_what_to_write() -> None:
    with pytest.raises(UsageError) as e:
        normalise_fingerprint("398DB73A2908A249")
    assert "40 hexadecimal digits" in (e.value.hint or "")
    with pytest.raises(UsageError) as e:
        TrustDB().add(PRIMARY, "example.org/feeds")
    assert "example.org:8080" in (e.value.hint or "")


def test_a_database_that_cannot_be_written_is_a_state_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StateError) as e:
        TrustDB([(PRIMARY, ["example.org"])]).save(tmp_path / "file" / "trustdb.xml")
    assert f"cannot write the trust database {tmp_path / 'file' / 'trustdb.xml'}" in e.value.message


def test_warnings_say_how_far_off_the_signature_is() -> None:
    assert "dated 24 h in the future" in (signature_warning(NOW + 86400, None, now=NOW, limits=LIMITS) or "")
    assert "signed 91 days ago" in (signature_warning(NOW - 91 * 86400, None, now=NOW, limits=LIMITS) or "")
