"""Publishing with `0xl feed init/add/sign`, judged by the real 0install and by 0xl itself.

A feed for the sample service (examples/web) is published once per module with the 0xl command, signed
with a key made for the session, and served on 127.0.0.1. The real 0install must select, download and
run it without asking anything, and compute the digest 0xl wrote; `0xl add` must deploy it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.feeds import forged_same_size
from tests.support.gpgkeys import Publisher, make_publisher
from tests.support.http import StaticServer
from tests.support.zeroinstall import ZeroInstall
from tests.support.zx import Result, free_port, http_get, snapshot, wait_for
from tests.unit.test_mirage import MIRAGE4_TWO_BLOCKS
from zeroxl.feeds.gpg import Gpg
from zeroxl.feeds.model import Stability
from zeroxl.feeds.parse import parse_feed
from zeroxl.feeds.signature import split_signed
from zeroxl.feeds.trust import TrustDB
from zeroxl.feeds.verify import verify_feed
from zeroxl.host.needs import BlockDevice

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "web"


def zxp(*args: str | Path, home: Path, gnupghome: Path | None = None) -> Result:
    """`0xl ARGS` as a publisher runs it: a separate process, with the publisher's GNUPGHOME."""
    env = dict(os.environ, ZEROXL_HOME=str(home))
    if gnupghome is not None:
        env["GNUPGHOME"] = str(gnupghome)
    p = subprocess.run(
        [sys.executable, "-m", "zeroxl", *map(str, args)], env=env, capture_output=True, text=True, timeout=60
    )
    return Result(p.returncode, p.stdout, p.stderr)


@dataclass
class Published:
    server: StaticServer
    root: Path
    url: str
    digest: str
    archive: Path
    publisher: Publisher


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, publisher: Publisher) -> Iterator[Published]:
    root = tmp_path_factory.mktemp("site")
    home = tmp_path_factory.mktemp("publisher-home")
    server = StaticServer(root)
    feed, url = root / "web.xml", f"{server.url}/web.xml"
    try:
        steps = [
            ("feed", "init", feed, "--uri", url, "--name", "web", "--summary", "a tiny web server"),
            (
                "feed",
                "add",
                feed,
                "--version",
                "1.0",
                "--arch",
                "*-*",
                "--dir",
                EXAMPLE,
                "--command",
                "bin/web",
                "--stability",
                "stable",
                "--arg",
                "port=[0-9]{1,5}",
                "--arg-required",
                "port",
            ),
            ("feed", "sign", feed, "--key", publisher.fingerprint),
        ]
        for step in steps:
            r = zxp(*step, home=home, gnupghome=publisher.gnupghome)
            assert r.rc == 0, r
        [impl] = parse_feed(split_signed(feed.read_bytes())[0], url=url).implementations
        assert impl.sha256new
        yield Published(server, root, url, impl.sha256new, root / "web-1.0.tar.gz", publisher)
    finally:
        server.stop()


# -- the real 0install as judge ------------------------------------------------------------------------


def test_0install_selects_downloads_and_runs_the_published_feed_without_a_prompt(
    published: Published, tmp_path: Path
) -> None:
    zi = ZeroInstall(tmp_path / "0install")
    TrustDB([(published.publisher.fingerprint, [published.server.domain])]).save(zi.trustdb)

    selected = zi.run("select", "--xml", published.url)
    downloaded = zi.download(published.url)

    assert selected.returncode == 0, selected.stderr
    assert f"sha256new_{published.digest}" in selected.stdout
    assert downloaded.returncode == 0, downloaded.stderr
    assert "[Y/N]" not in selected.stderr + downloaded.stderr
    assert (zi.implementations / f"sha256new_{published.digest}").is_dir()
    # 0install found the key where `0xl feed sign` put it.
    assert f"/{published.publisher.keyid}.gpg" in published.server.requests
    # Its digest of the archive is the one 0xl wrote.
    assert zi.digest(published.archive) == published.digest

    port = free_port()
    service = subprocess.Popen(
        ["0install", "run", published.url, f"--port={port}"],
        env=zi.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_for(lambda: http_get(port) == "hello from web 1.0\n"), service.poll()
    finally:
        service.terminate()
        service.wait(10)


def test_0xl_add_and_run_deploy_the_same_feed(published: Published, zxi) -> None:
    port = free_port()
    r = zxi("add", "web", published.url, "--trust-key", published.publisher.fingerprint, "--arg", f"port={port}")
    assert r.rc == 0, r
    assert zxi("run", "web").rc == 0
    assert wait_for(lambda: http_get(port) == "hello from web 1.0\n")
    assert zxi("destroy", "web").rc == 0


def test_the_published_feed_passes_feed_check(published: Published, zxi) -> None:
    r = zxi("feed", "check", published.url, "--key", published.publisher.fingerprint)
    assert r.rc == 0, r
    assert r.out.splitlines()[-1] == "all checks passed"


def test_feed_check_of_a_url_or_with_download_fetches_the_archive_from_its_url(published: Published, zxi) -> None:
    archive_url = f"{published.server.url}/web-1.0.tar.gz"
    for location, extra in ((published.url, ()), (str(published.root / "web.xml"), ("--download",))):
        published.server.requests.clear()
        r = zxi("feed", "check", location, *extra, "--json")
        assert r.rc == 0, r
        impl = json.loads(r.out)["findings"][2]
        assert (impl["source"], impl["checked"]) == ("url", [archive_url]), impl
        assert impl["detail"].startswith(f"{archive_url}: "), impl
        assert "/web-1.0.tar.gz" in published.server.requests


# -- feed check before upload: the archives beside a local feed --------------------------------------------


def signed_site(zxi, tmp_path: Path, publisher: Publisher, monkeypatch) -> Path:
    """site/web.xml made by feed init/add/sign, to be served at 127.0.0.1:9, where nothing listens: any
    attempt to download its archive fails (status 5)."""
    monkeypatch.setenv("GNUPGHOME", str(publisher.gnupghome))
    monkeypatch.chdir(tmp_path)
    feed = init(zxi, tmp_path / "site")
    assert add_dir(zxi, feed, EXAMPLE, "--command", "bin/web", "--stability", "stable").rc == 0
    assert zxi("feed", "sign", str(feed), "--key", publisher.fingerprint).rc == 0
    return feed


def test_a_feed_is_checked_before_upload_from_the_archive_beside_it(
    zxi, zhome: Path, tmp_path: Path, publisher: Publisher, monkeypatch
) -> None:
    signed_site(zxi, tmp_path, publisher, monkeypatch)
    before = snapshot(zhome)

    r = zxi("feed", "check", "site/web.xml", "--key", publisher.fingerprint)

    assert r.rc == 0, r
    lines = [" ".join(ln.split()) for ln in r.out.splitlines()]
    assert lines[3].startswith("ok 1.0 *-* local site/web-1.0.tar.gz: "), lines
    assert lines[3].endswith(" as declared") and lines[-1] == "all checks passed", lines
    r = zxi("feed", "check", "site/web.xml", "--json")
    impl = json.loads(r.out)["findings"][2]
    assert r.rc == 0 and (impl["source"], impl["checked"]) == ("local", ["site/web-1.0.tar.gz"]), r
    assert snapshot(zhome) == before


def test_a_local_archive_changed_after_feed_add_is_refused(
    zxi, zhome: Path, tmp_path: Path, publisher: Publisher, monkeypatch
) -> None:
    feed = signed_site(zxi, tmp_path, publisher, monkeypatch)
    archive = feed.parent / "web-1.0.tar.gz"
    data = archive.read_bytes()
    before = snapshot(zhome)

    archive.write_bytes(forged_same_size(data))  # of the size the feed says: only the digest tells
    r = zxi("feed", "check", "site/web.xml", "--json")
    [bad] = [f for f in json.loads(r.out)["findings"] if not f["ok"]]
    assert r.rc == 4 and bad["subject"] == "1.0 *-*" and bad["source"] == "local", r
    assert bad["detail"].startswith("local site/web-1.0.tar.gz: "), bad
    assert "do not have the digest the feed gives" in bad["detail"], bad

    archive.write_bytes(data + b"more")
    r = zxi("feed", "check", "site/web.xml")
    assert r.rc == 4 and "FAIL" in r.out and f"{archive} is larger than the {len(data)} bytes" in r.out, r
    assert snapshot(zhome) == before


def test_a_local_archive_missing_is_named_and_never_fetched_without_download(
    zxi, zhome: Path, tmp_path: Path, publisher: Publisher, monkeypatch
) -> None:
    feed = signed_site(zxi, tmp_path, publisher, monkeypatch)
    (feed.parent / "web-1.0.tar.gz").unlink()
    before = snapshot(zhome)

    r = zxi("feed", "check", "site/web.xml", "--json")
    [bad] = [f for f in json.loads(r.out)["findings"] if not f["ok"]]
    assert r.rc == 3 and (bad["source"], bad["checked"]) == ("local", ["site/web-1.0.tar.gz"]), r
    assert bad["detail"].startswith("site/web-1.0.tar.gz is missing: "), bad
    assert "--download" in bad["detail"], bad

    # --download goes to the archive's URL, where no server listens yet.
    r = zxi("feed", "check", "site/web.xml", "--download", "--json")
    [bad] = [f for f in json.loads(r.out)["findings"] if not f["ok"]]
    assert r.rc == 5 and (bad["source"], bad["checked"]) == ("url", ["http://127.0.0.1:9/web-1.0.tar.gz"]), r
    assert snapshot(zhome) == before


# -- feed add ------------------------------------------------------------------------------------------


def init(zxi, directory: Path, name: str = "web") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    feed = directory / f"{name}.xml"
    r = zxi("feed", "init", str(feed), "--uri", f"http://127.0.0.1:9/{name}.xml", "--name", name, "--summary", "s")
    assert r.rc == 0, r
    return feed


def add_dir(zxi, feed: Path, src: Path, *extra: str, version: str = "1.0") -> Result:
    return zxi("feed", "add", str(feed), "--version", version, "--arch", "*-*", "--dir", str(src), *extra)


def test_the_dir_archive_is_byte_identical_when_built_twice(zxi, tmp_path: Path, monkeypatch) -> None:
    # Two copies of the tree that differ in everything but contents: mtimes, permissions beyond the
    # execute bit, and the order in which the files were created.
    first, second = tmp_path / "src1", tmp_path / "src2"
    shutil.copytree(EXAMPLE, first)
    (second / "bin").mkdir(parents=True)
    shutil.copy(EXAMPLE / "bin" / "web", second / "bin" / "web")
    shutil.copy(EXAMPLE / "VERSION", second / "VERSION")
    (second / "VERSION").chmod(0o600)
    (second / "bin" / "web").chmod(0o700)
    os.utime(second / "VERSION", (1_000_000, 1_000_000))
    feeds = [init(zxi, tmp_path / "a"), init(zxi, tmp_path / "b")]
    for feed, src in zip(feeds, (first, second), strict=True):
        r = add_dir(zxi, feed, src, "--command", "bin/web")
        assert r.rc == 0, r

    one, two = (f.parent / "web-1.0.tar.gz" for f in feeds)
    assert one.read_bytes() == two.read_bytes()
    assert feeds[0].read_bytes() == feeds[1].read_bytes()
    with tarfile.open(one) as tar:
        members = [(m.name, m.mode, m.mtime, m.uid, m.gid, m.uname) for m in tar.getmembers()]
    assert members == [
        ("VERSION", 0o644, 0, 0, 0, ""),
        ("bin", 0o755, 0, 0, 0, ""),
        ("bin/web", 0o755, 0, 0, 0, ""),
    ]
    [impl] = parse_feed(feeds[0].read_bytes(), url="x", check_uri=False).implementations
    assert ZeroInstall(tmp_path / "0install").digest(one) == impl.sha256new

    # SOURCE_DATE_EPOCH sets the one time stamp, as reproducible builds expect.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    feed = init(zxi, tmp_path / "c")
    assert add_dir(zxi, feed, first, "--command", "bin/web").rc == 0
    with tarfile.open(feed.parent / "web-1.0.tar.gz") as tar:
        assert {m.mtime for m in tar.getmembers()} == {1_700_000_000}


def test_a_duplicate_version_for_the_same_arch_is_refused(zxi, tmp_path: Path) -> None:
    feed = init(zxi, tmp_path / "site")
    assert add_dir(zxi, feed, EXAMPLE, "--command", "bin/web").rc == 0
    before = feed.read_bytes()
    other = tmp_path / "other"
    shutil.copytree(EXAMPLE, other)
    (other / "VERSION").write_text("1.0 again\n")

    r = zxi(
        "feed", "add", str(feed), "--version", "1.0", "--arch", "*-*", "--archive", str(feed.parent / "web-1.0.tar.gz")
    )
    assert r.rc == 7 and "already has version 1.0 for *-*" in r.err, r
    r = add_dir(zxi, feed, other, "--command", "bin/web", version="1.0")
    assert r.rc == 7, r
    assert feed.read_bytes() == before
    # The same contents under another version are the same implementation, which a feed lists once.
    r = add_dir(zxi, feed, EXAMPLE, "--command", "bin/web", version="1.1")
    assert r.rc == 7 and "already has an implementation with these contents" in r.err, r
    assert sorted(p.name for p in feed.parent.iterdir()) == ["web-1.0.tar.gz", "web.xml"]


def test_contents_with_another_digest_than_expected_are_refused(zxi, tmp_path: Path) -> None:
    feed = init(zxi, tmp_path / "site")
    before = feed.read_bytes()
    r = add_dir(zxi, feed, EXAMPLE, "--command", "bin/web", "--digest", "sha256new_" + "A" * 52)
    assert r.rc == 4 and "have the digest sha256new_" in r.err, r
    assert feed.read_bytes() == before
    assert sorted(p.name for p in feed.parent.iterdir()) == ["web.xml"]  # the packed archive went too


def test_a_command_missing_from_the_archive_is_refused(zxi, tmp_path: Path) -> None:
    feed = init(zxi, tmp_path / "site")
    r = add_dir(zxi, feed, EXAMPLE, "--command", "bin/webb")
    assert r.rc == 2 and "--command bin/webb: no such file" in r.err and "bin/" in r.err, r


def test_check_refuses_an_href_that_cannot_be_reached_or_serves_other_bytes(
    zxi, tmp_path: Path, server: StaticServer
) -> None:
    built = init(zxi, tmp_path / "build")
    assert add_dir(zxi, built, EXAMPLE, "--command", "bin/web").rc == 0
    archive = built.parent / "web-1.0.tar.gz"
    feed = init(zxi, tmp_path / "site")
    before = feed.read_bytes()

    dead = f"http://127.0.0.1:{free_port()}/web.tar.gz"
    args = [
        "feed",
        "add",
        str(feed),
        "--version",
        "1.0",
        "--arch",
        "*-*",
        "--archive",
        str(archive),
        "--command",
        "bin/web",
    ]
    r = zxi(*args, "--href", dead, "--check")
    assert r.rc == 5 and "cannot fetch archive" in r.err, r

    served = server.root / "web.tar.gz"
    served.write_bytes(archive.read_bytes()[:-1] + b"X")  # same size, other bytes
    r = zxi(*args, "--href", f"{server.url}/web.tar.gz", "--check")
    assert r.rc == 4 and "bytes differ" in r.err, r
    assert feed.read_bytes() == before

    served.write_bytes(archive.read_bytes())
    r = zxi(*args, "--href", f"{server.url}/web.tar.gz", "--check")
    assert r.rc == 0, r


def test_an_archive_with_a_top_directory_is_taken_with_extract(zxi, tmp_path: Path) -> None:
    archive = tmp_path / "dist" / "web-2.0.tgz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("VERSION", "bin/web"):
            data = (EXAMPLE / name).read_bytes()
            info = tarfile.TarInfo(f"web-2.0/{name}")
            info.size, info.mode, info.mtime = len(data), 0o755 if name == "bin/web" else 0o644, 1_600_000_000
            tar.addfile(info, io.BytesIO(data))
    feed = init(zxi, tmp_path / "site")
    base = ["feed", "add", str(feed), "--version", "2.0", "--arch", "*-*", "--archive", str(archive)]
    r = zxi(*base, "--command", "bin/web", "--extract", "web-2.0")
    assert r.rc == 2 and "give --href" in r.err, r  # the archive is not beside the feed

    r = zxi(*base, "--command", "bin/web", "--extract", "web-2.0", "--href", "https://dl.example.org/web-2.0.tgz")
    assert r.rc == 0, r
    [impl] = parse_feed(feed.read_bytes(), url="x", check_uri=False).implementations
    [retrieval] = impl.retrievals
    assert (retrieval.href, retrieval.extract, retrieval.size) == (  # type: ignore[union-attr]
        "https://dl.example.org/web-2.0.tgz",
        "web-2.0",
        archive.stat().st_size,
    )
    assert impl.sha256new == ZeroInstall(tmp_path / "0install").digest(archive, "web-2.0")
    assert impl.stability is Stability.TESTING  # the default: promote it with set-stability


def test_a_mirage_build_is_published_with_its_needs_and_0install_ignores_them(zxi, tmp_path: Path) -> None:
    # The exact template mirage 4 writes for blocks storage (xvdb) and logs (xvdc), listed logs first, and
    # the default network "0" (tests/unit/test_mirage.py).
    build = tmp_path / "mail"
    (build / "dist").mkdir(parents=True)
    (build / "dist" / "mail.xen").write_bytes(b"\x7fELF not really a unikernel")
    (build / "mail.xl.in").write_text(MIRAGE4_TWO_BLOCKS)
    feed = init(zxi, tmp_path / "site", "mail")

    r = zxi(
        "feed", "add", str(feed), "--version", "1.0", "--arch", "Xen-x86_64", "--dir", str(build / "dist"),
        "--from-mirage", str(build / "mail.xl.in"), "--block", "storage=64M", "--block", "cache@xvdq",
        "--memory", "128",
    )  # fmt: skip

    assert r.rc == 0, r
    assert "runs mail.xen; needs pvh, memory 128 MiB, disk storage at xvdb >= 64M, disk logs at xvdc, " in r.out
    assert "disk cache at xvdq, network 0" in r.out
    [impl] = parse_feed(feed.read_bytes(), url="x", check_uri=False).implementations
    assert impl.commands["run"].path == "mail.xen"
    assert (impl.needs.xen_type, impl.needs.memory, impl.needs.networks) == ("pvh", 128, ("0",))
    assert impl.needs.blocks == (
        BlockDevice("storage", 64 << 20, "xvdb"),
        BlockDevice("logs", 1 << 20, "xvdc"),
        BlockDevice("cache", 1 << 20, "xvdq"),
    )
    assert b'<s:block name="storage" min-size="64M" vdev="xvdb"/>' in feed.read_bytes()
    assert (feed.parent / "mail-1.0-Xen-x86_64.tar.gz").is_file()
    # 0install reads past the foreign namespace (vdev, network "0" and all) and offers the image to a Xen target.
    zi = ZeroInstall(tmp_path / "0install")
    selected = zi.run("select", "--xml", "--os=Xen", "--cpu=x86_64", str(feed))
    assert selected.returncode == 0 and impl.id in selected.stdout, selected.stderr


def test_blocks_without_a_template_follow_mirages_numbering_or_the_disk_given(zxi, tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "app.xen").write_bytes(b"\x7fELF not really a unikernel")
    feed = init(zxi, tmp_path / "site", "app")
    add = ("feed", "add", str(feed), "--arch", "Xen-x86_64", "--dir", str(tmp_path / "dist"), "--command", "app.xen")
    r = zxi(*add, "--version", "1.0", "--block", "data=8M", "--block", "boot@xvda", "--block", "logs")
    assert r.rc == 0, r
    [impl] = parse_feed(feed.read_bytes(), url="x", check_uri=False).implementations
    assert impl.needs.block_vdevs() == {"data": "xvdb", "boot": "xvda", "logs": "xvdd"}

    (tmp_path / "dist" / "app.xen").write_bytes(b"\x7fELF not really a unikernel, 2.0")
    before = feed.read_bytes()
    for blocks, message in [
        (("--block", "a@xvdc", "--block", "b"), "--block: blocks a and b are both at xvdc"),
        (("--block", "a@sdb"), "vdev 'sdb' is not a Xen disk name"),
        (("--network", "1"), "the network '1' is declared at position 0"),
    ]:
        r = zxi(*add, "--version", "2.0", *blocks)
        assert r.rc == 2 and message in r.err, r
        assert feed.read_bytes() == before
    r = zxi(*add, "--version", "2.0", "--block", "a@xvdc=8M")  # NAME@VDEV=MIN-SIZE
    assert r.rc == 0, r
    assert parse_feed(feed.read_bytes(), url="x", check_uri=False).implementations[1].needs.blocks == (
        BlockDevice("a", 8 << 20, "xvdc"),
    )


def test_a_ramdisk_is_declared_only_if_the_archive_has_it(zxi, tmp_path: Path) -> None:
    build = tmp_path / "dist"
    (build / "boot").mkdir(parents=True)
    (build / "vmlinuz").write_bytes(b"\x7fELF not really a kernel")
    (build / "boot" / "initrd.img").write_bytes(b"not really an initrd")
    feed = init(zxi, tmp_path / "site", "guest")
    add = ("feed", "add", str(feed), "--version", "1.0", "--arch", "Xen-x86_64", "--dir", str(build))
    before = feed.read_bytes()

    r = zxi(*add, "--command", "vmlinuz", "--ramdisk", "boot/initrd")
    assert r.rc == 2 and "--ramdisk boot/initrd: no such file in the archive" in r.err, r
    assert feed.read_bytes() == before
    r = zxi(*add, "--command", "vmlinuz", "--ramdisk", "../initrd.img")
    assert r.rc == 2, r
    assert feed.read_bytes() == before

    r = zxi(*add, "--command", "vmlinuz", "--ramdisk", "boot/initrd.img")
    assert r.rc == 0, r
    assert "ramdisk boot/initrd.img" in r.out
    [impl] = parse_feed(feed.read_bytes(), url="x", check_uri=False).implementations
    assert impl.needs.ramdisk == "boot/initrd.img"


# -- set-stability and sign --------------------------------------------------------------------------------


def test_promoting_and_resigning_replace_the_signature_block(
    zxi, tmp_path: Path, publisher: Publisher, monkeypatch
) -> None:
    monkeypatch.setenv("GNUPGHOME", str(publisher.gnupghome))
    feed = init(zxi, tmp_path / "site")
    assert add_dir(zxi, feed, EXAMPLE, "--command", "bin/web").rc == 0
    assert zxi("feed", "sign", str(feed), "--key", publisher.fingerprint).rc == 0
    key_file = feed.parent / f"{publisher.keyid}.gpg"
    assert key_file.read_bytes() == publisher.armored_public_key()

    r = zxi("feed", "set-stability", str(feed), "1.0", "stable")
    assert r.rc == 0 and "1.0 (*-*) testing -> stable" in r.out and "signature was removed" in r.out, r
    assert b"Base64 Signature" not in feed.read_bytes()
    assert zxi("feed", "set-stability", str(feed), "1.0", "stable").out.strip().endswith("is stable already")
    assert zxi("feed", "set-stability", str(feed), "9.9", "stable").rc == 3

    for _ in range(2):
        r = zxi("feed", "sign", str(feed), "--key", publisher.fingerprint)
        assert r.rc == 0, r
    data = feed.read_bytes()
    assert data.count(b"<!-- Base64 Signature") == 1
    signed = split_signed(data)[0]
    [impl] = parse_feed(signed, url="x", check_uri=False).implementations
    assert impl.stability is Stability.STABLE


def test_sign_never_uses_0xls_own_keyring(zxi, zhome: Path, tmp_path: Path, publisher: Publisher, monkeypatch) -> None:
    feed = init(zxi, tmp_path / "site")
    before = feed.read_bytes()
    Gpg(zhome / "gnupg")  # the host keyring exists
    monkeypatch.setenv("GNUPGHOME", str(zhome / "gnupg"))
    r = zxi("feed", "sign", str(feed), "--key", publisher.fingerprint)
    assert r.rc == 2 and "0xl's own keyring" in r.err, r
    assert feed.read_bytes() == before


def test_sign_with_a_key_not_in_the_keyring_is_not_found(
    zxi, tmp_path: Path, publisher: Publisher, monkeypatch
) -> None:
    monkeypatch.setenv("GNUPGHOME", str(publisher.gnupghome))
    feed = init(zxi, tmp_path / "site")
    r = zxi("feed", "sign", str(feed), "--key", "0" * 40)
    assert r.rc == 3 and "no secret key" in r.err, r


@pytest.fixture(scope="module")
def subkey_publisher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Publisher, str]]:
    pub = make_publisher(tmp_path_factory.mktemp("pubsub") / "gnupg", "Subkey Publisher", "sub@example.org")
    try:
        pub.gpg("--quick-add-key", pub.fingerprint, "ed25519", "sign", "never")
        listing = pub.gpg("--with-colons", "--list-keys", pub.fingerprint).decode()
        yield pub, [ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr:")][-1]
    finally:
        subprocess.run(["gpgconf", "--homedir", pub.gnupghome, "--kill", "gpg-agent"], check=False)


def test_the_primary_key_signs_even_where_gpg_would_pick_a_signing_subkey(
    zxi, tmp_path: Path, subkey_publisher: tuple[Publisher, str], monkeypatch
) -> None:
    pub, subkey = subkey_publisher
    monkeypatch.setenv("GNUPGHOME", str(pub.gnupghome))
    feed = init(zxi, tmp_path / "site")

    r = zxi("feed", "sign", str(feed), "--key", subkey)
    assert r.rc == 2 and f"--key {pub.fingerprint}" in r.err, r

    assert zxi("feed", "sign", str(feed), "--key", pub.fingerprint).rc == 0
    key = (feed.parent / f"{pub.keyid}.gpg").read_bytes()
    sig = verify_feed(feed.read_bytes(), feed_url="x/web.xml", gpg=Gpg(tmp_path / "gpg"), fetch_key=lambda _u: key)
    assert sig.fingerprint == pub.fingerprint  # what hosts trust, not the subkey


# What `mirage configure -t virtio` writes for a unikernel with a network and a block device (Solo5's
# manifest, shared/notes/mirage.md), and the kernel it builds in dist/.
SOLO5_MANIFEST = (
    '{"type":"solo5.manifest","version":1,"devices":[{"name":"service","type":"NET_BASIC"},'
    '{"name":"storage","type":"BLOCK_BASIC"}]}'
)


def test_from_mirage_reads_a_virtio_builds_solo5_manifest_and_takes_name_virtio_as_command(zxi, tmp_path: Path) -> None:
    build = tmp_path / "build"
    (build / "dist").mkdir(parents=True)
    (build / "dist" / "web.virtio").write_bytes(b"\x7fELF not really a unikernel")
    (build / "manifest.json").write_text(SOLO5_MANIFEST)
    feed = init(zxi, tmp_path / "site", "web")

    r = zxi(
        "feed", "add", str(feed), "--version", "1.0", "--arch", "Virtio-x86_64", "--dir", str(build / "dist"),
        "--from-mirage", str(build / "manifest.json"), "--block", "storage=64M",
    )  # fmt: skip

    assert r.rc == 0, r
    [impl] = parse_feed(feed.read_bytes(), url="x", check_uri=False).implementations
    assert impl.commands["run"].path == "web.virtio"
    assert impl.needs.networks == ("service",)
    # The first block in mirage's numbering (xvdb), which the libvirt backend attaches as the first virtio disk.
    assert impl.needs.blocks == (BlockDevice("storage", 64 << 20, "xvdb"),)
    assert b"xen-type" not in feed.read_bytes()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type":"solo5.manifest","version":2,"devices":[]}', "not a Solo5 manifest of version 1"),
        ("not json", "not JSON"),
        ('{"type":"solo5.manifest","version":1,"devices":[{"name":"a-b","type":"NET_BASIC"}]}', "letters and digits"),
        ('{"type":"solo5.manifest","version":1,"devices":[{"name":"a","type":"GPU"}]}', "not one of BLOCK_BASIC"),
        (
            '{"type":"solo5.manifest","version":1,"devices":[{"name":"a","type":"NET_BASIC"},{"name":"a","type":"NET_BASIC"}]}',
            "two devices are named a",
        ),
    ],
)
def test_a_manifest_that_is_not_solo5s_is_refused_and_changes_nothing(
    zxi, tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "web.virtio").write_bytes(b"kernel")
    (tmp_path / "manifest.json").write_text(text)
    feed = init(zxi, tmp_path / "site", "web")
    before = feed.read_bytes()
    r = zxi(
        "feed", "add", str(feed), "--version", "1.0", "--arch", "Virtio-x86_64", "--dir", str(tmp_path / "dist"),
        "--from-mirage", str(tmp_path / "manifest.json"),
    )  # fmt: skip
    assert r.rc == 2 and message in r.err, r
    assert feed.read_bytes() == before


@pytest.mark.parametrize(
    ("devices", "words"),
    [
        ('{"name":"service","type":"NET_BASIC"},{"name":"admin","type":"NET_BASIC"}', "declares 2 networks"),
        ('{"name":"storage","type":"BLOCK_BASIC"},{"name":"log","type":"BLOCK_BASIC"}', "declares 2 block devices"),
    ],
)
def test_a_virtio_build_with_two_networks_or_two_block_devices_is_refused(
    zxi, tmp_path: Path, devices: str, words: str
) -> None:
    # Solo5's virtio target drives one virtio-net and one virtio-blk device (shared/notes/mirage.md): a
    # feed promising a second would give operators a disk or a network the unikernel never finds.
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "web.virtio").write_bytes(b"kernel")
    (tmp_path / "manifest.json").write_text('{"type":"solo5.manifest","version":1,"devices":[' + devices + "]}")
    feed = init(zxi, tmp_path / "site", "web")
    before = feed.read_bytes()
    r = zxi(
        "feed", "add", str(feed), "--version", "1.0", "--arch", "Virtio-x86_64", "--dir", str(tmp_path / "dist"),
        "--from-mirage", str(tmp_path / "manifest.json"), "--block", "storage=1M",
        *(["--block", "log=1M"] if "block" in words else []),
    )  # fmt: skip
    assert r.rc == 2 and f"at most 1 network and 1 block device, and this {words}" in r.err, r
    assert "mirage configure -t xen" in r.err, r
    assert feed.read_bytes() == before and sorted(p.name for p in feed.parent.iterdir()) == [feed.name]


def test_feed_add_says_which_arguments_are_needed_and_which_are_optional(zxi, tmp_path: Path) -> None:
    # "needs --port" used to be said of an argument the service runs without.
    feed = init(zxi, tmp_path / "site")
    r = add_dir(
        zxi, feed, EXAMPLE, "--command", "bin/web",
        "--arg", "port=[0-9]{1,5}", "--arg", "ipv4=[0-9./]+", "--arg-required", "ipv4",
        "--arg", "mode=a|b", "--arg-default", "mode=a",
    )  # fmt: skip
    assert r.rc == 0, r
    assert "runs bin/web; takes --port (optional), --ipv4 (required), --mode (default a)\n" in r.out, r
    assert "needs --" not in r.out, r


@pytest.mark.parametrize(
    ("arch", "message", "hint"),
    [
        ("linux-x86_64", "'linux' is not an OS a host can match", "did you mean Linux?"),
        ("Linux-amd64", "'amd64' is not a CPU a host can match", "CPUs: i386"),
        ("xen-x86_64", "'xen' is not an OS a host can match", "did you mean Xen?"),
    ],
)
def test_an_arch_no_host_can_match_is_refused(zxi, tmp_path: Path, arch: str, message: str, hint: str) -> None:
    # Accepted before: feed check passed, and every host then failed with status 8.
    feed = init(zxi, tmp_path / "site")
    before = feed.read_bytes()
    r = zxi("feed", "add", str(feed), "--version", "1.0", "--arch", arch, "--dir", str(EXAMPLE))
    assert r.rc == 2, r
    assert r.err.startswith(f"0xl: error: --arch {arch}: {message}"), r
    assert f"0xl: hint: {hint}" in r.err, r
    assert feed.read_bytes() == before


@pytest.mark.parametrize("arch", ["Xen-x86_64", "Virtio-x86_64", "Linux-x86_64", "*-*", "Linux-*", "*-aarch64"])
def test_the_targets_hosts_run_are_accepted(zxi, tmp_path: Path, arch: str) -> None:
    feed = init(zxi, tmp_path / "site")
    r = zxi("feed", "add", str(feed), "--version", "1.0", "--arch", arch, "--dir", str(EXAMPLE), "--command", "bin/web")
    assert r.rc == 0, r


def test_feed_add_says_what_testing_means_and_how_to_promote(zxi, tmp_path: Path) -> None:
    feed = init(zxi, tmp_path / "site")
    r = add_dir(zxi, feed, EXAMPLE, "--command", "bin/web")
    assert r.rc == 0, r
    assert (
        "  1.0 is testing: hosts on the stable channel will not pick it; add it with --stability stable, "
        f"or promote it with 0xl feed set-stability {feed} 1.0 stable\n" in r.out
    ), r
    other = init(zxi, tmp_path / "other")
    r = add_dir(zxi, other, EXAMPLE, "--command", "bin/web", "--stability", "stable")
    assert r.rc == 0 and "stable channel will not pick" not in r.out, r


def test_both_helps_say_which_version_is_a_range(zhome: Path) -> None:
    from tests.support.zx import zx_process

    add = zx_process("add", "--help", home=zhome).out
    feed_add = zx_process("feed", "add", "--help", home=zhome).out
    assert "a range such as 2.0..!3" in add and "(feed add --version is one version)" in add
    assert "the one version this implementation is" in feed_add and "(0xl add --version is a range)" in feed_add
