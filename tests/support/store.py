"""Filling a store as `0install store add` does, for tests that compare with the real 0install or need
an entry made another way than by a download (0xl itself only downloads: feeds.store.Store.ensure)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from zeroxl.errors import NotFoundError, VerificationError
from zeroxl.feeds import manifest
from zeroxl.feeds.extract import archive_type, unpack
from zeroxl.feeds.store import Store


def add_directory(store: Store, src: Path, expected_digest: str) -> Path:
    """Copy the tree at SRC into STORE, if its digest is EXPECTED_DIGEST (as `0install store add DIGEST DIR`).
    Like 0install, refuses a SRC that already has a top-level `.manifest`."""
    manifest.store_name(expected_digest)  # refuses a malformed digest
    existing = store.existing(expected_digest)
    if existing is not None:
        return existing
    if not src.is_dir():
        raise NotFoundError(f"{src} is not a directory")
    if os.path.lexists(src / manifest.MANIFEST_NAME):
        raise VerificationError(f"{src} already contains a .manifest file", hint="is it a store entry?")
    with store.workspace() as work:
        tree = work / "tree"
        _copy_tree(src, tree)
        return store.add_tree(tree, expected_digest)


def add_archive(
    store: Store, archive: Path, expected_digest: str, *, mime_type: str | None = None, extract: str | None = None
) -> Path:
    """Unpack a local ARCHIVE into STORE if its digest is EXPECTED_DIGEST (as `0install store add DIGEST
    ARCHIVE [EXTRACT]`)."""
    manifest.store_name(expected_digest)
    existing = store.existing(expected_digest)
    if existing is not None:
        return existing
    mime = archive_type(archive.name, mime_type)
    with store.workspace() as work:
        tree = work / "tree"
        tree.mkdir(mode=0o755)
        unpack(
            archive, tree, mime_type=mime, scratch=work / "unpack", extract=extract, limits=store.limits, durable=True
        )
        return store.add_tree(tree, expected_digest)


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy SRC to DST as 0install's `copy_tree`: contents, the execute bit and mtimes of files, and
    symlinks as they are; anything else is refused."""
    stack = [(src, dst)]
    while stack:
        src_dir, dst_dir = stack.pop()
        dst_dir.mkdir(mode=0o755)
        for entry in os.scandir(src_dir):
            target = dst_dir / entry.name
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                stack.append((Path(entry.path), target))
            elif stat.S_ISLNK(info.st_mode):
                target.symlink_to(os.readlink(entry.path))
            elif stat.S_ISREG(info.st_mode):
                _copy_file(Path(entry.path), target, executable=bool(info.st_mode & 0o111))
            else:
                raise VerificationError(f"{entry.path} is not a regular file, directory or symlink")


def _copy_file(src: Path, dst: Path, *, executable: bool) -> None:
    mode = 0o755 if executable else 0o644
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    os.fchmod(out, mode)  # whatever the umask
    with open(fd, "rb") as fin, open(out, "wb") as fout:
        info = os.fstat(fin.fileno())
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.utime(fout.fileno(), ns=(info.st_mtime_ns, info.st_mtime_ns))
        os.fsync(fout.fileno())


def verify(store: Store, store_name: str) -> None:
    """Check that entry STORE_NAME still has the digest in its name, and that its `.manifest` agrees (as
    `0install store verify`)."""
    expected = store_name.removeprefix(manifest.PREFIX)
    path = store.existing(expected)
    if path is None:
        raise NotFoundError(f"no implementation {store_name} in the store")
    actual = manifest.digest(path)
    recorded = manifest.digest_of_manifest((path / manifest.MANIFEST_NAME).read_bytes())
    if actual != expected:
        raise VerificationError(f"stored implementation {store_name} has been modified: its digest is now {actual}")
    if recorded != expected:
        raise VerificationError(f"stored implementation {store_name} has a wrong .manifest file")
