"""verify_feed with the real gpg and feeds and keys served over HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.gpgkeys import Publisher, make_publisher
from tests.support.http import StaticServer
from zeroxl.errors import DownloadError, VerificationError
from zeroxl.feeds.fetch import FetchConfig, Fetcher
from zeroxl.feeds.gpg import BadSignature, Gpg
from zeroxl.feeds.signature import SigInfo, append_signature
from zeroxl.feeds.trust import TrustDB, UntrustedKey, check_trusted, domain_of
from zeroxl.feeds.verify import verify_feed

FEED_PATH = "/feeds/app.xml"
Fetch = Callable[[str], bytes]


def feed_text(url: str) -> bytes:
    return f"""<?xml version="1.0" ?>
<interface xmlns="http://zero-install.sourceforge.net/2004/injector/interface" uri="{url}">
  <name>app</name>
  <summary>a test service</summary>
</interface>
""".encode()


@pytest.fixture
def gpg(tmp_path: Path) -> Gpg:
    return Gpg(tmp_path / "zhome" / "gnupg")


@pytest.fixture
def fetch_key() -> Iterator[Fetch]:
    """What the caller passes: 0xl's Fetcher with its key size limit."""
    config = FetchConfig(max_key_bytes=64 << 10)
    with Fetcher(config) as fetcher:

        def fetch(url: str) -> bytes:
            data = fetcher.fetch(url, max_bytes=config.max_key_bytes, what="key").data
            assert data is not None
            return data

        yield fetch


@pytest.fixture(scope="module")
def subkey_publisher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Publisher, str]]:
    pub = make_publisher(tmp_path_factory.mktemp("vsub") / "gnupg", "Subkey", "sub@example.org")
    try:
        pub.gpg("--quick-add-key", pub.fingerprint, "ed25519", "sign", "never")
        listing = pub.gpg("--with-colons", "--list-keys", pub.fingerprint).decode()
        yield pub, re.findall(r"^fpr:+([0-9A-F]{40}):", listing, re.MULTILINE)[-1]
    finally:
        # Key generation started a gpg-agent for this home; it ends with the module.
        subprocess.run(["gpgconf", "--homedir", pub.gnupghome, "--kill", "gpg-agent"], capture_output=True)


def feeds_dir(server: StaticServer) -> Path:
    """The served directory that holds the feed, and where its key is looked for."""
    path = server.root / "feeds"
    path.mkdir(exist_ok=True)
    return path


def key_requests(server: StaticServer) -> list[str]:
    return [r for r in server.requests if r.endswith(".gpg")]


def test_feed_by_an_unknown_key_is_verified_after_fetching_the_key_from_beside_it(
    gpg: Gpg, publisher: Publisher, server: StaticServer, fetch_key: Fetch
) -> None:
    url = server.url + FEED_PATH
    data = publisher.sign(feed_text(url))
    (feeds_dir(server) / "app.xml").write_bytes(data)
    publisher.publish_key(feeds_dir(server))

    info = verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key)

    assert info.fingerprint == info.primary_fingerprint == publisher.fingerprint
    assert key_requests(server) == [f"/feeds/{publisher.keyid}.gpg"]
    assert [k.fingerprint for k in gpg.list_keys()] == [publisher.fingerprint]
    # The key is kept: the next feed by the same key needs no fetch.
    assert verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key) == info
    assert len(key_requests(server)) == 1


def test_verified_feed_from_a_trusted_key_passes_the_trust_check(
    gpg: Gpg, publisher: Publisher, server: StaticServer, fetch_key: Fetch
) -> None:
    url = server.url + FEED_PATH
    data = publisher.sign(feed_text(url))
    publisher.publish_key(feeds_dir(server))
    info = verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key)
    check_trusted(info, domain_of(url), TrustDB([(publisher.fingerprint, [server.domain])]))
    with pytest.raises(UntrustedKey):
        check_trusted(info, domain_of(url), TrustDB([(publisher.fingerprint, ["127.0.0.1"])]))


def test_feed_edited_after_signing_is_refused(
    gpg: Gpg, publisher: Publisher, server: StaticServer, fetch_key: Fetch
) -> None:
    url = server.url + FEED_PATH
    signed = publisher.sign(feed_text(url))
    tampered = signed.replace(b"a test service", b"a nice service")
    publisher.publish_key(feeds_dir(server))
    with pytest.raises(BadSignature, match="does not match: the feed was modified after signing") as e:
        verify_feed(tampered, feed_url=url, gpg=gpg, fetch_key=fetch_key)
    assert e.value.exit_status == 4
    assert e.value.reason == "bad-signature"


def test_missing_key_file_is_a_clear_error(
    gpg: Gpg, publisher: Publisher, server: StaticServer, fetch_key: Fetch
) -> None:
    url = server.url + FEED_PATH
    with pytest.raises(DownloadError) as e:
        verify_feed(publisher.sign(feed_text(url)), feed_url=url, gpg=gpg, fetch_key=fetch_key)
    message = e.value.message
    assert f"signed by key {publisher.fingerprint}, which 0xl does not have" in message
    assert f"{server.url}/feeds/{publisher.keyid}.gpg" in message
    assert "HTTP 404" in message
    assert e.value.hint is not None and f"{publisher.keyid}.gpg" in e.value.hint


def test_key_file_holding_another_publishers_key_is_refused_and_not_imported(
    gpg: Gpg, publisher: Publisher, other_publisher: Publisher, server: StaticServer, fetch_key: Fetch
) -> None:
    url = server.url + FEED_PATH
    (feeds_dir(server) / f"{publisher.keyid}.gpg").write_bytes(other_publisher.armored_public_key())
    key_file = f"{server.url}/feeds/{publisher.keyid}.gpg"
    with pytest.raises(VerificationError, match=f"the key file {key_file} holds key"):
        verify_feed(publisher.sign(feed_text(url)), feed_url=url, gpg=gpg, fetch_key=fetch_key)
    assert gpg.list_keys() == []


def test_key_file_smuggling_a_second_key_is_refused(
    gpg: Gpg, publisher: Publisher, other_publisher: Publisher, server: StaticServer, fetch_key: Fetch
) -> None:
    url = server.url + FEED_PATH
    both = publisher.armored_public_key() + other_publisher.armored_public_key()
    (feeds_dir(server) / f"{publisher.keyid}.gpg").write_bytes(both)
    with pytest.raises(VerificationError, match="holds 2 keys"):
        verify_feed(publisher.sign(feed_text(url)), feed_url=url, gpg=gpg, fetch_key=fetch_key)
    assert gpg.list_keys() == []


def test_oversized_key_file_is_refused_by_the_fetcher(
    gpg: Gpg, publisher: Publisher, server: StaticServer, fetch_key: Fetch
) -> None:
    url = server.url + FEED_PATH
    (feeds_dir(server) / f"{publisher.keyid}.gpg").write_bytes(b"x" * (65 << 10))
    with pytest.raises(DownloadError, match="larger than the limit"):
        verify_feed(publisher.sign(feed_text(url)), feed_url=url, gpg=gpg, fetch_key=fetch_key)


def test_feed_signed_by_a_subkey_fetches_the_subkey_id_and_reports_the_subkey(
    gpg: Gpg, subkey_publisher: tuple[Publisher, str], server: StaticServer, fetch_key: Fetch
) -> None:
    pub, subkey = subkey_publisher
    url = server.url + FEED_PATH
    text = feed_text(url)
    sig = pub.gpg("--detach-sign", "--local-user", subkey + "!", "--output", "-", input=text)
    data = append_signature(text, sig)
    # As 0install does, the key is looked for under the id of the key that signed: the subkey's.
    (feeds_dir(server) / f"{subkey[-16:]}.gpg").write_bytes(pub.armored_public_key())

    info = verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key)

    assert info == SigInfo(subkey, pub.fingerprint, info.timestamp)
    assert key_requests(server) == [f"/feeds/{subkey[-16:]}.gpg"]


def test_unsigned_feed_is_refused_without_fetching_anything(gpg: Gpg, server: StaticServer, fetch_key: Fetch) -> None:
    url = server.url + FEED_PATH
    with pytest.raises(VerificationError, match="no signature block"):
        verify_feed(feed_text(url), feed_url=url, gpg=gpg, fetch_key=fetch_key)
    assert server.requests == []


# -- what `make mutate` found untested here (docs/mutation.md): tests/integration/test_key_states.py shows
# these through `0xl update`, run as a command, which mutmut cannot map to this module.


@pytest.fixture
def own_publisher(tmp_path: Path) -> Iterator[Publisher]:
    """A publisher of this test alone: the test revokes or expires its key."""
    pub = make_publisher(tmp_path / "own" / "gnupg", "Own", "own@example.org")
    yield pub
    subprocess.run(["gpgconf", "--homedir", pub.gnupghome, "--kill", "gpg-agent"], capture_output=True)


def test_refresh_learns_that_the_key_was_revoked_since(
    gpg: Gpg, own_publisher: Publisher, server: StaticServer, fetch_key: Fetch
) -> None:
    url = server.url + FEED_PATH
    data = own_publisher.sign(feed_text(url))
    own_publisher.publish_key(feeds_dir(server))
    assert not verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key).key_revoked
    own_publisher.revoke()
    own_publisher.publish_key(feeds_dir(server))
    # Without refresh, the copy 0xl has decides; with it, the key is fetched again and the revocation seen.
    assert not verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key).key_revoked
    assert verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key, refresh=True).key_revoked


def test_an_expired_key_is_fetched_again_and_an_extended_one_is_usable(
    gpg: Gpg, own_publisher: Publisher, server: StaticServer, fetch_key: Fetch
) -> None:
    url = server.url + FEED_PATH
    data = own_publisher.sign(feed_text(url), at=int(time.time()) - 3600)
    own_publisher.expire(int(time.time()) - 600)
    own_publisher.publish_key(feeds_dir(server))
    assert verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key).key_expired
    own_publisher.gpg("--quick-set-expire", own_publisher.fingerprint, "1y")
    own_publisher.publish_key(feeds_dir(server))
    assert not verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key).key_expired


def test_a_refresh_that_fails_changes_nothing_and_says_why_in_the_debug_log(
    gpg: Gpg, publisher: Publisher, server: StaticServer, fetch_key: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    url = server.url + FEED_PATH
    data = publisher.sign(feed_text(url))
    key_file = publisher.publish_key(feeds_dir(server))
    info = verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key)
    key_file.unlink()
    with caplog.at_level(logging.DEBUG, logger="zeroxl.verify"):
        assert verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key, refresh=True) == info
    assert [r.getMessage() for r in caplog.records if r.name == "zeroxl.verify"] == [
        f"the key {publisher.fingerprint} was not refreshed from {server.url}/feeds/{publisher.keyid}.gpg: "
        f"cannot fetch key {server.url}/feeds/{publisher.keyid}.gpg: HTTP 404 File not found"
    ]


def test_a_refresh_imports_nothing_but_the_signing_key(
    gpg: Gpg, publisher: Publisher, other_publisher: Publisher, server: StaticServer, fetch_key: Fetch
) -> None:
    url = server.url + FEED_PATH
    data = publisher.sign(feed_text(url))
    publisher.publish_key(feeds_dir(server))
    info = verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key)
    # The file beside the feed now holds another key: the refresh refuses it and changes nothing.
    (feeds_dir(server) / f"{publisher.keyid}.gpg").write_bytes(other_publisher.armored_public_key())
    assert verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch_key, refresh=True) == info
    assert [k.fingerprint for k in gpg.list_keys()] == [publisher.fingerprint]
