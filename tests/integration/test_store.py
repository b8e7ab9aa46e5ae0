"""The store end to end: archives served over HTTP on 127.0.0.1, entries judged by the real 0install,
hostile or broken downloads that must leave the store and its tmp directory exactly as they were,
concurrent and killed processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import archives as A
from tests.support.http import StaticServer
from tests.support.store import add_archive, add_directory, verify
from tests.support.zeroinstall import ZeroInstall
from zeroxl.errors import DownloadError, NotFoundError, SelectionError, VerificationError
from zeroxl.feeds import manifest
from zeroxl.feeds.extract import ExtractLimits
from zeroxl.feeds.fetch import Fetcher
from zeroxl.feeds.model import (
    Arch,
    Archive,
    FileSource,
    Implementation,
    Recipe,
    RemoveStep,
    RenameStep,
    Retrieval,
    Stability,
)
from zeroxl.feeds.store import Store
from zeroxl.feeds.versions import Version
from zeroxl.host.paths import Home

pytestmark = pytest.mark.skipif(shutil.which("0install") is None, reason="needs the real 0install")

ANY_DIGEST = "A" * 52


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "zhome")


@pytest.fixture
def store(home: Home) -> Store:
    return Store(home.store, home.tmp)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher() as f:
        yield f


@pytest.fixture
def oracle(tmp_path: Path) -> ZeroInstall:
    return ZeroInstall(tmp_path / "0install")


def impl(digest: str | None, *retrievals: Retrieval, digests: dict[str, str] | None = None) -> Implementation:
    return Implementation(
        id=f"sha256new_{digest}" if digest else "other",
        version=Version.parse("1.0"),
        arch=Arch.parse("Xen-x86_64"),
        stability=Stability.STABLE,
        digests=digests if digests is not None else {"sha256new": digest or ""},
        retrievals=retrievals,
        commands={},
    )


def publish(server: StaticServer, name: str, members: list[A.Member] | tuple[A.Member, ...]) -> Archive:
    """Put an archive of MEMBERS on the server; the Archive retrieval that names it."""
    path = A.write_archive(server.root / name, members)
    return Archive(href=f"{server.url}/{name}", size=path.stat().st_size)


def serve_bytes(server: StaticServer, name: str, data: bytes) -> str:
    (server.root / name).write_bytes(data)
    return f"{server.url}/{name}"


def snapshot(store: Store) -> tuple[list[tuple[str, str, int | None]], list[tuple[str, str, int | None]]]:
    """Everything in the store and in its tmp directory."""
    return A.listing(store.root), A.listing(store.tmp)


@pytest.fixture
def stocked(store: Store, tmp_path: Path, oracle: ZeroInstall) -> Path:
    """One entry already in the store, so that "untouched" means more than "still empty"."""
    src = A.make_tree(tmp_path / "existing", [A.file("kept", b"an earlier implementation")])
    return add_directory(store, src, oracle.digest(src))


# -- what an entry is ---------------------------------------------------------------------------------


def test_entry_is_accepted_by_0install_and_equals_what_0install_store_add_makes(
    server: StaticServer, store: Store, fetcher: Fetcher, oracle: ZeroInstall
) -> None:
    archive = publish(server, "svc-1.0.tar.gz", A.SAMPLE)
    digest = oracle.digest(server.root / "svc-1.0.tar.gz")
    path = store.ensure(impl(digest, archive), fetcher)

    assert path == store.root / f"sha256new_{digest}"
    check = oracle.verify(path)
    assert check.returncode == 0, check.stderr
    assert check.stdout.decode().splitlines()[-1] == "OK"
    theirs = oracle.store_add(digest, server.root / "svc-1.0.tar.gz")
    assert (path / ".manifest").read_bytes() == (theirs / ".manifest").read_bytes()
    assert A.listing(path) == A.listing(theirs)  # names, types, modes and file mtimes


def test_entry_is_read_only_as_0install_makes_it(
    server: StaticServer, store: Store, fetcher: Fetcher, oracle: ZeroInstall
) -> None:
    archive = publish(server, "svc.tar", A.SAMPLE)
    path = store.ensure(impl(oracle.digest(server.root / "svc.tar"), archive), fetcher)
    modes = {str(p.relative_to(path)): stat.S_IMODE(p.lstat().st_mode) for p in [path, *path.rglob("*")]}
    assert modes["."] == 0o555
    assert modes[".manifest"] == 0o444
    assert modes["pkg/bin"] == 0o555
    assert modes["pkg/bin/service"] == 0o555
    assert modes["pkg/README"] == 0o444


@pytest.mark.parametrize("name", ["x.tar", "x.tar.gz", "x.tar.bz2", "x.tar.xz", "x.zip"])
def test_each_archive_type_is_stored_with_0installs_digest(
    server: StaticServer, store: Store, fetcher: Fetcher, oracle: ZeroInstall, name: str
) -> None:
    archive = publish(server, name, A.SAMPLE)
    digest = oracle.digest(server.root / name)
    path = store.ensure(impl(digest, archive), fetcher)
    assert manifest.digest(path) == digest


def test_recipe_entry_equals_what_0install_download_makes(
    server: StaticServer, store: Store, fetcher: Fetcher, oracle: ZeroInstall, tmp_path: Path
) -> None:
    first = publish(server, "a.tar.gz", [*A.SAMPLE, A.file("pkg/obsolete", b"old")])
    second = publish(server, "b.zip", [A.file("extra/lib.so", b"lib", mode=0o755)])
    kernel = b"\x7fELF unikernel image"
    single = serve_bytes(server, "kernel.xen", kernel)
    recipe = Recipe(
        (
            Archive(first.href, first.size, extract="pkg", dest="opt/svc"),
            Archive(second.href, second.size, dest="opt/svc"),
            FileSource(single, len(kernel), dest="boot/kernel.xen", executable=True),
            RenameStep("opt/svc/README", "doc/README"),
            RemoveStep("opt/svc/obsolete"),
        )
    )
    digest = oracle.retrieval_digest(recipe, tmp_path)
    path = store.ensure(impl(digest, recipe), fetcher)

    done = oracle.download_retrieval(digest, recipe, tmp_path)
    assert done.returncode == 0, done.stderr
    theirs = oracle.implementations / f"sha256new_{digest}"
    assert (path / ".manifest").read_bytes() == (theirs / ".manifest").read_bytes()
    assert A.listing(path) == A.listing(theirs)


def test_start_offset_skips_the_prefix_as_0install_does(
    server: StaticServer, store: Store, fetcher: Fetcher, oracle: ZeroInstall, tmp_path: Path
) -> None:
    prefix = b"#!/bin/sh\nexit 0\n"
    data = A.tar_bytes(list(A.SAMPLE), "gz")
    url = serve_bytes(server, "selfextract.sh", prefix + data)
    archive = Archive(url, len(data), type="application/x-compressed-tar", start_offset=len(prefix))
    digest = oracle.retrieval_digest(archive, tmp_path)
    assert manifest.digest(store.ensure(impl(digest, archive), fetcher)) == digest


def test_ensure_again_uses_the_entry_without_downloading(
    server: StaticServer, store: Store, fetcher: Fetcher, oracle: ZeroInstall
) -> None:
    archive = publish(server, "svc.tar.gz", A.SAMPLE)
    implementation = impl(oracle.digest(server.root / "svc.tar.gz"), archive)
    assert store.path(implementation) is None
    first = store.ensure(implementation, fetcher)
    asked = len(server.requests)
    assert store.ensure(implementation, fetcher) == first == store.path(implementation)
    assert len(server.requests) == asked
    assert store.entries() == [first.name]


def test_progress_receives_byte_counts_as_they_download(
    server: StaticServer, store: Store, fetcher: Fetcher, oracle: ZeroInstall
) -> None:
    members = [A.file("blob", os.urandom(300_000))]
    archive = publish(server, "big.tar", members)
    seen: list[int] = []
    store.ensure(impl(oracle.digest(server.root / "big.tar"), archive), fetcher, progress=seen.append)
    assert len(seen) > 1
    assert sum(seen) == archive.size


# -- refusals that leave everything untouched ---------------------------------------------------------


@pytest.mark.parametrize("attack", sorted(A.HOSTILE))
def test_hostile_archive_is_refused_and_leaves_store_and_tmp_untouched(
    server: StaticServer, store: Store, fetcher: Fetcher, stocked: Path, attack: str
) -> None:
    archive = publish(server, f"{attack}.tar.gz", A.HOSTILE[attack])
    before = snapshot(store)
    with pytest.raises(VerificationError, match=A.HOSTILE[attack][-1].name.replace(".", r"\.")):
        store.ensure(impl(ANY_DIGEST, archive), fetcher)
    assert snapshot(store) == before
    assert not Path("/tmp/zeroxl-absolute-escape").exists()


ZIP_REFUSALS = {
    "symlink_absolute": "archive member 'pkg/passwd' is a symlink to an absolute path (/etc/passwd)",
    "symlink_relative": "archive member 'pkg/up' is a symlink pointing outside the tree (../../../../etc)",
    "dotdot": "archive member 'pkg/../../escaped' has '..' in its path",
    "device": "archive member 'pkg/null' is a device file, fifo or socket",
}


@pytest.mark.parametrize("attack", sorted(ZIP_REFUSALS))
def test_hostile_zip_is_refused_and_leaves_store_and_tmp_untouched(  # noqa: PLR0917 - fixtures and a case
    server: StaticServer, store: Store, fetcher: Fetcher, stocked: Path, oracle: ZeroInstall, attack: str
) -> None:
    # Under the archive's real digest (0install's, of the tree it unpacks to), so that only the check of
    # its hostile member can refuse it. A member that climbs out of the tree is not part of that tree.
    members = A.HOSTILE[attack]
    tree = A.write_archive(server.root / "tree.zip", members[:-1] if attack == "dotdot" else members)
    archive = publish(server, f"{attack}.zip", members)
    before = snapshot(store)
    with pytest.raises(VerificationError) as refused:
        store.ensure(impl(oracle.digest(tree), archive), fetcher)
    assert refused.value.message == ZIP_REFUSALS[attack]
    assert snapshot(store) == before


def test_archive_with_wrong_digest_leaves_store_untouched(
    server: StaticServer, store: Store, fetcher: Fetcher, stocked: Path, oracle: ZeroInstall
) -> None:
    archive = publish(server, "svc.tar.gz", A.SAMPLE)
    other = oracle.digest(A.write_archive(server.root / "other.tar", [A.file("other")]))
    before = snapshot(store)
    with pytest.raises(VerificationError, match="incorrect manifest") as caught:
        store.ensure(impl(other, archive), fetcher)
    assert oracle.digest(server.root / "svc.tar.gz") in caught.value.message  # says what it got
    assert snapshot(store) == before


def test_archive_larger_than_declared_leaves_store_untouched(
    server: StaticServer, store: Store, fetcher: Fetcher, stocked: Path, oracle: ZeroInstall
) -> None:
    archive = publish(server, "svc.tar.gz", A.SAMPLE)
    digest = oracle.digest(server.root / "svc.tar.gz")
    before = snapshot(store)
    with pytest.raises(VerificationError, match="bytes"):
        store.ensure(impl(digest, Archive(archive.href, archive.size - 1)), fetcher)
    assert snapshot(store) == before


def test_archive_smaller_than_declared_leaves_store_untouched(
    server: StaticServer, store: Store, fetcher: Fetcher, stocked: Path, oracle: ZeroInstall
) -> None:
    archive = publish(server, "svc.tar.gz", A.SAMPLE)
    digest = oracle.digest(server.root / "svc.tar.gz")
    before = snapshot(store)
    with pytest.raises(VerificationError, match="bytes"):
        store.ensure(impl(digest, Archive(archive.href, archive.size + 100)), fetcher)
    assert snapshot(store) == before


def test_truncated_archive_leaves_store_untouched(
    server: StaticServer, store: Store, fetcher: Fetcher, stocked: Path
) -> None:
    data = A.tar_bytes([A.file("blob", os.urandom(50_000)), A.file("after", b"x")], "gz")
    url = serve_bytes(server, "cut.tar.gz", data[: len(data) // 2])
    before = snapshot(store)
    with pytest.raises(VerificationError, match="corrupt or truncated"):
        store.ensure(impl(ANY_DIGEST, Archive(url, len(data) // 2)), fetcher)
    assert snapshot(store) == before


def test_stopped_server_leaves_store_untouched(
    server: StaticServer, store: Store, fetcher: Fetcher, stocked: Path
) -> None:
    archive = publish(server, "svc.tar.gz", A.SAMPLE)
    server.stop()
    before = snapshot(store)
    with pytest.raises(DownloadError):
        store.ensure(impl(ANY_DIGEST, archive), fetcher)
    assert snapshot(store) == before


def test_server_dying_mid_download_leaves_store_untouched(store: Store, fetcher: Fetcher, stocked: Path) -> None:
    data = A.tar_bytes([A.file("blob", os.urandom(200_000))], "gz")
    with _RawServer(data, behaviour="die") as raw:
        before = snapshot(store)
        with pytest.raises(DownloadError):
            store.ensure(impl(ANY_DIGEST, Archive(f"{raw.url}/x.tar.gz", len(data))), fetcher)
    assert snapshot(store) == before


def test_decompression_bomb_is_stopped_by_the_store_limits(server: StaticServer, home: Home, fetcher: Fetcher) -> None:
    store = Store(home.store, home.tmp, limits=ExtractLimits(max_bytes=4 << 20))
    url = serve_bytes(server, "bomb.tar.gz", A.bomb_tar_gz(256 << 20))
    with pytest.raises(VerificationError, match="limit"):
        store.ensure(impl(ANY_DIGEST, Archive(url, (server.root / "bomb.tar.gz").stat().st_size)), fetcher)
    assert snapshot(store) == ([], [])


def test_long_name_header_bomb_is_refused_and_leaves_store_and_tmp_untouched(
    server: StaticServer, store: Store, fetcher: Fetcher, stocked: Path
) -> None:
    # A few kilobytes whose GNU long-name header claims 1 GiB, which tarfile would hold in memory.
    url = serve_bytes(server, "bomb.tar.gz", A.header_bomb_tar(b"L", 1 << 30, "gz"))
    before = snapshot(store)
    with pytest.raises(VerificationError, match="headers .* take more than"):
        store.ensure(impl(ANY_DIGEST, Archive(url, (server.root / "bomb.tar.gz").stat().st_size)), fetcher)
    assert snapshot(store) == before


@pytest.mark.parametrize("name", ["deep.tar.gz", "deep.zip"])
def test_archive_too_deep_to_walk_is_refused_and_leaves_store_and_tmp_untouched(
    server: StaticServer, store: Store, fetcher: Fetcher, stocked: Path, name: str
) -> None:
    archive = publish(server, name, [A.file("a/" * 1200 + "f", b"x")])
    before = snapshot(store)
    with pytest.raises(VerificationError, match="path components, over the limit"):
        store.ensure(impl(ANY_DIGEST, archive), fetcher)
    assert snapshot(store) == before


def test_deep_workspace_left_behind_does_not_block_the_next_ensure(
    server: StaticServer, store: Store, home: Home, fetcher: Fetcher, oracle: ZeroInstall
) -> None:
    # As a process killed while unpacking, or an older 0xl, could leave: deeper than recursion reaches.
    A.make_deep_tree(home.tmp / "store-work-left", 1500)
    archive = publish(server, "svc.tar", A.SAMPLE)
    store.ensure(impl(oracle.digest(server.root / "svc.tar"), archive), fetcher)
    assert A.listing(home.tmp) == []


def test_implementation_without_sha256new_digest_is_refused_before_any_download(
    server: StaticServer, store: Store, fetcher: Fetcher
) -> None:
    archive = publish(server, "svc.tar.gz", A.SAMPLE)
    legacy = impl(None, archive, digests={"sha1new": "5ac816a5abab6384dfdd4401f6479dd5ebfff0b2"})
    with pytest.raises(VerificationError, match="no sha256new digest"):
        store.ensure(legacy, fetcher)
    assert server.requests == []
    assert store.path(legacy) is None


@pytest.mark.parametrize("digest", ["../../../tmp/evil", ANY_DIGEST.lower(), ""])
def test_malformed_digest_is_refused_before_it_becomes_a_path(
    server: StaticServer, store: Store, fetcher: Fetcher, digest: str
) -> None:
    archive = publish(server, "svc.tar.gz", A.SAMPLE)
    with pytest.raises(VerificationError, match="digest"):
        store.ensure(impl(None, archive, digests={"sha256new": digest}), fetcher)
    assert server.requests == []
    assert snapshot(store) == ([], [])


def test_implementation_with_no_supported_retrieval_is_refused(
    server: StaticServer, store: Store, fetcher: Fetcher
) -> None:
    deb = Archive(f"{server.url}/svc.deb", 100)
    with pytest.raises(SelectionError, match="no download method"):
        store.ensure(impl(ANY_DIGEST, deb), fetcher)


def test_first_usable_retrieval_is_the_one_used(
    server: StaticServer, store: Store, fetcher: Fetcher, oracle: ZeroInstall
) -> None:
    archive = publish(server, "svc.tar.gz", A.SAMPLE)
    deb = Archive(f"{server.url}/svc.deb", 100)
    store.ensure(impl(oracle.digest(server.root / "svc.tar.gz"), deb, archive), fetcher)
    assert server.requests == ["/svc.tar.gz"]


# -- other processes ----------------------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from zeroxl.feeds.fetch import Fetcher
    from zeroxl.feeds.model import Arch, Archive, Implementation, Stability
    from zeroxl.feeds.store import Store
    from zeroxl.feeds.versions import Version

    root, tmp, href, size, digest = sys.argv[1:]
    impl = Implementation(f"sha256new_{digest}", Version.parse("1"), Arch.parse("Xen-x86_64"),
                          Stability.STABLE, {"sha256new": digest}, (Archive(href, int(size)),), {})
    with Fetcher() as fetcher:
        print(Store(Path(root), Path(tmp)).ensure(impl, fetcher))
    """
)


def _child(home: Home, archive: Archive, digest: str) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-c",
        _CHILD,
        str(home.store),
        str(home.tmp),
        archive.href,
        str(archive.size),
        digest,
    ]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_concurrent_ensure_of_the_same_implementation_stores_it_once(
    server: StaticServer, store: Store, home: Home, oracle: ZeroInstall
) -> None:
    members = [A.file(f"part{i}", os.urandom(1 << 20)) for i in range(4)]
    archive = publish(server, "svc.tar", members)
    digest = oracle.digest(server.root / "svc.tar")
    children = [_child(home, archive, digest) for _ in range(6)]
    results = [c.communicate(timeout=60) for c in children]
    assert all(c.returncode == 0 for c in children), [err for _, err in results]
    paths = {out.decode().strip() for out, _ in results}
    assert paths == {str(home.store / f"sha256new_{digest}")}
    assert store.entries() == [f"sha256new_{digest}"]
    assert A.listing(home.tmp) == []
    assert oracle.verify(home.store / f"sha256new_{digest}").returncode == 0


def test_losing_the_race_to_another_process_keeps_its_entry_and_discards_ours(
    server: StaticServer, store: Store, home: Home, fetcher: Fetcher, oracle: ZeroInstall
) -> None:
    archive = publish(server, "svc.tar", [A.file("blob", os.urandom(300_000))])
    digest = oracle.digest(server.root / "svc.tar")
    other = Store(home.store, home.tmp)
    winner: list[Path] = []

    def meanwhile(_: int) -> None:
        # While this download runs, "another process" stores the same implementation first.
        if not winner:
            winner.append(add_archive(other, server.root / "svc.tar", digest))

    path = store.ensure(impl(digest, archive), fetcher, progress=meanwhile)
    assert path == winner[0]
    assert store.entries() == [f"sha256new_{digest}"]
    assert A.listing(home.tmp) == []
    assert oracle.verify(path).returncode == 0


def test_workspace_of_a_killed_process_is_cleaned_up_but_a_live_one_is_not(
    store: Store, home: Home, fetcher: Fetcher, server: StaticServer, oracle: ZeroInstall
) -> None:
    data = A.tar_bytes([A.file("blob", os.urandom(200_000))], "gz")
    with _RawServer(data, behaviour="stall") as raw:
        child = _child(home, Archive(f"{raw.url}/x.tar.gz", len(data)), ANY_DIGEST)
        try:
            raw.stalled.wait(timeout=30)
            left = [p.name for p in home.tmp.iterdir()]
            assert len(left) == 1
            assert left[0].startswith("store-work-")
            assert store.clean_tmp() == []  # its process is alive and holds the lock
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert [p.name for p in home.tmp.iterdir()] == left  # a killed process leaves it behind
        archive = publish(server, "svc.tar", A.SAMPLE)
        store.ensure(impl(oracle.digest(server.root / "svc.tar"), archive), fetcher)
    assert A.listing(home.tmp) == []  # the next ensure removed it


# -- other operations ---------------------------------------------------------------------------------


def test_add_directory_copies_a_tree_that_0install_then_verifies(
    store: Store, tmp_path: Path, oracle: ZeroInstall
) -> None:
    src = A.make_tree(tmp_path / "src", [*A.SAMPLE, A.symlink("pkg/abs", "/etc/hostname")][:-1])
    digest = oracle.digest(src)
    path = add_directory(store, src, digest)
    assert oracle.verify(path).returncode == 0
    assert manifest.manifest_bytes(path) == manifest.manifest_bytes(src)


def test_add_directory_with_wrong_digest_leaves_store_untouched(store: Store, tmp_path: Path, stocked: Path) -> None:
    src = A.make_tree(tmp_path / "src", A.SAMPLE)
    before = snapshot(store)
    with pytest.raises(VerificationError, match="incorrect manifest"):
        add_directory(store, src, ANY_DIGEST)
    assert snapshot(store) == before


def test_add_directory_refuses_a_tree_with_its_own_manifest(store: Store, tmp_path: Path) -> None:
    src = A.make_tree(tmp_path / "src", [A.file(".manifest", b"F ..."), A.file("a")])
    with pytest.raises(VerificationError, match=r"\.manifest"):
        add_directory(store, src, ANY_DIGEST)


def test_add_directory_refuses_a_symlink_out_of_the_tree(store: Store, tmp_path: Path) -> None:
    src = A.make_tree(tmp_path / "src", [A.symlink("etc", "/etc")])
    with pytest.raises(VerificationError, match="absolute"):
        add_directory(store, src, ANY_DIGEST)


def test_remove_takes_a_read_only_entry_out_whole(store: Store, home: Home, stocked: Path) -> None:
    assert store.entries() == [stocked.name]
    store.remove(stocked.name)
    assert store.entries() == []
    assert not stocked.exists()
    assert A.listing(home.tmp) == []


@pytest.mark.parametrize("name", ["sha256new_" + ANY_DIGEST, "../zhome", "sha1new=abc"])
def test_remove_of_something_not_stored_is_not_found(store: Store, name: str) -> None:
    with pytest.raises(NotFoundError):
        store.remove(name)


def test_verify_notices_an_entry_changed_after_it_was_stored(store: Store, stocked: Path, oracle: ZeroInstall) -> None:
    verify(store, stocked.name)
    kept = stocked / "kept"
    kept.chmod(0o644)
    kept.write_bytes(b"tampered")
    with pytest.raises(VerificationError, match="modified"):
        verify(store, stocked.name)
    assert oracle.verify(stocked).returncode != 0


def test_entries_lists_only_implementations(store: Store, home: Home, stocked: Path) -> None:
    (home.store / "not-an-entry").mkdir()
    (home.store / ("sha256new_" + ANY_DIGEST)).write_bytes(b"a file, not an entry")
    assert store.entries() == [stocked.name]


# -- servers that misbehave -------------------------------------------------------------------------


class _RawServer:
    """An HTTP server on 127.0.0.1 that announces DATA in full, sends half of it, then either closes
    the connection ("die") or keeps it open without sending more ("stall")."""

    def __init__(self, data: bytes, *, behaviour: str) -> None:
        self.data = data
        self.behaviour = behaviour
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stalled = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> _RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.sock.close()
        self.thread.join(timeout=10)

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(self.data)}\r\nConnection: close\r\n\r\n"
            conn.sendall(head.encode() + self.data[: len(self.data) // 2])
            if self.behaviour == "stall":
                self.stalled.set()
                self.done.wait(timeout=60)
            time.sleep(0.01)
