"""Deciding on gpg's --status-fd output as 0install does (src/support/gpg.ml), and reading key listings.

The lines here were captured from gpg 2.2.40; the integration tests produce them with the real gpg.
"""

from __future__ import annotations

import pytest

from zeroxl.errors import VerificationError
from zeroxl.feeds.gpg import BadSignature, KeyInfo, MissingKey, parse_colons, parse_verify_status
from zeroxl.feeds.signature import SigInfo

PRIMARY = "8CE381503423072CB0F14C5C398DB73A2908A249"
SUBKEY = "33E7F5A0D5C919247A81D96E6F03C8F32EFF4C29"

GOOD_BY_SUBKEY = f"""\
[GNUPG:] NEWSIG
[GNUPG:] KEY_CONSIDERED {PRIMARY} 0
[GNUPG:] SIG_ID tdqitUgOpBejXd5NZH2qaZFGPx4 2026-11-27 1795775743
[GNUPG:] KEY_CONSIDERED {PRIMARY} 0
[GNUPG:] GOODSIG 6F03C8F32EFF4C29 P <p@x>
[GNUPG:] VALIDSIG {SUBKEY} 2026-11-27 1795775743 0 4 0 22 8 00 {PRIMARY}
[GNUPG:] KEY_CONSIDERED {PRIMARY} 0
[GNUPG:] TRUST_UNDEFINED 0 pgp
"""

MISSING = f"""\
[GNUPG:] NEWSIG
[GNUPG:] ERRSIG 6F03C8F32EFF4C29 22 8 00 1795775743 9 {SUBKEY}
[GNUPG:] NO_PUBKEY 6F03C8F32EFF4C29
"""

BAD = """\
[GNUPG:] NEWSIG
[GNUPG:] KEY_CONSIDERED 8CE381503423072CB0F14C5C398DB73A2908A249 0
[GNUPG:] BADSIG 6F03C8F32EFF4C29 P <p@x>
[GNUPG:] FAILURE gpg-exit 33554433
"""

OLD = "B2D86688EC680A5F170306F1520CB69191349AE8"
EXPIRED = f"""\
[GNUPG:] NEWSIG
[GNUPG:] KEYEXPIRED 1577923200
[GNUPG:] EXPKEYSIG 520CB69191349AE8 Old <o@x>
[GNUPG:] VALIDSIG {OLD} 2020-01-01 1577840400 0 4 0 22 8 00 {OLD}
"""

REVOKED = f"""\
[GNUPG:] NEWSIG
[GNUPG:] REVKEYSIG 398DB73A2908A249 P <p@x>
[GNUPG:] VALIDSIG {PRIMARY} 2026-11-27 1795775743 0 4 0 22 8 00 {PRIMARY}
[GNUPG:] KEYREVOKED
"""


def test_validsig_gives_signing_key_primary_key_and_time() -> None:
    assert parse_verify_status(GOOD_BY_SUBKEY) == SigInfo(SUBKEY, PRIMARY, 1795775743)


def test_badsig_means_the_feed_was_modified() -> None:
    with pytest.raises(BadSignature, match="signature does not match: the feed was modified after signing") as e:
        parse_verify_status(BAD)
    assert e.value.reason == "bad-signature"


def test_badsig_wins_over_a_validsig_in_the_same_block() -> None:
    # 0install would accept a block with one good trusted signature beside a bad one; 0xl does not.
    with pytest.raises(BadSignature) as e:
        parse_verify_status(GOOD_BY_SUBKEY + BAD)
    assert e.value.reason == "bad-signature"


def test_errsig_for_a_missing_key_carries_its_key_id() -> None:
    with pytest.raises(MissingKey) as e:
        parse_verify_status(MISSING)
    assert (e.value.keyid, e.value.fingerprint) == ("6F03C8F32EFF4C29", SUBKEY)
    assert isinstance(e.value, VerificationError)


def test_errsig_without_issuer_fingerprint_still_names_the_key() -> None:
    with pytest.raises(MissingKey) as e:
        parse_verify_status("[GNUPG:] ERRSIG 6F03C8F32EFF4C29 22 8 00 1795775743 9 -\n")
    assert (e.value.keyid, e.value.fingerprint) == ("6F03C8F32EFF4C29", None)


def test_errsig_reason_code_high_bits_are_ignored_as_0install_does() -> None:
    # gpg 2.1.16 set higher bits by mistake (Debian bug 846834); 0install masks with 0xffff.
    with pytest.raises(MissingKey):
        parse_verify_status(f"[GNUPG:] ERRSIG 6F03C8F32EFF4C29 22 8 00 1795775743 {(1 << 24) | 9}\n")


def test_errsig_for_an_unknown_algorithm_is_refused() -> None:
    with pytest.raises(VerificationError, match="algorithm gpg does not support") as e:
        parse_verify_status("[GNUPG:] ERRSIG 6F03C8F32EFF4C29 99 8 00 1795775743 4 -\n")
    assert not isinstance(e.value, MissingKey)


def test_errsig_for_another_reason_is_refused() -> None:
    with pytest.raises(VerificationError, match="reason code 58"):
        parse_verify_status("[GNUPG:] ERRSIG 6F03C8F32EFF4C29 22 8 00 1795775743 58 -\n")


def test_no_status_at_all_is_refused_with_gpgs_reason() -> None:
    with pytest.raises(VerificationError, match="no valid signature: gpg: not a detached signature"):
        parse_verify_status("", stderr="gpg: not a detached signature")


def test_goodsig_without_validsig_is_not_enough() -> None:
    with pytest.raises(VerificationError, match="no valid signature"):
        parse_verify_status("[GNUPG:] GOODSIG 6F03C8F32EFF4C29 P <p@x>\n")


def test_two_signatures_are_refused() -> None:
    with pytest.raises(VerificationError, match="2 signatures"):
        parse_verify_status(GOOD_BY_SUBKEY + GOOD_BY_SUBKEY)


def test_expired_and_revoked_keys_give_a_valid_signature_flagged_for_check_signature() -> None:
    expired = parse_verify_status(EXPIRED)
    assert expired.key_expired and not expired.key_revoked
    assert expired.timestamp == 1577840400
    assert expired.key_expired_at == 1577923200  # from KEYEXPIRED, for the message
    revoked = parse_verify_status(REVOKED)
    assert revoked.key_revoked and not revoked.key_expired


# Captured from gpg 2.2.40: a signature made with --default-sig-expire seconds=5, verified after that.
EXPIRED_SIGNATURE = f"""[GNUPG:] NEWSIG
[GNUPG:] KEY_CONSIDERED {PRIMARY} 0
[GNUPG:] SIG_ID 9U31I7WqNrFurHSSqR52PsUBy88 2026-12-06 1796552855
[GNUPG:] EXPSIG 398DB73A2908A249 P <p@x>
[GNUPG:] VALIDSIG {PRIMARY} 2026-12-06 1796552855 1796552860 4 0 22 8 00 {PRIMARY}
[GNUPG:] FAILURE gpg-exit 33554433
"""


def test_a_signatures_expiry_is_read_from_validsig() -> None:
    info = parse_verify_status(EXPIRED_SIGNATURE)
    assert info.sig_expired and (info.timestamp, info.expires) == (1796552855, 1796552860)
    assert parse_verify_status(GOOD_BY_SUBKEY).expires is None  # 0: no expiry


def test_iso_8601_signature_times_are_read() -> None:
    # The time of GOOD_BY_SUBKEY's VALIDSIG: `date -u -d '2026-11-27 10:35:43' +%s` prints 1795775743.
    line = f"[GNUPG:] VALIDSIG {PRIMARY} 2026-11-27 20261127T103543 0 4 0 22 8 00 {PRIMARY}\n"
    assert parse_verify_status(line).timestamp == 1795775743


@pytest.mark.parametrize(
    "line",
    [
        "[GNUPG:] VALIDSIG\n",
        "[GNUPG:] VALIDSIG ABCDEF 2026-11-27 1795775743\n",
        f"[GNUPG:] VALIDSIG {PRIMARY} 2026-11-27 yesterday\n",
    ],
)
def test_unreadable_validsig_is_refused_not_trusted(line: str) -> None:
    with pytest.raises(VerificationError):
        parse_verify_status(line)


def test_lines_that_are_not_status_lines_are_ignored() -> None:
    # Status lines only count when they start a line with the prefix (0install warns about others).
    forged = f"gpg: [GNUPG:] VALIDSIG {PRIMARY} 2026-11-27 1 0 4 0 22 8 00 {PRIMARY}\n" + MISSING
    with pytest.raises(MissingKey):
        parse_verify_status(forged)


def test_validsig_without_primary_fingerprint_uses_the_signing_key() -> None:
    assert parse_verify_status(f"[GNUPG:] VALIDSIG {PRIMARY} 2026-11-27 5\n") == SigInfo(PRIMARY, PRIMARY, 5)


# -- key listings -----------------------------------------------------------------------------------

LISTING = f"""\
tru:t:1:1795776015:0:3:1:5
pub:e:255:22:520CB69191349AE8:1577836800:1577923200::-:::sc:::::ed25519:::0:
fpr:::::::::B2D86688EC680A5F170306F1520CB69191349AE8:
uid:e::::1577836800::B71BA1C0EF2ED6DF1B01AEE0135CEC096A925283::Old <o@x>::::::::::0:
pub:r:255:22:398DB73A2908A249:1795775743:::-:::sc:::::ed25519:::0:
fpr:::::::::{PRIMARY}:
uid:r::::1795775743::D3D3DE77AB3BCADB53FD9BF0DC0D3712C661CA40::P \\x3a colon <p@x>::::::::::0:
uid:r::::1795775743::D3D3DE77AB3BCADB53FD9BF0DC0D3712C661CA41::Second <p2@x>::::::::::0:
sub:r:255:22:6F03C8F32EFF4C29:1795775743::::::s:::::ed25519::
fpr:::::::::{SUBKEY}:
"""

SECRET = f"""\
sec:-:255:22:398DB73A2908A249:1795775743:::-:::scSC:::#::ed25519:::0:
fpr:::::::::{PRIMARY}:
grp:::::::::D868CA14901DCEBE25A9B94BE37179701A5A6826:
uid:-::::1795775743::D3D3DE77AB3BCADB53FD9BF0DC0D3712C661CA40::P <p@x>::::::::::0:
ssb:-:255:22:6F03C8F32EFF4C29:1795775743::::::s:::#::ed25519::
fpr:::::::::{SUBKEY}:
grp:::::::::462D22368F000A8CFFE630AC4CC6385002FA38E5:
"""


def test_listing_gives_keys_with_uids_subkeys_and_validity() -> None:
    assert parse_colons(LISTING) == [
        KeyInfo("B2D86688EC680A5F170306F1520CB69191349AE8", ("Old <o@x>",), (), expired=True),
        KeyInfo(PRIMARY, ("P : colon <p@x>", "Second <p2@x>"), (SUBKEY,), revoked=True),
    ]


def test_secret_key_listing_is_marked_secret() -> None:
    [key] = parse_colons(SECRET)
    assert key.secret
    assert (key.fingerprint, key.subkeys) == (PRIMARY, (SUBKEY,))


def test_user_ids_are_unescaped_to_what_their_owner_wrote_control_characters_included() -> None:
    # As gpg 2.2.40 lists a user id made with --quick-gen-key $'Evil \e[2K\rFake\n: \\x41' (tests/integration
    # makes and shows such a key): ESC, ':' and '\\' as \xHH, CR and LF as \r and \n. Showing it safely is
    # zeroxl.safetext's job, which needs the real characters.
    listing = (
        f"pub:u:255:22:398DB73A2908A249:1795775743:::u:::scSC:::::ed25519:::0:\nfpr:::::::::{PRIMARY}:\n"
        "uid:u::::1795775743::D3D3DE77AB3BCADB53FD9BF0DC0D3712C661CA40::"
        "Evil \\x1b[2K\\rFake\\n\\x3a \\x5cx41::::::::::0:\n"
    )
    [key] = parse_colons(listing)
    assert key.uids == ("Evil \x1b[2K\rFake\n: \\x41",)


def test_key_matches_its_subkeys_and_key_ids() -> None:
    [_, key] = parse_colons(LISTING)
    assert key.has(PRIMARY) and key.has(SUBKEY)
    assert key.has("6F03C8F32EFF4C29") and key.has("398db73a2908a249")
    assert not key.has(OLD)


# -- what `make mutate` found untested (docs/mutation.md) ------------------------------------------------


def test_refusals_say_which_algorithm_and_what_happened() -> None:
    with pytest.raises(VerificationError) as e:
        parse_verify_status("[GNUPG:] ERRSIG 6F03C8F32EFF4C29 99 8 00 1795775743 4 -\n")
    assert e.value.message.endswith("(number 99)")
    with pytest.raises(BadSignature) as bad:
        parse_verify_status("[GNUPG:] BADSIG 6F03C8F32EFF4C29 P <p@x>\n")
    assert "someone changed the feed on its way to you" in (bad.value.hint or "")
