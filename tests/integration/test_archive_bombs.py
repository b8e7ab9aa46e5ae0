"""Archives that expand far beyond their size, and other hostile archives, reaching `0xl add` and
`0xl update --all` over HTTP on 127.0.0.1 (issue 10, points 8 and 12).

A mirror (or a server) may serve, in exactly the size the signed feed declares, an archive that unpacks
to gigabytes: a sparse member of a plain tar made by GNU tar claims a gigabyte in ten kilobytes. The
digest is checked only once everything is unpacked, so the refusal must come from a bound on what the
archive may unpack to, before it is written. What the 0xl process wrote is read from /proc/self/io.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest

from tests.support import archives as A
from tests.support.feeds import FeedSite, Impl, pack, web_files
from tests.support.http import StaticServer
from tests.support.updating import publish
from tests.support.zx import Result, snapshot

GiB = 1 << 30
MiB = 1 << 20


def written() -> int:
    """Bytes this process (every thread) has passed to write() so far: /proc/self/io `wchar`."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["wchar"])


def sparse_tar(tmp: Path, size: int) -> bytes:
    """A plain tar, made by GNU tar --sparse, of one file of SIZE bytes that are all a hole."""
    tmp.mkdir(parents=True, exist_ok=True)
    with (tmp / "big").open("wb") as f:
        f.truncate(size)
    subprocess.run(["tar", "--sparse", "-cf", "bomb.tar", "big"], cwd=tmp, check=True)
    return (tmp / "bomb.tar").read_bytes()


def plain_tar_impl(site: FeedSite, name: str, version: str, size: int) -> Impl:
    """The version's real archive, as a plain tar padded with zero records to SIZE bytes (tar reads
    up to its end-of-archive blocks), put on the site."""
    data, digest = pack(web_files(version))
    tar = gzip.decompress(data)
    assert len(tar) <= size
    fname = f"{name}-{version}.tar"
    (site.root / "archives" / fname).write_bytes(tar + bytes(size - len(tar)))
    return Impl(version, digest=digest, archive_size=size, href=f"{site.base_url}/archives/{fname}")


@pytest.fixture
def mirror(tmp_path: Path):
    root = tmp_path / "mirror"
    root.mkdir()
    srv = StaticServer(root)
    try:
        yield srv
    finally:
        srv.stop()


def mirror_archives(zhome: Path, site: FeedSite, mirror: StaticServer) -> None:
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text(f'[mirrors]\n"{site.base_url}/archives/" = "{mirror.url}/"\n')


def test_sparse_tar_from_a_mirror_is_refused_before_it_is_written(
    site: FeedSite, mirror: StaticServer, zxi, zhome: Path, tmp_path: Path
) -> None:
    bomb = sparse_tar(tmp_path / "bomb", GiB)
    impl = plain_tar_impl(site, "web", "1.0", len(bomb))  # the feed declares the bomb's very size
    url = site.publish("web", [impl])
    mirror_archives(zhome, site, mirror)
    (mirror.root / "web-1.0.tar").write_bytes(bomb)
    before = snapshot(zhome)
    start = written()
    r = zxi("add", "web", url, "--trust-key", site.publisher.fingerprint)
    wrote = written() - start
    assert r.rc == 4, r
    assert wrote < 4 * MiB, f"0xl wrote {wrote} bytes for a {len(bomb)}-byte archive it refused"
    assert (
        "0xl: error: archive member 'big' takes the unpacked size over the limit of 1048576 bytes, "
        "100 times the archive's size" in r.err
    ), r
    assert "[store] max_unpack_ratio" in r.err, r
    assert ("/web-1.0.tar", 200) in mirror.answers
    assert snapshot(zhome) == before
    assert list((zhome / "tmp").iterdir()) == []


def test_update_all_refuses_each_bomb_and_writes_little(
    site: FeedSite, mirror: StaticServer, zxi, zhome: Path, tmp_path: Path
) -> None:
    # Downloads and unpacking run concurrently (16 at a time): each archive has its own bound.
    bomb = sparse_tar(tmp_path / "bomb", GiB)
    names = ["a", "b", "c"]
    for name in names:
        url = publish(site, name, [plain_tar_impl(site, name, "1.0", len(bomb))])
        assert zxi("add", name, url, "--trust-key", site.publisher.fingerprint).rc == 0
    mirror_archives(zhome, site, mirror)
    for name in names:
        publish(
            site, name, [plain_tar_impl(site, name, "1.0", len(bomb)), plain_tar_impl(site, name, "2.0", len(bomb))]
        )
        (mirror.root / f"{name}-2.0.tar").write_bytes(bomb)
    start = written()
    r = zxi("update", "--all")
    wrote = written() - start
    assert r.rc == 4, r
    assert r.out.splitlines() == [f"{n}: not updated, still 1.0" for n in names], r
    assert r.err.count("takes the unpacked size over the limit") == 3, r
    assert wrote < 8 * MiB, f"0xl wrote {wrote} bytes"


def zeros_impl(site: FeedSite, name: str) -> Impl:
    """A real implementation that compresses about a thousand times: its program and 8 MiB of zeros."""
    files = {**web_files("1.0"), "zeros.img": (bytes(8 * MiB), 0o644)}
    data, digest = pack(files)
    fname = f"{name}-1.0.tar.gz"
    (site.root / "archives" / fname).write_bytes(data)
    return Impl("1.0", files=files, digest=digest, archive_size=len(data), href=f"{site.base_url}/archives/{fname}")


def test_the_host_sets_the_ratio_and_the_total_in_config(site: FeedSite, zxi, zhome: Path) -> None:
    url = site.publish("web", [zeros_impl(site, "web")])
    add = ("add", "web", url, "--trust-key", site.publisher.fingerprint)

    def refused(config: str, message: str) -> Result:
        (zhome / "config.toml").write_text(config)
        before = snapshot(zhome)
        r = zxi(*add)
        assert r.rc == 4 and message in r.err, r
        assert snapshot(zhome) == before
        return r

    zhome.mkdir(parents=True, exist_ok=True)
    refused("", "100 times the archive's size")
    refused("[store]\nmax_unpack_ratio = 5000\nmax_unpacked_size = '4M'\n", "over the limit of 4194304 bytes\n")
    (zhome / "config.toml").write_text("[store]\nmax_unpack_ratio = 5000\n")
    r = zxi(*add)
    assert r.rc == 0, r


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("max_unpack_ratio = 0", "[store] max_unpack_ratio must be at least 1"),
        ("max_unpack_ratio = '100'", "[store] max_unpack_ratio has the wrong type"),
        ("max_unpacked_size = '8\u212a'", "invalid [store] max_unpacked_size"),
    ],
)
def test_bad_unpacking_limits_in_config_are_refused(
    site: FeedSite, zxi, zhome: Path, config: str, message: str
) -> None:
    url = site.publish("web", [Impl("1.0")])
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text(f"[store]\n{config}\n")
    before = snapshot(zhome)
    r = zxi("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 11 and message in r.err, r
    assert snapshot(zhome) == before


# -- point 12 ---------------------------------------------------------------------------------------------------


def test_tar_with_a_hard_link_to_itself_is_refused(site: FeedSite, zxi, zhome: Path) -> None:
    members = [*(A.file(path, data, mode=mode) for path, (data, mode) in web_files("1.0").items())]
    members.append(A.hardlink("bin/web", "bin/web"))
    data = A.tar_bytes(members, "gz")
    (site.root / "archives" / "web-1.0.tar.gz").write_bytes(data)
    impl = Impl("1.0", digest="A" * 52, archive_size=len(data), href=f"{site.base_url}/archives/web-1.0.tar.gz")
    url = site.publish("web", [impl])
    before = snapshot(zhome)
    r = zxi("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 4, r
    assert r.err.startswith("0xl: error: archive member 'bin/web' is a hard link to itself"), r
    assert snapshot(zhome) == before
