"""Gpg against the real gpg: 0xl's own keyring, signatures, and what may be imported into it."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gpgkeys import Publisher, make_publisher
from zeroxl.errors import NotFoundError, UsageError, VerificationError
from zeroxl.feeds.gpg import MAX_KEYS_PER_FILE, OPTIONS, BadSignature, Gpg, MissingKey
from zeroxl.proc import CommandFailed

DATA = b'<?xml version="1.0" ?>\n<interface uri="http://example.org/a.xml"/>\n'


def detached(pub: Publisher, data: bytes, key: str | None = None, *extra: str) -> bytes:
    signer = (key or pub.fingerprint) + "!"  # '!': exactly this key, not gpg's choice of subkey
    return pub.gpg(*extra, "--detach-sign", "--local-user", signer, "--output", "-", input=data)


def add_signing_subkey(pub: Publisher) -> str:
    """Add a signing subkey to PUB's key and return its fingerprint."""
    pub.gpg("--quick-add-key", pub.fingerprint, "ed25519", "sign", "never")
    return fingerprints(pub)[-1]


def fingerprints(pub: Publisher) -> list[str]:
    listing = pub.gpg("--with-colons", "--list-keys").decode()
    return [str(f) for f in re.findall(r"^fpr:+([0-9A-F]{40}):", listing, re.MULTILINE)]


def stop_agent(gnupghome: Path) -> None:
    # Key generation starts a gpg-agent for the publisher's home; end it with the test.
    subprocess.run(["gpgconf", "--homedir", str(gnupghome), "--kill", "gpg-agent"], capture_output=True)


@pytest.fixture
def gpg(tmp_path: Path) -> Gpg:
    return Gpg(tmp_path / "zhome" / "gnupg")


@pytest.fixture(scope="module")
def subkey_publisher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Publisher, str]]:
    pub = make_publisher(tmp_path_factory.mktemp("subkey") / "gnupg", "Subkey Publisher", "sub@example.org")
    try:
        yield pub, add_signing_subkey(pub)
    finally:
        stop_agent(pub.gnupghome)


@pytest.fixture(scope="module")
def expired_publisher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Publisher]:
    """A key made in 2020 that expired a day later, and DATA signed while it was valid."""
    home = tmp_path_factory.mktemp("expired") / "gnupg"
    home.mkdir(mode=0o700)
    pub = Publisher(home, "", "Expired <old@example.org>")
    try:
        in_2020 = ("--faked-system-time", "20200101T000000")
        pub.gpg(*in_2020, "--quick-generate-key", pub.uid, "ed25519", "sign", "1d")
        pub.fingerprint = fingerprints(pub)[0]
        yield pub
    finally:
        stop_agent(home)


@pytest.fixture(scope="module")
def revoked_publisher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Publisher, bytes]]:
    """A key, DATA signed by it, and then the key revoked by its owner (the signature made before)."""
    pub = make_publisher(tmp_path_factory.mktemp("revoked") / "gnupg", "Revoked", "rev@example.org")
    try:
        sig = detached(pub, DATA)
        pub.revoke()
        yield pub, sig
    finally:
        stop_agent(pub.gnupghome)


def processes_using(home: Path) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(home) in text:
            found.append(text)
    return found


# -- the keyring ---------------------------------------------------------------------------------


def test_home_is_private_and_its_options_keep_user_config_out(tmp_path: Path) -> None:
    home = tmp_path / "zhome" / "gnupg"
    Gpg(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert (home / "gpg.conf").read_text() == OPTIONS
    for option in ("no-auto-key-retrieve", "no-auto-key-locate", "disable-dirmngr", "no-autostart"):
        assert re.search(rf"^{option}$", OPTIONS, re.M)


def test_loosened_home_and_edited_options_are_restored(tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    Gpg(home)
    home.chmod(0o755)
    (home / "gpg.conf").write_text("auto-key-retrieve\nkeyserver hkps://keys.example.org\n")
    Gpg(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert (home / "gpg.conf").read_text() == OPTIONS


def test_users_own_keyring_is_never_consulted(gpg: Gpg, publisher: Publisher, monkeypatch: pytest.MonkeyPatch) -> None:
    # The user's GNUPGHOME holds the publisher's key; 0xl must still not know it.
    monkeypatch.setenv("GNUPGHOME", str(publisher.gnupghome))
    before = sorted(p.name for p in publisher.gnupghome.iterdir())
    with pytest.raises(MissingKey):
        gpg.verify(DATA, detached(publisher, DATA))
    assert gpg.list_keys() == []
    assert sorted(p.name for p in publisher.gnupghome.iterdir()) == before


def test_gpg_starts_no_agent_or_dirmngr(gpg: Gpg, publisher: Publisher) -> None:
    gpg.import_key(publisher.armored_public_key(), publisher.keyid)
    gpg.verify(DATA, detached(publisher, DATA))
    gpg.list_keys()
    assert processes_using(gpg.home) == []
    assert not [p for p in gpg.home.iterdir() if p.is_socket()]


def test_a_gpg_that_hangs_is_stopped_by_the_timeout(tmp_path: Path) -> None:
    slow = Gpg(tmp_path / "gnupg", timeout=0.0001)
    with pytest.raises(CommandFailed, match="did not finish within"):
        slow.list_keys()


# -- signatures ----------------------------------------------------------------------------------


def test_good_signature_names_the_signer_and_the_time(gpg: Gpg, publisher: Publisher) -> None:
    gpg.import_key(publisher.armored_public_key(), publisher.keyid)
    before = int(time.time())
    info = gpg.verify(DATA, detached(publisher, DATA))
    assert info.fingerprint == info.primary_fingerprint == publisher.fingerprint
    assert before - 5 <= info.timestamp <= int(time.time()) + 5
    assert not (info.key_expired or info.key_revoked or info.sig_expired)


def test_data_edited_after_signing_is_refused(gpg: Gpg, publisher: Publisher) -> None:
    gpg.import_key(publisher.armored_public_key(), publisher.keyid)
    sig = detached(publisher, DATA)
    with pytest.raises(BadSignature, match="signature does not match: the feed was modified after signing") as e:
        gpg.verify(DATA.replace(b"example.org", b"example.com"), sig)
    assert e.value.reason == "bad-signature"  # from gpg's BADSIG status line, not from the words


def test_signature_by_a_key_not_in_the_keyring_names_its_key_id(gpg: Gpg, publisher: Publisher) -> None:
    with pytest.raises(MissingKey) as e:
        gpg.verify(DATA, detached(publisher, DATA))
    assert e.value.keyid == publisher.keyid
    assert e.value.fingerprint == publisher.fingerprint  # gpg 2.2 reports the issuer fingerprint too
    assert e.value.exit_status == 4


def test_signature_by_a_subkey_reports_the_subkey_fingerprint(
    gpg: Gpg, subkey_publisher: tuple[Publisher, str]
) -> None:
    pub, subkey = subkey_publisher
    sig = detached(pub, DATA, subkey)
    with pytest.raises(MissingKey) as e:
        gpg.verify(DATA, sig)
    assert e.value.keyid == subkey[-16:]  # the subkey's id: what 0install fetches as KEYID.gpg
    gpg.import_key(pub.armored_public_key(), e.value.keyid)
    info = gpg.verify(DATA, sig)
    assert (info.fingerprint, info.primary_fingerprint) == (subkey, pub.fingerprint)


def test_signed_message_posing_as_a_detached_signature_is_refused(gpg: Gpg, publisher: Publisher) -> None:
    # An inline-signed message carries its own data; gpg must not verify that instead of ours.
    gpg.import_key(publisher.armored_public_key(), publisher.keyid)
    inline = publisher.gpg("--sign", "--output", "-", input=b"<?xml something else entirely\n")
    with pytest.raises(VerificationError, match="no valid signature") as e:
        gpg.verify(DATA, inline)
    assert not isinstance(e.value, MissingKey)


def test_garbage_signature_is_refused(gpg: Gpg) -> None:
    with pytest.raises(VerificationError, match="no valid signature"):
        gpg.verify(DATA, b"\x89PNG not a signature")


def test_signature_from_an_expired_key_is_valid_but_flagged_as_in_0install(
    gpg: Gpg, expired_publisher: Publisher
) -> None:
    sig = detached(expired_publisher, DATA, None, "--faked-system-time", "20200101T010000")
    gpg.import_key(expired_publisher.armored_public_key(), expired_publisher.keyid)
    info = gpg.verify(DATA, sig)
    assert info.fingerprint == expired_publisher.fingerprint
    assert info.key_expired and not info.key_revoked
    assert gpg.key_info(expired_publisher.fingerprint).expired


def test_signature_from_a_revoked_key_is_valid_but_flagged_as_in_0install(
    gpg: Gpg, revoked_publisher: tuple[Publisher, bytes]
) -> None:
    pub, sig = revoked_publisher
    gpg.import_key(pub.armored_public_key(), pub.keyid)
    info = gpg.verify(DATA, sig)
    assert info.fingerprint == pub.fingerprint
    assert info.key_revoked
    assert gpg.key_info(pub.fingerprint).revoked


# -- importing keys ------------------------------------------------------------------------------


def test_import_returns_the_fingerprint_and_is_idempotent(gpg: Gpg, publisher: Publisher) -> None:
    assert gpg.import_key(publisher.armored_public_key(), publisher.keyid) == [publisher.fingerprint]
    assert gpg.import_key(publisher.armored_public_key(), publisher.fingerprint) == [publisher.fingerprint]
    assert [k.fingerprint for k in gpg.list_keys()] == [publisher.fingerprint]


def test_key_needed_by_its_subkey_id_is_found_in_the_file(gpg: Gpg, subkey_publisher: tuple[Publisher, str]) -> None:
    pub, subkey = subkey_publisher
    assert gpg.import_key(pub.armored_public_key(), subkey[-16:]) == [pub.fingerprint]


def test_key_file_holding_another_key_is_refused(gpg: Gpg, publisher: Publisher, other_publisher: Publisher) -> None:
    with pytest.raises(VerificationError, match=f"holds key {other_publisher.fingerprint}, not the key"):
        gpg.import_key(other_publisher.armored_public_key(), publisher.keyid)
    assert gpg.list_keys() == []


def test_key_file_with_an_extra_key_is_refused(gpg: Gpg, publisher: Publisher, other_publisher: Publisher) -> None:
    both = publisher.armored_public_key() + other_publisher.armored_public_key()
    with pytest.raises(VerificationError, match="holds 2 keys; 0xl imports only the key"):
        gpg.import_key(both, publisher.keyid)
    assert gpg.list_keys() == []


def test_key_file_with_a_secret_key_is_refused(gpg: Gpg, publisher: Publisher) -> None:
    secret = publisher.gpg("--armor", "--export-secret-keys", publisher.fingerprint)
    with pytest.raises(VerificationError, match="secret key"):
        gpg.import_key(secret, publisher.keyid)
    with pytest.raises(VerificationError, match="secret key"):
        gpg.import_key(secret)
    assert gpg.list_keys() == []


def test_file_with_too_many_keys_is_refused(gpg: Gpg, tmp_path: Path) -> None:
    home = tmp_path / "many"
    home.mkdir(mode=0o700)
    env = dict(os.environ, GNUPGHOME=str(home))
    base = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    try:
        for i in range(MAX_KEYS_PER_FILE + 1):
            uid = f"K{i} <k{i}@example.org>"
            generate = [*base, "--quick-generate-key", uid, "ed25519", "sign", "never"]
            subprocess.run(generate, env=env, check=True, capture_output=True)
        many = subprocess.run([*base, "--armor", "--export"], env=env, check=True, capture_output=True).stdout
    finally:
        stop_agent(home)
    with pytest.raises(VerificationError, match=f"holds {MAX_KEYS_PER_FILE + 1} keys"):
        gpg.import_key(many)
    assert gpg.list_keys() == []


@pytest.mark.parametrize("data", [b"", b"not a key", b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n"])
def test_file_that_is_not_a_key_is_refused(gpg: Gpg, data: bytes) -> None:
    with pytest.raises(VerificationError, match="does not hold an OpenPGP public key"):
        gpg.import_key(data, "398DB73A2908A249", source="the key file http://127.0.0.1/x.gpg")


# -- showing keys --------------------------------------------------------------------------------


def in_keyring(gpg: Gpg, fingerprint: str) -> bool:
    """Whether FINGERPRINT (of a primary key or a subkey) is in GPG's keyring."""
    return any(key.has(fingerprint) for key in gpg.list_keys(fingerprint))


def test_key_info_shows_uids_and_finds_a_key_by_its_subkey(gpg: Gpg, subkey_publisher: tuple[Publisher, str]) -> None:
    pub, subkey = subkey_publisher
    gpg.import_key(pub.armored_public_key(), pub.keyid)
    info = gpg.key_info(subkey.lower())
    assert info.fingerprint == pub.fingerprint
    assert info.uids == ("Subkey Publisher <sub@example.org>",)
    assert info.subkeys == (subkey,)
    assert in_keyring(gpg, pub.fingerprint) and in_keyring(gpg, subkey)


def test_unknown_key_is_not_found(gpg: Gpg, publisher: Publisher, other_publisher: Publisher) -> None:
    gpg.import_key(publisher.armored_public_key(), publisher.keyid)
    assert not in_keyring(gpg, other_publisher.fingerprint)
    with pytest.raises(NotFoundError, match="not in 0xl's keyring"):
        gpg.key_info(other_publisher.fingerprint)


def test_key_info_refuses_what_is_not_a_fingerprint(gpg: Gpg) -> None:
    with pytest.raises(UsageError):
        gpg.key_info("--list-secret-keys")
