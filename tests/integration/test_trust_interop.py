"""The real 0install (2.18) as oracle: trust databases and signed feeds pass between it and 0xl.

Each test runs an isolated 0install (`tests.support.zeroinstall`): its own state, its own keyring, no
key-info server, and no way to its built-in mirror.
"""

from __future__ import annotations

import re
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.gpgkeys import Publisher, make_publisher
from tests.support.http import StaticServer
from tests.support.zeroinstall import ZeroInstall
from zeroxl.errors import UsageError
from zeroxl.feeds.fetch import Fetcher
from zeroxl.feeds.gpg import BadSignature, Gpg
from zeroxl.feeds.signature import SigInfo, append_signature
from zeroxl.feeds.trust import TrustDB, UntrustedKey, check_trusted, domain_of
from zeroxl.feeds.verify import key_url, verify_feed

FEED_PATH = "/feeds/hello.xml"
PROMPT = re.compile(r"Do you want to trust this key to sign feeds from '([^']*)'\?")


@dataclass
class Site:
    """An implementation archive served on 127.0.0.1, and a feed URL beside it."""

    server: StaticServer
    digest: str  # sha256new_…
    archive_url: str
    size: int

    @property
    def url(self) -> str:
        return self.server.url + FEED_PATH

    def feed(self, url: str | None = None) -> bytes:
        url = url or self.url
        return f"""<?xml version="1.0" ?>
<interface xmlns="http://zero-install.sourceforge.net/2004/injector/interface" uri="{url}">
  <name>hello</name>
  <summary>a test service</summary>
  <implementation id="{self.digest}" version="1.0" stability="stable">
    <manifest-digest sha256new="{self.digest.removeprefix("sha256new_")}"/>
    <archive href="{self.archive_url}" size="{self.size}"/>
    <command name="run" path="hello.txt"/>
  </implementation>
</interface>
""".encode()

    def publish(self, data: bytes, path: str = FEED_PATH) -> None:
        target = self.server.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def publish_key(self, pub: Publisher, keyid: str | None = None) -> None:
        target = self.server.root / "feeds" / f"{keyid or pub.keyid}.gpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pub.armored_public_key())


def detached(pub: Publisher, data: bytes, key: str | None = None) -> bytes:
    """A detached signature by exactly KEY (by default the primary key), not by gpg's choice of subkey."""
    signer = (key or pub.fingerprint) + "!"
    return pub.gpg("--detach-sign", "--local-user", signer, "--output", "-", input=data)


def stop_agent(gnupghome: Path) -> None:
    subprocess.run(["gpgconf", "--homedir", gnupghome, "--kill", "gpg-agent"], capture_output=True)


@pytest.fixture
def zi(tmp_path: Path) -> ZeroInstall:
    return ZeroInstall(tmp_path / "0install", tmp_path / "0install-gnupg")


@pytest.fixture
def site(server: StaticServer, tmp_path: Path) -> Site:
    impl = tmp_path / "impl"
    impl.mkdir()
    (impl / "hello.txt").write_text("hello from a unikernel\n")
    digest = subprocess.run(
        ["0install", "digest", "--algorithm=sha256new", impl], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert digest.startswith("sha256new_"), digest
    archive = server.root / "hello-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(impl / "hello.txt", arcname="hello.txt")
    return Site(server, digest, f"{server.url}/{archive.name}", archive.stat().st_size)


@pytest.fixture
def gpg(tmp_path: Path) -> Gpg:
    return Gpg(tmp_path / "zhome" / "gnupg")


@pytest.fixture
def fetch_key() -> Iterator[Fetcher]:
    with Fetcher() as fetcher:
        yield fetcher


@pytest.fixture(scope="module")
def subkey_publisher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Publisher, str]]:
    pub = make_publisher(tmp_path_factory.mktemp("zisub") / "gnupg", "Subkey", "sub@example.org")
    try:
        pub.gpg("--quick-add-key", pub.fingerprint, "ed25519", "sign", "never")
        listing = pub.gpg("--with-colons", "--list-keys", pub.fingerprint).decode()
        yield pub, re.findall(r"^fpr:+([0-9A-F]{40}):", listing, re.MULTILINE)[-1]
    finally:
        stop_agent(pub.gnupghome)


def verify_with_0xl(data: bytes, url: str, gpg: Gpg, fetcher: Fetcher) -> SigInfo:
    def fetch(key: str) -> bytes:
        got = fetcher.fetch(key, max_bytes=fetcher.config.max_key_bytes, what="key").data
        assert got is not None
        return got

    return verify_feed(data, feed_url=url, gpg=gpg, fetch_key=fetch)


def downloaded(zi: ZeroInstall, site: Site) -> bool:
    return (zi.base / "cache" / "implementations" / site.digest).is_dir()


# -- 0xl's trust database, read by 0install ----------------------------------------------------------


def test_trustdb_written_by_0xl_lets_0install_select_and_download_without_a_prompt(
    zi: ZeroInstall, site: Site, publisher: Publisher
) -> None:
    site.publish(publisher.sign(site.feed()))
    zi.import_key(publisher)  # 0install's keyring already holds the key: nothing is fetched for it
    TrustDB([(publisher.fingerprint, [domain_of(site.url)])]).save(zi.trustdb)

    selected = zi.run("select", "--xml", site.url)
    done = zi.download(site.url)

    assert selected.returncode == 0, selected.stderr
    assert site.digest in selected.stdout
    assert done.returncode == 0, done.stderr
    assert "[Y/N]" not in selected.stderr + done.stderr
    assert site.digest in done.stdout
    assert downloaded(zi, site)
    assert not [r for r in site.server.requests if r.endswith(".gpg")]


def test_without_trust_0install_asks_and_fails_with_stdin_closed(
    zi: ZeroInstall, site: Site, publisher: Publisher
) -> None:
    site.publish(publisher.sign(site.feed()))
    site.publish_key(publisher)

    done = zi.download(site.url)

    assert done.returncode != 0
    assert "[Y/N]" in done.stderr
    assert not downloaded(zi, site)
    # The domain 0install asks about is the one domain_of computes (host and port).
    prompt = PROMPT.search(done.stderr)
    assert prompt and prompt.group(1) == domain_of(site.url) == site.server.domain


def test_trust_for_the_host_without_its_port_or_by_another_name_counts_in_neither(
    zi: ZeroInstall, site: Site, publisher: Publisher, gpg: Gpg, fetch_key: Fetcher
) -> None:
    data = publisher.sign(site.feed())
    site.publish(data)
    site.publish_key(publisher)
    # The host without its port, and another name for the same host and port: other domains.
    db = TrustDB([(publisher.fingerprint, ["127.0.0.1", f"localhost:{site.server.port}"])])
    db.save(zi.trustdb)

    assert zi.download(site.url).returncode != 0
    with pytest.raises(UntrustedKey):
        check_trusted(verify_with_0xl(data, site.url, gpg, fetch_key), domain_of(site.url), db)


def test_star_domain_written_by_0xl_is_honoured_by_0install(zi: ZeroInstall, site: Site, publisher: Publisher) -> None:
    site.publish(publisher.sign(site.feed()))
    site.publish_key(publisher)
    TrustDB([(publisher.fingerprint, ["*"])]).save(zi.trustdb)
    assert zi.download(site.url).returncode == 0


# -- 0install's trust database, read by 0xl ----------------------------------------------------------


def test_trustdb_written_by_0install_is_read_by_0xl_and_rewritten_byte_for_byte(
    zi: ZeroInstall, site: Site, publisher: Publisher, other_publisher: Publisher
) -> None:
    site.publish(publisher.sign(site.feed()))
    site.publish_key(publisher)
    # 0install trusts the key through its own code path: the user answers its prompt.
    done = zi.download(site.url, answer="Y\n")
    assert done.returncode == 0, done.stderr
    written = zi.trustdb.read_bytes()

    db = TrustDB.load(zi.trustdb)

    assert db.entries() == [(publisher.fingerprint, [site.server.domain])]
    assert db.trusted(publisher.fingerprint, domain_of(site.url))
    assert not db.trusted(other_publisher.fingerprint, domain_of(site.url))
    assert db.to_bytes() == written


def test_trustdb_grown_by_0install_after_0xl_wrote_it_is_read_by_0xl(
    zi: ZeroInstall, site: Site, publisher: Publisher, other_publisher: Publisher
) -> None:
    # 0xl writes a database with another key and a star; 0install adds its own key; 0xl reads both.
    TrustDB([(other_publisher.fingerprint, ["*", "example.org:8080"])]).save(zi.trustdb)
    site.publish(publisher.sign(site.feed()))
    site.publish_key(publisher)
    assert zi.download(site.url, answer="Y\n").returncode == 0

    db = TrustDB.load(zi.trustdb)

    assert sorted(db.entries()) == sorted(
        [
            (other_publisher.fingerprint, ["*", "example.org:8080"]),
            (publisher.fingerprint, [site.server.domain]),
        ]
    )
    assert db.to_bytes() == zi.trustdb.read_bytes()


# -- signatures: what one accepts, the other accepts ----------------------------------------------


def test_feed_that_0install_accepts_is_accepted_by_verify_feed(
    zi: ZeroInstall, site: Site, publisher: Publisher, gpg: Gpg, fetch_key: Fetcher
) -> None:
    data = publisher.sign(site.feed())
    site.publish(data)
    site.publish_key(publisher)
    TrustDB([(publisher.fingerprint, [site.server.domain])]).save(zi.trustdb)
    assert zi.download(site.url).returncode == 0
    [cached] = zi.interfaces.iterdir()  # the feed as 0install accepted and kept it

    for copy in (data, cached.read_bytes()):
        info = verify_with_0xl(copy, site.url, gpg, fetch_key)
        assert info.fingerprint == publisher.fingerprint
        check_trusted(info, domain_of(site.url), TrustDB.load(zi.trustdb))


def test_feed_with_0xls_signature_block_is_accepted_by_0install(
    zi: ZeroInstall, site: Site, publisher: Publisher
) -> None:
    text = site.feed()
    site.publish(append_signature(text, detached(publisher, text)))
    site.publish_key(publisher)
    TrustDB([(publisher.fingerprint, [site.server.domain])]).save(zi.trustdb)
    done = zi.download(site.url)
    assert done.returncode == 0, done.stderr


def test_feed_edited_after_signing_is_refused_by_both(
    zi: ZeroInstall, site: Site, publisher: Publisher, gpg: Gpg, fetch_key: Fetcher
) -> None:
    tampered = publisher.sign(site.feed()).replace(b'version="1.0"', b'version="9.0"')
    site.publish(tampered)
    site.publish_key(publisher)
    TrustDB([(publisher.fingerprint, [site.server.domain])]).save(zi.trustdb)

    done = zi.download(site.url)

    assert done.returncode != 0
    assert "BAD signature" in done.stderr
    assert not downloaded(zi, site)
    with pytest.raises(BadSignature):
        verify_with_0xl(tampered, site.url, gpg, fetch_key)


def test_0install_fetches_the_missing_key_where_key_url_says(zi: ZeroInstall, site: Site, publisher: Publisher) -> None:
    site.publish(publisher.sign(site.feed()))
    site.publish_key(publisher)
    TrustDB([(publisher.fingerprint, [site.server.domain])]).save(zi.trustdb)
    assert zi.download(site.url).returncode == 0
    keys = [r for r in site.server.requests if r.endswith(".gpg")]
    assert keys == [urlsplit(key_url(site.url, publisher.keyid)).path] == [f"/feeds/{publisher.keyid}.gpg"]


def test_both_key_trust_on_the_signing_subkey_not_the_primary(
    zi: ZeroInstall,
    site: Site,
    subkey_publisher: tuple[Publisher, str],
    gpg: Gpg,
    fetch_key: Fetcher,
) -> None:
    pub, subkey = subkey_publisher
    text = site.feed()
    data = append_signature(text, detached(pub, text, subkey))
    site.publish(data)
    site.publish_key(pub, keyid=subkey[-16:])  # 0install asks for the id of the key that signed

    # Trusting the primary key is not enough for 0install...
    TrustDB([(pub.fingerprint, [site.server.domain])]).save(zi.trustdb)
    refused = zi.download(site.url)
    assert refused.returncode != 0 and "[Y/N]" in refused.stderr
    assert f"- {subkey}" in refused.stdout + refused.stderr  # the key it lists is the subkey
    # ...nor for 0xl.
    info = verify_with_0xl(data, site.url, gpg, fetch_key)
    assert (info.fingerprint, info.primary_fingerprint) == (subkey, pub.fingerprint)
    with pytest.raises(UntrustedKey) as e:
        check_trusted(info, domain_of(site.url), TrustDB.load(zi.trustdb))
    assert e.value.fingerprint == subkey

    # When the user says yes, 0install records the subkey's fingerprint; 0xl then accepts too.
    zi.trustdb.unlink()
    assert zi.download(site.url, answer="Y\n").returncode == 0
    db = TrustDB.load(zi.trustdb)
    assert db.entries() == [(subkey, [site.server.domain])]
    check_trusted(info, domain_of(site.url), db)


def test_user_info_0install_skips_in_the_url_is_refused_by_0xl(
    zi: ZeroInstall, site: Site, publisher: Publisher
) -> None:
    # 0install's domain skips user info; 0xl refuses such a URL instead (unit tests: how user info
    # makes a URL show one host and be fetched from another), so no domain of 0xl's ever differs.
    url = f"http://someone@{site.server.domain}{FEED_PATH}"
    site.publish(publisher.sign(site.feed(url)))
    site.publish_key(publisher)

    done = zi.download(url)

    prompt = PROMPT.search(done.stderr)
    assert prompt, done.stderr
    assert prompt.group(1) == site.server.domain
    with pytest.raises(UsageError, match="has user info"):
        domain_of(url)
