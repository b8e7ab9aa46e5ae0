"""Manifests and unpacking against the real 0install: for a tree, 0xl's manifest must be the bytes
`0install store manifest DIR sha256new` prints and its digest what `0install digest` prints; for an
archive, what 0xl unpacks must have the digest 0install gives the archive after unpacking it itself."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import archives as A
from tests.support.zeroinstall import ZeroInstall
from zeroxl.feeds import extract as X
from zeroxl.feeds import manifest

pytestmark = pytest.mark.skipif(shutil.which("0install") is None, reason="needs the real 0install")


@pytest.fixture
def oracle(tmp_path: Path) -> ZeroInstall:
    return ZeroInstall(tmp_path / "0install")


def _same_as_0install(oracle: ZeroInstall, tree: Path) -> None:
    assert manifest.manifest_bytes(tree) == oracle.manifest(tree)
    assert manifest.digest(tree) == oracle.digest(tree)


TREES: dict[str, list[A.Member]] = {
    "empty": [],
    "nested": [A.file("a/b/c/d", b"deep"), A.file("a/top", b"t"), A.file("z", b"z")],
    "executables": [
        A.file("bin/run", b"#!/bin/sh\n", mode=0o755),
        A.file("bin/lib", b"", mode=0o700),
        A.file("data", b"1", mode=0o600),
        A.file("grp", b"", mode=0o610),
    ],
    "symlinks": [
        A.file("real", b"r"),
        A.symlink("rel", "real"),
        A.symlink("abs", "/etc/hostname"),
        A.symlink("dangling", "no/such"),
        A.symlink("dir/up", ".."),
    ],
    "empty_dirs": [A.directory("e1"), A.directory("e2/e3"), A.file("e2/f", b"")],
    "odd_names": [
        A.file("with space", b"s"),
        A.file("ünïcödé ☃", b"u"),
        A.file("-dash", b"d"),
        A.file("UPPER", b"U"),
        A.file("lower", b"l"),
        A.directory("dir with space/x y"),
        A.file(".hidden", b"h"),
        A.file("tab\there", b"t"),
    ],
    "empty_files": [A.file("e", b""), A.file("d/e", b""), A.file("x", b"", mode=0o755)],
    "mtimes": [
        A.file("old", b"", mtime=-86400 * 365),
        A.file("zero", b"", mtime=0),
        A.file("y2038", b"", mtime=2**31 + 5),
    ],
    "manifest_names": [A.file(".manifest", b"top: left out"), A.file("sub/.manifest", b"listed")],
}


@pytest.mark.parametrize("kind", sorted(TREES))
def test_manifest_and_digest_equal_0install(tmp_path: Path, oracle: ZeroInstall, kind: str) -> None:
    tree = A.make_tree(tmp_path / "tree", TREES[kind])
    _same_as_0install(oracle, tree)


def test_sub_second_mtimes_equal_0install(tmp_path: Path, oracle: ZeroInstall) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for i, ns in enumerate([1_700_000_000_999_999_999, 1_700_000_000_000_000_001, -5_500_000_000, -1]):
        (tree / f"f{i}").write_bytes(b"")
        os.utime(tree / f"f{i}", ns=(ns, ns))
    _same_as_0install(oracle, tree)


# -- random trees -----------------------------------------------------------------------------------

_names = st.one_of(
    st.text(alphabet="abAB _-.é☃1", min_size=1, max_size=6).filter(lambda n: n not in (".", "..")),
    st.just(".manifest"),
)
_files = st.tuples(
    st.just("file"),
    st.binary(max_size=300),
    st.sampled_from([0o644, 0o755, 0o600, 0o654]),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.integers(min_value=0, max_value=999_999_999),
)
_links = st.tuples(st.just("link"), st.text(alphabet="ab./é", min_size=1, max_size=12))
_trees = st.recursive(
    st.one_of(_files, _links),
    lambda children: st.dictionaries(_names, children, max_size=5),
    max_leaves=15,
).filter(lambda t: isinstance(t, dict))


def _build(root: Path, node: dict) -> None:
    root.mkdir()
    for name, child in node.items():
        path = root / name
        if isinstance(child, dict):
            _build(path, child)
        elif child[0] == "link":
            path.symlink_to(child[1])
        else:
            _, data, mode, seconds, nanos = child
            path.write_bytes(data)
            path.chmod(mode)
            ns = seconds * 1_000_000_000 + nanos
            os.utime(path, ns=(ns, ns))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_trees)
def test_random_trees_digest_as_0install_digests_them(tree: dict, oracle: ZeroInstall) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "t"
        _build(root, tree)
        _same_as_0install(oracle, root)


# -- unpacking --------------------------------------------------------------------------------------

UNPACKED: list[A.Member] = [
    *A.SAMPLE,
    A.Member("pkg/frac", b"f", pax_mtime="1700000000.999999999"),
    A.Member("pkg/before1970", b"b", pax_mtime="-5.5"),
    A.hardlink("pkg/bin/alias", "pkg/bin/service"),
    A.file("pkg/suid", b"s", mode=0o4755),
    A.file("pkg/other-exec", b"o", mode=0o601),
    A.file("pkg/ünï cödé", b"u"),
]


def _our_digest(tmp_path: Path, archive: Path, mime: str, extract: str | None = None) -> str:
    tree = tmp_path / "ours"
    tree.mkdir()
    X.unpack(archive, tree, mime_type=mime, scratch=tmp_path / "scratch", extract=extract)
    return manifest.digest(tree)


@pytest.mark.parametrize(
    ("name", "mime"),
    [("x.tar", X.TAR), ("x.tar.gz", X.TAR_GZ), ("x.tar.bz2", X.TAR_BZ2), ("x.tar.xz", X.TAR_XZ)],
)
@pytest.mark.parametrize("extract", [None, "pkg"])
def test_unpacked_tar_digests_as_0install_unpacks_it(
    tmp_path: Path, oracle: ZeroInstall, name: str, mime: str, extract: str | None
) -> None:
    archive = A.write_archive(tmp_path / name, UNPACKED)
    assert _our_digest(tmp_path, archive, mime, extract) == oracle.digest(archive, extract)


@pytest.mark.parametrize("extract", [None, "pkg"])
def test_unpacked_zip_digests_as_0install_unpacks_it(tmp_path: Path, oracle: ZeroInstall, extract: str | None) -> None:
    members = [m for m in UNPACKED if m.kind != "hardlink" and m.pax_mtime is None]
    archive = A.write_archive(tmp_path / "x.zip", members)
    assert _our_digest(tmp_path, archive, X.ZIP, extract) == oracle.digest(archive, extract)


_members = st.lists(
    st.tuples(
        st.lists(st.sampled_from(["a", "b", "c d", "é"]), min_size=1, max_size=3),
        st.binary(max_size=100),
        st.sampled_from([0o644, 0o755, 0o4755, 0o640, 0o700]),
        st.integers(min_value=0, max_value=2**33),
    ),
    max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=_members)
def test_random_tar_unpacks_as_0install_unpacks_it(members: list, oracle: ZeroInstall) -> None:
    # Each path is a file; a later file below an earlier one's path would be refused by both tools
    # for different reasons, so such archives are left out.
    paths: list[str] = []
    entries = []
    for parts, data, mode, mtime in members:
        path = "/".join(parts)
        if any(p == path or p.startswith(path + "/") or path.startswith(p + "/") for p in paths):
            continue
        paths.append(path)
        entries.append(A.file(path, data, mode=mode, mtime=mtime))
    with tempfile.TemporaryDirectory() as tmp:
        archive = A.write_archive(Path(tmp) / "r.tar.gz", entries)
        assert _our_digest(Path(tmp), archive, X.TAR_GZ) == oracle.digest(archive)
