"""Bad input gets one clear message and a documented exit status, and changes nothing.

Each test starts from a home that already holds a service and a trusted key, makes one bad request,
and checks the exit status, the message, and that store, trust, feeds, services and disks are as before.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl, pack, web_files
from tests.support.gpgkeys import Publisher
from tests.support.http import StaticServer
from tests.support.zeroinstall import ZeroInstall
from tests.support.zx import snapshot
from zeroxl.errors import VerificationError
from zeroxl.feeds.model import Archive


@pytest.fixture
def home(site: FeedSite, zxi, zhome: Path) -> Path:
    url = site.publish("base", [Impl("1.0")])
    r = zxi("add", "base", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 0, r
    return zhome


def refused(zxi, home: Path, args: list[str], status: int, message: str, *, reason: str | None = None) -> str:
    """Run ARGS, which must fail with STATUS and MESSAGE (and, with REASON, a VerificationError of that
    reason: told apart from another refusal by more than its words), changing nothing."""
    before = snapshot(home)
    r = zxi(*args)
    assert r.rc == status, r
    assert message in r.err, r
    if reason is not None:
        assert isinstance(r.error, VerificationError) and r.error.reason == reason, (r.error, r)
    assert r.err.startswith("0xl: error: "), r
    assert "Traceback" not in r.err
    assert snapshot(home) == before, "the failed command changed ZEROXL_HOME"
    return r.err


def test_feed_edited_after_signing_is_refused(site: FeedSite, zxi, home: Path) -> None:
    url = site.publish("web", [Impl("1.0")])
    path = site.root / "web.xml"
    path.write_bytes(path.read_bytes().replace(b"web test service", b"web evil service"))
    refused(zxi, home, ["add", "web", url], 4, "modified after signing", reason="bad-signature")


def test_feed_signed_by_an_untrusted_key_is_refused_with_the_command_to_trust_it(
    site: FeedSite, zxi, home: Path, other_publisher: Publisher, server: StaticServer
) -> None:
    url = site.publish("web", [Impl("1.0")], signer=other_publisher)
    err = refused(zxi, home, ["add", "web", url], 4, "not trusted")
    assert f"0xl trust add {other_publisher.fingerprint} --domain {server.domain}" in err


def test_trust_key_that_did_not_sign_the_feed_is_refused(
    site: FeedSite, zxi, home: Path, other_publisher: Publisher
) -> None:
    url = site.publish("web", [Impl("1.0")], signer=other_publisher)
    refused(zxi, home, ["add", "web", url, "--trust-key", site.publisher.fingerprint], 4, "not trusted")


def test_key_trusted_for_another_domain_is_refused(site: FeedSite, zxi, home: Path, other_publisher: Publisher) -> None:
    assert zxi("trust", "add", other_publisher.fingerprint, "--domain", "example.org").rc == 0
    url = site.publish("web", [Impl("1.0")], signer=other_publisher)
    refused(zxi, home, ["add", "web", url], 4, "not trusted to sign feeds from 127.0.0.1")


def test_replayed_older_feed_is_refused(site: FeedSite, zxi, home: Path) -> None:
    # 0xl has seen the feed signed at T; the server then serves the same URL signed before T.
    now = int(time.time())
    url = site.publish("web", [Impl("1.0")], at=now)
    assert zxi("add", "web", url).rc == 0
    site.publish("web", [Impl("1.0")], at=now - 3600)
    # A new Last-Modified, so that the server sends the replayed feed rather than "304 Not Modified".
    os.utime(site.root / "web.xml", (now + 60, now + 60))
    err = refused(zxi, home, ["add", "web2", url], 4, "before the copy 0xl already has")
    assert time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) in err


def test_feed_signed_without_uri_is_refused_at_another_url_of_the_site(site: FeedSite, zxi, home: Path) -> None:
    # Signed for no address in particular, it would otherwise pass for any feed of a trusted site.
    xml = site.feed_xml("db", [Impl("9.9")]).replace(f' uri="{site.url("db")}"'.encode(), b"")
    (site.root / "web.xml").write_bytes(site.publisher.sign(xml))
    refused(zxi, home, ["add", "web", site.url("web")], 4, "no uri attribute")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        # Fetched from the test server, but a domain up to the first '/' would be good.example.
        ("{origin}?@good.example/web.xml", "cannot tell which site"),
        ("http://someone@{host}/web.xml", "has user info"),
        ("https://b\u00fccher.example/web.xml", "is not ASCII"),
    ],
)
def test_feed_url_whose_site_cannot_be_trusted_is_refused_before_fetching(
    site: FeedSite, zxi, home: Path, *, server: StaticServer, url: str, message: str
) -> None:
    site.publish("web", [Impl("1.0")])
    asked = list(server.requests)
    url = url.format(origin=server.url, host=server.domain)
    refused(zxi, home, ["add", "web", url, "--trust-key", site.publisher.fingerprint], 2, message)
    assert server.requests == asked


def test_feed_naming_a_block_device_no_disk_can_be_named_is_refused(site: FeedSite, zxi, home: Path) -> None:
    # Taken as the name of an unnamed --disk, 'my-data' made a disk `0xl disk delete` then refused.
    needs = '<s:needs xmlns:s="urn:x-0xl:service:1"><s:block name="my-data" min-size="1M"/></s:needs>'
    url = site.publish("web", [Impl("1.0", needs_xml=needs)])
    refused(zxi, home, ["add", "web", url, "--disk", "1M"], 4, "<block> name 'my-data' cannot name a disk")


def test_feed_over_the_size_limit_is_refused(site: FeedSite, zxi, home: Path) -> None:
    xml = site.feed_xml("web", [Impl("1.0")])
    padded = xml.replace(b"</interface>", b"<!--" + b"x" * (5 << 20) + b"-->\n</interface>")
    (site.root / "web.xml").write_bytes(site.publisher.sign(padded))
    refused(zxi, home, ["add", "web", site.url("web")], 5, "larger than the limit")


def test_entity_bomb_is_refused(site: FeedSite, zxi, home: Path) -> None:
    xml = site.feed_xml("web", [Impl("1.0")])
    bomb = xml.replace(
        b'<?xml version="1.0" ?>',
        b'<?xml version="1.0" ?>\n<!DOCTYPE i [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
    ).replace(b"<summary>web test service", b"<summary>&d;")
    (site.root / "web.xml").write_bytes(site.publisher.sign(bomb))
    refused(zxi, home, ["add", "web", site.url("web")], 4, "DTD or entities")


def test_archive_larger_than_declared_is_refused(site: FeedSite, zxi, home: Path) -> None:
    impl = Impl("1.1")  # not in the store yet: base's 1.0 has the same content
    site.add_archive("web", impl)
    impl.archive_size -= 10
    url = site.publish("web", [impl])
    refused(zxi, home, ["add", "web", url], 4, "bytes")


def test_archive_with_another_digest_is_refused(site: FeedSite, zxi, home: Path) -> None:
    impl = Impl("1.1")
    site.add_archive("web", impl)
    data, _ = pack(web_files("1.1-other"))
    (site.root / "archives" / impl.href.rsplit("/", 1)[1]).write_bytes(data)
    impl.archive_size = len(data)
    url = site.publish("web", [impl])
    refused(zxi, home, ["add", "web", url], 4, "digest", reason="digest")


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("damage", "message", "reason", "tar_says"),
    [
        # The gzip trailer: CRC-32 of the contents, then their length (RFC 1952, 2.3.1).
        (
            lambda gz: _flip(gz, len(gz) - 8),
            "its gzip checksum (CRC-32) does not match its contents",
            "gzip-checksum",
            "crc error",
        ),
        (
            lambda gz: _flip(gz, len(gz) - 4),
            "the length in its gzip trailer does not match its contents",
            "gzip-length",
            "length error",
        ),
        (
            lambda gz: gz + b"garbage!",
            "data that is not gzip follows its last gzip member",
            "trailing-data",
            "trailing garbage",
        ),
    ],
    ids=["crc", "length", "trailing-garbage"],
)
def test_archive_whose_gzip_trailer_fails_is_refused_as_0install_refuses_it(  # noqa: PLR0917 - fixtures and cases
    site: FeedSite, zxi, home: Path, tmp_path: Path, damage, message: str, reason: str, tar_says: str
) -> None:
    # Every member unpacks as it should, with the digest the feed gives: only the trailer, which
    # comes after the tar's end marker, is wrong.
    good, digest = pack(web_files("1.1"))
    bad = damage(good)
    (site.root / "archives" / "web.tar.gz").write_bytes(bad)
    (site.root / "archives" / "good.tar.gz").write_bytes(good)
    href = f"{site.base_url}/archives/web.tar.gz"
    url = site.publish("web", [Impl("1.1", digest=digest, archive_size=len(bad), href=href)])
    refused(zxi, home, ["add", "web", url], 4, f"the archive is corrupt: {message}", reason=reason)

    # The oracle: 0install unpacks the same bytes with GNU tar, which refuses them as gzip does; and
    # takes the archive as it was made.
    oracle = ZeroInstall(tmp_path / "0install")
    theirs = oracle.download_retrieval(digest, Archive(href, len(bad)), tmp_path)
    assert theirs.returncode != 0 and tar_says in theirs.stderr.decode(), theirs
    ok = oracle.download_retrieval(digest, Archive(f"{site.base_url}/archives/good.tar.gz", len(good)), tmp_path)
    assert ok.returncode == 0, ok


def _tar_gz(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member, data in members:
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data else None)
    return buf.getvalue()


def hostile(
    site: FeedSite, oracle: ZeroInstall, name: str, member: tarfile.TarInfo, data: bytes, *, inside: bool
) -> str:
    """Publish NAME with an archive of bin/web and MEMBER, under the archive's real digest: that of the
    tree it unpacks to, as the real 0install computes it. So the digest check lets it through, and only
    the check of MEMBER can refuse it. A MEMBER that lands outside the tree (not INSIDE) is not part of
    that tree: the digest is the archive's without it (0install's GNU tar refuses such a member)."""
    ok = tarfile.TarInfo("bin/web")
    ok.mode = 0o755
    members = [(ok, b"#!/bin/sh\n"), (member, data)]
    tree = oracle.base / f"{name}-tree.tar.gz"
    tree.write_bytes(_tar_gz(members if inside else members[:1]))
    archive = site.root / "archives" / f"{name}.tar.gz"
    archive.write_bytes(_tar_gz(members))
    impl = Impl(
        "1.0",
        digest=oracle.digest(tree),
        archive_size=archive.stat().st_size,
        href=f"{site.base_url}/archives/{name}.tar.gz",
    )
    return site.publish(name, [impl])


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize(
    ("member", "data", "inside", "message"),
    [
        (tarfile.TarInfo("../escape"), b"x", False, "archive member '../escape' has '..' in its path"),
        # GNU tar, and so 0install, unpack it as etc/escape.
        (tarfile.TarInfo("/etc/escape"), b"x", True, "archive member '/etc/escape' has an absolute path"),
        (_symlink("link", "/etc/passwd"), b"", True, "archive member 'link' is a symlink to an absolute path"),
        (_symlink("link", "../../../../etc"), b"", True, "archive member 'link' is a symlink pointing outside"),
    ],
    ids=["dotdot", "absolute", "symlink-absolute", "symlink-relative"],
)
def test_archive_escaping_its_directory_is_refused(  # noqa: PLR0917 - fixtures and cases
    site: FeedSite, zxi, home: Path, tmp_path: Path, member, data, inside: bool, message: str
) -> None:
    url = hostile(site, ZeroInstall(tmp_path / "0install"), "web", member, data, inside=inside)
    refused(zxi, home, ["add", "web", url], 4, message)


def test_no_implementation_for_this_host_is_refused(site: FeedSite, zxi, home: Path) -> None:
    url = site.publish("web", [Impl("1.0", arch="Xen-x86_64")])
    refused(zxi, home, ["add", "web", url], 8, "no implementation")


def test_no_version_in_range_is_refused(site: FeedSite, zxi, home: Path) -> None:
    url = site.publish("web", [Impl("1.0"), Impl("2.0")])
    refused(zxi, home, ["add", "web", url, "--version", "3.0.."], 8, "not in version range 3.0..")


def test_unreachable_server_is_refused(site: FeedSite, zxi, home: Path, server: StaticServer) -> None:
    url = site.publish("web", [Impl("1.0")])
    server.stop()
    refused(zxi, home, ["add", "web", url], 5, "cannot fetch feed")


def test_missing_feed_is_a_download_error(site: FeedSite, zxi, home: Path) -> None:
    refused(zxi, home, ["add", "web", site.url("nosuch")], 5, "HTTP 404")


def test_unknown_service_is_not_found(zxi, home: Path) -> None:
    for command in (
        ["run", "nosuch"],
        ["stop", "nosuch"],
        ["status", "nosuch"],
        ["destroy", "nosuch"],
        ["logs", "nosuch"],
    ):
        refused(zxi, home, command, 3, "no service named 'nosuch'")


def test_duplicate_name_is_refused(site: FeedSite, zxi, home: Path) -> None:
    refused(zxi, home, ["add", "base", site.url("base")], 7, "exists already")


@pytest.mark.parametrize("name", ["../x", "a b", "", "X", "a/b"])
def test_unsafe_names_are_refused(site: FeedSite, zxi, home: Path, name: str) -> None:
    refused(zxi, home, ["add", name, site.url("base")], 2, "invalid service name")


@pytest.mark.parametrize("size", ["-1", "1Q", "0"])
def test_bad_disk_sizes_are_refused(site: FeedSite, zxi, home: Path, size: str) -> None:
    refused(zxi, home, ["add", "web", site.url("base"), f"--disk={size}"], 2, "invalid disk size")


def test_bad_fingerprint_is_refused(site: FeedSite, zxi, home: Path) -> None:
    refused(zxi, home, ["add", "web", site.url("base"), "--trust-key", "nonsense"], 2, "fingerprint")
