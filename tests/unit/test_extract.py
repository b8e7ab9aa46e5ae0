"""Unpacking archives: what lands in the tree, and every way an archive may try to leave it.

Whether the result digests as 0install's own unpacking does is checked against the real 0install in
tests/integration/test_store_digest.py.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.support import archives as A
from zeroxl.errors import VerificationError
from zeroxl.feeds import extract as X

KINDS = ["x.tar", "x.tar.gz", "x.tar.bz2", "x.tar.xz", "x.zip"]
MIME = {
    "x.tar": X.TAR,
    "x.tar.gz": X.TAR_GZ,
    "x.tar.bz2": X.TAR_BZ2,
    "x.tar.xz": X.TAR_XZ,
    "x.zip": X.ZIP,
}


def _unpack(tmp_path: Path, name: str, members, **kwargs) -> Path:
    archive = A.write_archive(tmp_path / name, members)
    tree = tmp_path / "tree"
    tree.mkdir(exist_ok=True)
    X.unpack(archive, tree, mime_type=MIME[name], scratch=tmp_path / "scratch", **kwargs)
    return tree


def _outside(tmp_path: Path) -> list[str]:
    """What exists next to the tree, other than what the test made: nothing should."""
    return sorted(p.name for p in tmp_path.iterdir() if p.name not in {"tree", *KINDS})


@pytest.mark.parametrize("name", KINDS)
def test_archive_unpacks_contents_execute_bits_mtimes_and_symlinks(tmp_path: Path, name: str) -> None:
    tree = _unpack(tmp_path, name, A.SAMPLE)
    pkg = tree / "pkg"
    assert (pkg / "README").read_bytes() == b"A unikernel.\n"
    assert (pkg / "README").stat().st_mtime == 1_500_000_000
    assert (pkg / "bin" / "service").stat().st_mode & 0o111
    assert not (pkg / "README").stat().st_mode & 0o111
    assert os.readlink(pkg / "bin" / "current") == "service"
    assert (pkg / "empty").read_bytes() == b""
    assert (pkg / "share" / "empty").is_dir()
    assert _outside(tmp_path) == []  # the scratch directory is gone


@pytest.mark.parametrize("name", KINDS)
def test_extract_takes_the_contents_of_one_top_level_directory(tmp_path: Path, name: str) -> None:
    members = [*A.SAMPLE, A.file("other/file", b"not taken")]
    tree = _unpack(tmp_path, name, members, extract="pkg")
    assert sorted(p.name for p in tree.iterdir()) == ["README", "bin", "empty", "share"]


@pytest.mark.parametrize("name", ["x.tar.gz", "x.zip"])
def test_dest_puts_the_archive_in_a_subdirectory(tmp_path: Path, name: str) -> None:
    tree = _unpack(tmp_path, name, A.SAMPLE, extract="pkg", dest="lib/pkg")
    assert (tree / "lib" / "pkg" / "bin" / "service").is_file()


def test_second_archive_merges_into_the_first(tmp_path: Path) -> None:
    tree = _unpack(tmp_path, "x.tar", [A.file("a/one", b"1"), A.file("a/same", b"old")])
    _unpack(tmp_path, "x.zip", [A.file("a/two", b"2"), A.file("a/same", b"new")])
    assert sorted(p.name for p in (tree / "a").iterdir()) == ["one", "same", "two"]
    assert (tree / "a" / "same").read_bytes() == b"new"


def test_archive_that_would_replace_a_directory_with_a_file_is_refused(tmp_path: Path) -> None:
    _unpack(tmp_path, "x.tar", [A.file("a/one", b"1")])
    with pytest.raises(VerificationError, match="archive would replace directory 'a' with a file"):
        _unpack(tmp_path, "x.zip", [A.file("a", b"file over a directory")])


@pytest.mark.parametrize(
    ("dest", "message"),
    [
        ("../up", "path '../up' in the feed contains '..'"),
        ("/abs", "path '/abs' in the feed is absolute"),
        (".", "path '.' in the feed names the implementation's top directory"),
        ("a/../../b", "path 'a/../../b' in the feed contains '..'"),
        ("a\\b", "path 'a\\\\b' in the feed contains '\\'"),
    ],
)
def test_dest_outside_the_tree_is_refused(tmp_path: Path, dest: str, message: str) -> None:
    with pytest.raises(VerificationError) as e:
        _unpack(tmp_path, "x.tar", A.SAMPLE, dest=dest)
    assert e.value.message == message


def test_dest_through_a_symlink_is_refused(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link").symlink_to(tmp_path)
    with pytest.raises(VerificationError, match="path 'link/inside' in the feed goes through a symlink"):
        _unpack(tmp_path, "x.tar", A.SAMPLE, dest="link/inside")


@pytest.mark.parametrize(
    ("extract", "message"),
    [
        ("pkg/bin", "extract attribute may not contain / or \\"),
        ("../pkg", "extract attribute may not contain / or \\"),
        ("-pkg", "illegal character in extract attribute"),
        ("pkg;rm", "illegal character in extract attribute"),
        ("", "illegal character in extract attribute"),
    ],
)
def test_extract_attribute_that_0install_would_refuse_is_refused(tmp_path: Path, extract: str, message: str) -> None:
    with pytest.raises(VerificationError) as e:
        _unpack(tmp_path, "x.tar", A.SAMPLE, extract=extract)
    assert e.value.message.startswith(message), e.value.message


def test_missing_extract_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VerificationError, match="'nothere' not found"):
        _unpack(tmp_path, "x.tar", A.SAMPLE, extract="nothere")


@pytest.mark.parametrize("name", ["x.tar.gz", "x.zip"])
def test_start_offset_skips_a_self_extracting_prefix(tmp_path: Path, name: str) -> None:
    archive = A.write_archive(tmp_path / name, A.SAMPLE)
    prefix = b"#!/bin/sh\necho self-extracting\nexit 0\n"
    archive.write_bytes(prefix + archive.read_bytes())
    tree = tmp_path / "tree"
    tree.mkdir()
    X.unpack(archive, tree, mime_type=MIME[name], scratch=tmp_path / "s", start_offset=len(prefix))
    assert (tree / "pkg" / "README").read_bytes() == b"A unikernel.\n"


# -- hostile archives -------------------------------------------------------------------------------

ZIPPABLE = [k for k, members in A.HOSTILE.items() if all(m.kind != "hardlink" for m in members)]
# What each refusal says after the member's name: the check that refused it, and no other.
HOSTILE_REASON = {
    "dotdot": "has '..' in its path",
    "absolute": "has an absolute path",
    "symlink_absolute": "is a symlink to an absolute path",
    "symlink_relative": "is a symlink pointing outside the tree",
    "symlink_then_write": "would be written through a symlink",
    "hardlink_absolute": "is a hard link to an absolute path",
    "hardlink_relative": "is a hard link out of the tree",
    "device": "is a device file",
    "fifo": "is a device file",
}


@pytest.mark.parametrize("attack", sorted(A.HOSTILE))
@pytest.mark.parametrize("name", ["x.tar", "x.zip"])
def test_hostile_archive_is_refused_naming_the_member(tmp_path: Path, attack: str, name: str) -> None:
    if name == "x.zip" and attack not in ZIPPABLE:
        pytest.skip("zip has no hard links")
    members = A.HOSTILE[attack]
    with pytest.raises(VerificationError) as caught:
        _unpack(tmp_path, name, members)
    assert caught.value.message.startswith(f"archive member {members[-1].name!r} {HOSTILE_REASON[attack]}")
    assert _outside(tmp_path) == []
    assert not Path("/tmp/zeroxl-absolute-escape").exists()


@pytest.mark.parametrize("attack", ["symlink_absolute", "symlink_relative", "dotdot", "device"])
def test_hostile_member_outside_extract_is_refused_too(tmp_path: Path, attack: str) -> None:
    members = [
        *A.SAMPLE,
        *(
            A.Member("junk/" + m.name.removeprefix("pkg/"), m.data, m.kind, m.mode, target=m.target)
            for m in A.HOSTILE[attack]
        ),
    ]
    with pytest.raises(VerificationError) as caught:
        _unpack(tmp_path, "x.tar", members, extract="pkg")
    assert caught.value.message.startswith(f"archive member {members[-1].name!r} {HOSTILE_REASON[attack]}")


def test_symlink_that_is_harmless_in_the_archive_but_escapes_after_extract_is_refused(tmp_path: Path) -> None:
    # Inside the archive pkg/up -> .. stays in it; once `extract=pkg` takes pkg as the top, it leaves.
    with pytest.raises(
        VerificationError, match=r"archive member 'pkg/up' is a symlink pointing outside the tree \(\.\.\)"
    ):
        _unpack(tmp_path, "x.tar", [A.directory("pkg"), A.symlink("pkg/up", "..")], extract="pkg")


def test_symlink_chain_that_escapes_only_when_resolved_is_refused(tmp_path: Path) -> None:
    # Each target, read as text from where its link is, stays in the tree; resolved, `e` leaves it:
    # a/b/c/s is the top, so a/b/c/s/x/../.. is the top's parent.
    members = [A.directory("a/b/c"), A.symlink("a/b/c/s", "../../.."), A.symlink("e", "a/b/c/s/x/../..")]
    with pytest.raises(VerificationError, match="symlink e leads outside"):
        _unpack(tmp_path, "x.tar", members)


def test_symlinks_within_the_tree_are_kept(tmp_path: Path) -> None:
    members = [
        A.file("lib/libx.so.1", b"elf"),
        A.symlink("lib/libx.so", "libx.so.1"),
        A.symlink("bin/lib", "../lib"),
        A.symlink("dangling", "not/there"),
    ]
    tree = _unpack(tmp_path, "x.tar", members)
    assert os.readlink(tree / "bin" / "lib") == "../lib"
    X.check_symlinks(tree)


def test_setuid_setgid_and_sticky_bits_are_stripped_not_kept(tmp_path: Path) -> None:
    members = [
        A.directory("d", mode=0o3777),
        A.file("d/suid", b"x", mode=0o4755),
        A.file("d/sgid", b"x", mode=0o2644),
        A.file("d/sticky", b"x", mode=0o1644),
    ]
    tree = _unpack(tmp_path, "x.tar", members)
    modes = {p.name: stat.S_IMODE(p.lstat().st_mode) for p in [tree / "d", *(tree / "d").iterdir()]}
    assert modes == {"d": 0o755, "suid": 0o755, "sgid": 0o644, "sticky": 0o644}


def test_decompression_bomb_is_stopped_by_the_byte_limit(tmp_path: Path) -> None:
    archive = tmp_path / "x.tar.gz"
    archive.write_bytes(A.bomb_tar_gz(64 << 20))
    assert archive.stat().st_size < 200_000
    tree = tmp_path / "tree"
    tree.mkdir()
    limits = X.ExtractLimits(max_bytes=1 << 20)
    with pytest.raises(VerificationError, match=r"'zeros'.*limit"):
        X.unpack(archive, tree, mime_type=X.TAR_GZ, scratch=tmp_path / "s", limits=limits)
    assert _outside(tmp_path) == []


def test_archive_with_too_many_members_is_refused(tmp_path: Path) -> None:
    members = [A.file(f"f{i}") for i in range(11)]
    with pytest.raises(VerificationError, match="more than 10 members"):
        _unpack(tmp_path, "x.zip", members, limits=X.ExtractLimits(max_members=10))


@pytest.mark.parametrize("name", KINDS)
def test_truncated_archive_is_refused_as_corrupt(tmp_path: Path, name: str) -> None:
    members = [A.file("big", os.urandom(100_000)), A.file("after", b"x")]
    archive = A.write_archive(tmp_path / name, members)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    tree = tmp_path / "tree"
    tree.mkdir()
    with pytest.raises(VerificationError, match="corrupt or truncated"):
        X.unpack(archive, tree, mime_type=MIME[name], scratch=tmp_path / "s")
    assert _outside(tmp_path) == []


def test_hardlink_inside_the_archive_shares_the_file(tmp_path: Path) -> None:
    tree = _unpack(tmp_path, "x.tar", [A.file("a", b"data", mtime=1234), A.hardlink("b", "a")])
    assert (tree / "b").read_bytes() == b"data"
    assert (tree / "a").stat().st_ino == (tree / "b").stat().st_ino


def test_hardlink_to_a_symlink_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VerificationError, match="not a regular file"):
        _unpack(tmp_path, "x.tar", [A.symlink("s", "x"), A.hardlink("h", "s")])


def test_later_member_replaces_an_earlier_file(tmp_path: Path) -> None:
    tree = _unpack(tmp_path, "x.tar", [A.file("a", b"first"), A.file("a", b"second")])
    assert (tree / "a").read_bytes() == b"second"


def test_pax_mtime_fraction_is_kept_to_the_nanosecond(tmp_path: Path) -> None:
    members = [A.Member("f", b"x", pax_mtime="1700000000.999999999"), A.Member("g", b"x", pax_mtime="-5.5")]
    tree = _unpack(tmp_path, "x.tar", members)
    assert (tree / "f").stat().st_mtime_ns == 1_700_000_000_999_999_999
    assert (tree / "g").stat().st_mtime_ns == -5_500_000_000


def _zip_with(info: zipfile.ZipInfo) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(info, b"x")
    return buf.getvalue()


def _unzip_mtime(archive: Path, name: str, tmp_path: Path) -> float:
    """The mtime unzip gives NAME, run as 0install runs it (archive.ml: `unzip -q -o`, TZ=GMT)."""
    out = tmp_path / "unzipped"
    out.mkdir()
    env = dict(os.environ, TZ="GMT")
    subprocess.run(["unzip", "-q", "-o", str(archive)], cwd=out, env=env, check=True, capture_output=True)
    return (out / name).stat().st_mtime


def test_zip_extended_timestamp_wins_over_the_dos_time(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("ut", (2020, 5, 6, 7, 8, 12))
    info.extra = struct.pack("<HHBl", 0x5455, 5, 1, 1_234_567_891)
    (tmp_path / "x.zip").write_bytes(_zip_with(info))
    tree = tmp_path / "tree"
    tree.mkdir()
    X.unpack(tmp_path / "x.zip", tree, mime_type=X.ZIP, scratch=tmp_path / "s")
    assert (tree / "ut").stat().st_mtime == 1_234_567_891 == _unzip_mtime(tmp_path / "x.zip", "ut", tmp_path)


def test_zip_dos_time_is_read_as_utc_and_non_unix_entries_are_not_executable(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("dos", (2020, 5, 6, 7, 8, 12))
    info.create_system = 0  # MS-DOS: no Unix mode, so no execute bit
    info.external_attr = 0x20
    (tmp_path / "x.zip").write_bytes(_zip_with(info))
    tree = tmp_path / "tree"
    tree.mkdir()
    X.unpack(tmp_path / "x.zip", tree, mime_type=X.ZIP, scratch=tmp_path / "s")
    # 2020-05-06 07:08:12 UTC (`date -u -d '2020-05-06 07:08:12' +%s`), as unzip gives it too.
    assert (tree / "dos").stat().st_mtime == 1_588_748_892 == _unzip_mtime(tmp_path / "x.zip", "dos", tmp_path)
    assert not (tree / "dos").stat().st_mode & 0o111


# -- types and paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "mime"),
    [
        ("http://example.org/x-1.0.tar.gz", X.TAR_GZ),
        ("http://example.org/x.tgz", X.TAR_GZ),
        ("http://example.org/x.tar.bz2", X.TAR_BZ2),
        ("http://example.org/x.tbz", X.TAR_BZ2),
        ("http://example.org/x.tar.xz", X.TAR_XZ),
        ("http://example.org/x.txz", X.TAR_XZ),
        ("http://example.org/x.tar.lzma", X.TAR_LZMA),
        ("http://example.org/x.tlz", X.TAR_LZMA),
        ("/srv/x.tar", X.TAR),
        ("http://example.org/x.ZIP", X.ZIP),
        ("http://example.org/v1.2/x.tar.gz", X.TAR_GZ),
        ("http://example.org/x.deb", "application/x-deb"),
    ],
)
def test_type_is_guessed_from_the_url_as_0install_does(url: str, mime: str) -> None:
    assert X.type_from_url(url) == mime


@pytest.mark.parametrize(
    "url", ["http://example.org/x.tbz2", "http://example.org/x", "http://example.org/x.tar.gz?a=b"]
)
def test_type_0install_cannot_guess_is_refused(url: str) -> None:
    with pytest.raises(VerificationError, match="cannot guess"):
        X.type_from_url(url)


def test_type_0xl_cannot_unpack_is_refused() -> None:
    with pytest.raises(VerificationError, match="unsupported archive type 'application/x-deb'"):
        X.archive_type("http://example.org/x.deb", None)
    assert X.archive_type("http://example.org/x.bin", X.TAR_GZ) == X.TAR_GZ


def test_path_within_ignores_dots_and_refuses_what_0install_refuses(tmp_path: Path) -> None:
    assert X.path_within(tmp_path, "./a//b/") == tmp_path / "a" / "b"
    for bad, reason in [
        ("", "names the implementation's top directory"),
        (".", "names the implementation's top directory"),
        ("/etc", "is absolute"),
        ("a/../b", "contains '..'"),
        ("a\\b", "contains '\\'"),
    ]:
        with pytest.raises(VerificationError) as e:
            X.path_within(tmp_path, bad)
        assert e.value.message == f"path {bad!r} in the feed {reason}"


# -- trees too deep to walk -----------------------------------------------------------------------


@pytest.mark.parametrize("name", KINDS)
def test_archive_nested_deeper_than_the_limit_is_refused(tmp_path: Path, name: str) -> None:
    # 1200 levels fit in 153 bytes of tar.gz, and are deeper than os.walk or shutil.rmtree can recurse.
    with pytest.raises(VerificationError, match="has 1201 path components, over the limit of 128"):
        _unpack(tmp_path, name, [A.file("a/" * 1200 + "f", b"x")])
    assert _outside(tmp_path) == []
    assert list((tmp_path / "tree").iterdir()) == []


@pytest.mark.parametrize("name", ["x.tar.gz", "x.zip"])
def test_archive_member_with_a_path_longer_than_the_limit_is_refused(tmp_path: Path, name: str) -> None:
    path = ("x" * 200 + "/") * 11 + "f"
    with pytest.raises(VerificationError, match=f"path of {len(path)} bytes, over the limit of 2048"):
        _unpack(tmp_path, name, [A.file(path, b"x")])
    assert _outside(tmp_path) == []


def test_depth_limit_admits_a_member_exactly_at_it(tmp_path: Path) -> None:
    limits = X.ExtractLimits(max_depth=3, max_path_bytes=5)
    tree = _unpack(tmp_path, "x.tar", [A.file("a/b/c", b"x")], limits=limits)
    assert (tree / "a" / "b" / "c").read_bytes() == b"x"
    with pytest.raises(VerificationError, match="4 path components"):
        _unpack(tmp_path, "x.tar", [A.file("a/b/c/d", b"x")], limits=limits)


def test_rmtree_deletes_a_read_only_tree_deeper_than_recursion_and_path_max(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kept").write_bytes(b"not ours")
    A.make_deep_tree(tmp_path / "deep", 2500, link=str(outside))  # 5000 bytes of "a/"
    X.rmtree(tmp_path / "deep")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside"]
    assert (outside / "kept").read_bytes() == b"not ours"  # the symlink was not followed


def test_escaping_symlink_at_the_bottom_of_a_deep_tree_is_found(tmp_path: Path) -> None:
    A.make_deep_tree(tmp_path / "deep", 1200, link="/etc")
    with pytest.raises(VerificationError, match="/link points to an absolute path \\(/etc\\)"):
        X.check_symlinks(tmp_path / "deep")
    X.rmtree(tmp_path / "deep")


# -- headers tarfile would hold in memory ---------------------------------------------------------

HEADER_TYPES = {
    "long_name": tarfile.GNUTYPE_LONGNAME,
    "long_link": tarfile.GNUTYPE_LONGLINK,
    "pax": tarfile.XHDTYPE,
    "pax_global": tarfile.XGLTYPE,
}


@pytest.mark.parametrize("header", sorted(HEADER_TYPES))
@pytest.mark.parametrize("compression", ["", "gz", "bz2", "xz"])
def test_extended_header_claiming_a_gigabyte_is_refused_before_it_is_read(
    tmp_path: Path, header: str, compression: A.Compression
) -> None:
    # tarfile reads such a header whole into memory before any check: 1 GiB of long name in a few
    # hundred bytes of compressed archive. Only the limit's worth of it is ever read.
    name = "x.tar" + (f".{compression}" if compression else "")
    archive = tmp_path / name
    archive.write_bytes(A.header_bomb_tar(HEADER_TYPES[header], 1 << 30, compression))
    tree = tmp_path / "tree"
    tree.mkdir()
    with pytest.raises(VerificationError, match="headers .* take more than 1048576 bytes"):
        X.unpack(archive, tree, mime_type=MIME[name], scratch=tmp_path / "s")
    assert _outside(tmp_path) == []


def test_header_limit_applies_to_headers_not_to_data_outside_extract(tmp_path: Path) -> None:
    # The data of members left out by `extract` is read through, not counted as headers.
    # (tarfile reads in records of 10 KiB, so a limit is only ever counted to within that.)
    limits = X.ExtractLimits(max_header_bytes=32 << 10)
    name = "n" * 200 + "/" + "m" * 200  # pax headers
    members = [A.file("other/big", os.urandom(1 << 20)), A.file(f"pkg/{name}", b"kept")]
    tree = _unpack(tmp_path, "x.tar.gz", members, extract="pkg", limits=limits)
    assert (tree / name).read_bytes() == b"kept"


def test_gnu_long_names_and_links_within_the_limit_are_unpacked(tmp_path: Path) -> None:
    long_dir = "d" * 150 + "/" + "e" * 150
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(f"{long_dir}/{'f' * 200}")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, f"{long_dir}/{'f' * 200}"
        tar.addfile(link)
    archive = tmp_path / "x.tar.gz"
    archive.write_bytes(buf.getvalue())
    tree = tmp_path / "tree"
    tree.mkdir()
    X.unpack(archive, tree, mime_type=X.TAR_GZ, scratch=tmp_path / "s")
    assert (tree / "link").read_bytes() == b"hi"


def test_chain_of_extended_headers_is_refused_clearly(tmp_path: Path) -> None:
    # Each header makes tarfile recurse once: 600 of them, 600 KiB, pass the recursion limit.
    archive = tmp_path / "x.tar"
    archive.write_bytes(A.extended_header_chain_tar(600))
    tree = tmp_path / "tree"
    tree.mkdir()
    with pytest.raises(VerificationError, match="too many extended headers"):
        X.unpack(archive, tree, mime_type=X.TAR, scratch=tmp_path / "s")
    assert _outside(tmp_path) == []


# -- zip CRCs, checked as unzip checks them ---------------------------------------------------------


def _with_crc_flipped(data: bytes, member: str, *, local: bool, central: bool) -> bytes:
    """DATA, a zip, with the CRC-32 of MEMBER changed in its local header, its central directory entry,
    or both (PKWARE APPNOTE 4.3.7 and 4.3.12: the CRC at offset 14 of one, 16 of the other)."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(member)
    if local:
        out[info.header_offset + 14] ^= 0xFF
    if central:
        at = -1
        while True:  # the central directory entry whose name (at 46, its length at 28) is MEMBER's
            at = data.index(b"PK\x01\x02", at + 1)
            length = struct.unpack_from("<H", data, at + 28)[0]
            if data[at + 46 : at + 46 + length] == member.encode():
                break
        out[at + 16] ^= 0xFF
    return bytes(out)


@pytest.mark.parametrize(
    ("local", "central", "extract", "refused"),
    [
        (True, True, None, True),
        (True, False, None, True),  # unzip checks the local header's CRC ...
        (False, True, None, False),  # ... and not the central directory's, which zipfile checks
        (True, True, "pkg", False),  # a member outside `extract` is not read, by unzip or 0xl
    ],
    ids=["both", "local", "central", "outside-extract"],
)
def test_zip_member_crcs_are_checked_as_unzip_checks_them(
    tmp_path: Path, local: bool, central: bool, extract: str | None, refused: bool
) -> None:
    members = [*A.SAMPLE, A.file("other/data", b"other data\n" * 50)]
    damaged = "pkg/README" if extract is None else "other/data"
    archive = tmp_path / "x.zip"
    archive.write_bytes(_with_crc_flipped(A.zip_bytes(members), damaged, local=local, central=central))
    tree = tmp_path / "tree"
    tree.mkdir()
    if refused:
        message = f"the archive is corrupt or truncated \\(Bad CRC-32 for file '{damaged}'"
        with pytest.raises(VerificationError, match=message):
            X.unpack(archive, tree, mime_type=X.ZIP, scratch=tmp_path / "s", extract=extract)
    else:
        X.unpack(archive, tree, mime_type=X.ZIP, scratch=tmp_path / "s", extract=extract)
    # The oracle: unzip as 0install runs it (archive.ml, `extract_zip`).
    oracle = tmp_path / "oracle"
    oracle.mkdir()
    args = ["unzip", "-q", "-o", str(archive), *([f"{extract}/*"] if extract else [])]
    unzip = subprocess.run(args, cwd=oracle, capture_output=True, text=True, check=False)
    assert (unzip.returncode != 0) == refused, unzip
