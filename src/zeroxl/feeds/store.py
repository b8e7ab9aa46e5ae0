"""The implementation store: one read-only directory per sha256new digest, laid out as 0install's cache.

An entry `store/sha256new_<DIGEST>` holds an implementation's files and a `.manifest` listing them,
exactly as 0install 2.18 writes them (`src/zeroinstall/stores.ml`, `check_manifest_and_rename`):
directories and executables 0555, other files 0444, `.manifest` 0444. `0install store verify` accepts
an entry made here, and an entry 0install made is a valid entry here.

An entry is built in a private workspace under the tmp directory (on the store's file system), checked
against the digest the signed feed gave, and renamed into the store: it appears whole or not at all.
Whatever fails, the workspace goes and the store is as it was. Each workspace holds an exclusive
`flock` for as long as its process lives, so a workspace whose lock can be taken was left by a process
that died, and is removed by the next one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from zeroxl.errors import NotFoundError, SelectionError, StateError, VerificationError
from zeroxl.feeds import manifest
from zeroxl.feeds.extract import (
    SUPPORTED_TYPES,
    ExtractLimits,
    archive_type,
    check_symlinks,
    makedirs_within,
    path_within,
    rmtree,
    tree_entries,
    type_from_url,
    unpack,
)
from zeroxl.feeds.fetch import Fetcher, ProgressFn
from zeroxl.feeds.model import (
    Archive,
    FileSource,
    Implementation,
    Recipe,
    RemoveStep,
    RenameStep,
    Retrieval,
    Step,
)
from zeroxl.state import private
from zeroxl.state.atomic import fsync_dir

_WORK_PREFIX = "store-work-"
_NEW_PREFIX = ".store-new-"
# A workspace is locked a moment after it is made; one still unlocked after this long was abandoned.
_NEW_GRACE_SECONDS = 3600


def usable_retrieval(impl: Implementation) -> Retrieval | None:
    """The first of IMPL's retrieval methods that 0xl can carry out, or None."""
    return next((r for r in impl.retrievals if _usable(r)), None)


def _usable(retrieval: Retrieval) -> bool:
    steps: tuple[Step, ...] = retrieval.steps if isinstance(retrieval, Recipe) else (retrieval,)
    return all(_usable_archive(s) if isinstance(s, Archive) else True for s in steps)


def _usable_archive(archive: Archive) -> bool:
    try:
        mime = archive.type or type_from_url(archive.href)
    except VerificationError:
        return False
    return mime in SUPPORTED_TYPES


class Store:
    def __init__(self, root: Path, tmp: Path, *, limits: ExtractLimits | None = None) -> None:
        """A store at ROOT, with workspaces under TMP, which must be on ROOT's file system."""
        self.root = root
        self.tmp = tmp
        self.limits = limits or ExtractLimits()

    # -- looking up -----------------------------------------------------------------------------------

    def path(self, impl: Implementation) -> Path | None:
        """Where IMPL is stored, or None if it is not (or has no valid sha256new digest)."""
        digest = impl.sha256new
        if digest is None or not manifest.is_digest(digest):
            return None
        return self.existing(digest)

    def entries(self) -> list[str]:
        """The names of the stored implementations (`sha256new_…`), sorted."""
        try:
            names = [p.name for p in self.root.iterdir()]
        except FileNotFoundError:
            return []
        except OSError as e:
            raise StateError(f"cannot list the store {self.root}: {e.strerror}") from e
        return sorted(n for n in names if _is_entry_name(n) and self.existing(n.removeprefix(manifest.PREFIX)))

    # -- adding ---------------------------------------------------------------------------------------

    def ensure(self, impl: Implementation, fetcher: Fetcher, *, progress: ProgressFn | None = None) -> Path:
        """IMPL's directory in the store, downloaded, unpacked and verified first if it is not there.

        PROGRESS is called with the number of bytes of each chunk as it downloads.
        """
        digest = _required_digest(impl)
        existing = self.existing(digest)
        if existing is not None:
            return existing
        retrieval = usable_retrieval(impl)
        if retrieval is None:
            raise SelectionError(
                f"implementation {impl.id} has no download method that 0xl supports",
                hint="0xl downloads <archive> (tar or zip), <file> and <recipe> retrievals",
            )
        steps: tuple[Step, ...] = retrieval.steps if isinstance(retrieval, Recipe) else (retrieval,)
        with self.workspace() as work:
            build = _Build(_new_tree(work), work, fetcher, progress, self.limits)
            for number, step in enumerate(steps):
                _run_step(build, step, number)
            return self.add_tree(build.tree, digest)

    # -- removing ------------------------------------------------------------------------------------------

    def remove(self, store_name: str) -> None:
        """Delete entry STORE_NAME. It leaves the store in one rename, so it is never half there."""
        path = self._entry(store_name)
        with self.workspace() as work:
            try:
                path.chmod(0o755)  # moving a directory to another parent rewrites its `..` entry
                path.rename(work / "removed")
            except OSError as e:
                with contextlib.suppress(OSError):
                    path.chmod(0o555)
                raise StateError(f"cannot remove {path}: {e.strerror}") from e
            fsync_dir(self.root)

    def clean_tmp(self) -> list[str]:
        """Delete workspaces left by processes that died; returns their names."""
        try:
            names = [p.name for p in self.tmp.iterdir()]
        except FileNotFoundError:
            return []
        except OSError as e:
            raise StateError(f"cannot list {self.tmp}: {e.strerror}") from e
        removed = []
        for name in names:
            path = self.tmp / name
            if name.startswith(_WORK_PREFIX) and _remove_if_unlocked(path):
                removed.append(name)
            elif name.startswith(_NEW_PREFIX) and _older_than(path, _NEW_GRACE_SECONDS):
                rmtree(path)
                removed.append(name)
        return removed

    # -- publishing -----------------------------------------------------------------------------------

    def add_tree(self, tree: Path, digest: str) -> Path:
        """Check TREE (in a workspace) against DIGEST, finish it as 0install does, and rename it into the store."""
        check_symlinks(tree)
        if os.path.lexists(tree / manifest.MANIFEST_NAME):
            raise VerificationError("the implementation contains its own .manifest file")
        _make_read_only(tree)
        text = manifest.manifest_bytes(tree)
        actual = manifest.digest_of_manifest(text)
        if actual != digest:
            raise VerificationError(
                "incorrect manifest: the implementation's contents do not have the digest the feed gives\n"
                f"required digest: {manifest.PREFIX}{digest}\n"
                f"actual digest:   {manifest.PREFIX}{actual}",
                hint="the archive is corrupt or is not the one the publisher signed",
                reason="digest",
            )
        with _create(tree / manifest.MANIFEST_NAME, 0o444) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dirs(tree)
        return self._rename_into_store(tree, digest)

    def _rename_into_store(self, tree: Path, digest: str) -> Path:
        final = self.root / manifest.store_name(digest)
        _makedirs(self.root)
        try:
            tree.rename(final)
        except OSError as e:
            if e.errno in (errno.EEXIST, errno.ENOTEMPTY) and self.existing(digest) is not None:
                return final  # another process stored it first; our copy goes with the workspace
            if e.errno == errno.EXDEV:
                raise StateError(
                    f"cannot move {tree} into {self.root}: they are on different file systems",
                    hint="the store and its tmp directory must be on one file system",
                ) from e
            raise StateError(f"cannot move {tree} to {final}: {e.strerror}") from e
        final.chmod(0o555)
        fsync_dir(self.root)
        return final

    # -- workspaces -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def workspace(self) -> Iterator[Path]:
        """A fresh directory under tmp, locked for this process's lifetime and removed afterwards."""
        private.makedirs(str(self.tmp))  # scratch space: its owner's alone (docs/home.md)
        self.clean_tmp()
        try:
            fresh = Path(tempfile.mkdtemp(prefix=_NEW_PREFIX, dir=self.tmp))
            fd = os.open(fresh, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise StateError(f"cannot create a directory in {self.tmp}: {e.strerror}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # Renamed only once locked, so that a `store-work-*` without a lock is always abandoned.
            work = self.tmp / (_WORK_PREFIX + fresh.name.removeprefix(_NEW_PREFIX))
            fresh.rename(work)
            try:
                yield work
            finally:
                rmtree(work)
        finally:
            os.close(fd)

    # -- helpers --------------------------------------------------------------------------------------

    def existing(self, digest: str) -> Path | None:
        """The entry of DIGEST (the part after `sha256new_`), if the store has it."""
        path = self.root / (manifest.PREFIX + digest)
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StateError(f"cannot read {path}: {e.strerror}") from e
        return path if stat.S_ISDIR(mode) else None

    def _entry(self, store_name: str) -> Path:
        if not _is_entry_name(store_name):
            raise NotFoundError(f"{store_name!r} is not the name of a stored implementation (sha256new_…)")
        path = self.existing(store_name.removeprefix(manifest.PREFIX))
        if path is None:
            raise NotFoundError(f"no implementation {store_name} in the store")
        return path


# -- steps ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Build:
    """What the steps of one retrieval share."""

    tree: Path  # the implementation being built
    work: Path  # its workspace, for downloads and scratch directories
    fetcher: Fetcher
    progress: ProgressFn | None
    limits: ExtractLimits


def _run_step(build: _Build, step: Step, number: int) -> None:
    if isinstance(step, Archive):
        _archive_step(build, step, number)
    elif isinstance(step, FileSource):
        _file_step(build, step)
    elif isinstance(step, RenameStep):
        _rename_step(step, build.tree)
    else:
        _remove_step(step, build.tree)


def _archive_step(build: _Build, step: Archive, number: int) -> None:
    mime = archive_type(step.href, step.type)
    download = build.work / f"archive-{number}"
    with _create(download, 0o600) as out:
        # The feed's size excludes the skipped prefix; 0install downloads both (fetch.ml).
        size = step.size + step.start_offset
        build.fetcher.download(step.href, out, size=size, what="archive", progress=build.progress)
    unpack(
        download,
        build.tree,
        mime_type=mime,
        scratch=build.work / f"unpack-{number}",
        extract=step.extract,
        dest=step.dest,
        start_offset=step.start_offset,
        limits=build.limits,
        durable=True,
    )
    download.unlink()


def _file_step(build: _Build, step: FileSource) -> None:
    """A single file at `dest`, mode 0755 or 0644 and mtime 0, as 0install's `<file>` (fetch.ml)."""
    dest = path_within(build.tree, step.dest)
    makedirs_within(build.tree, dest.parent)
    mode = 0o755 if step.executable else 0o644
    try:
        out = _create(dest, mode)
    except FileExistsError as e:
        raise VerificationError(f"<file> dest {step.dest!r} already exists") from e
    with out:
        build.fetcher.download(step.href, out, size=step.size, what="file", progress=build.progress)
        out.flush()
        os.utime(out.fileno(), ns=(0, 0))
        os.fsync(out.fileno())


def _rename_step(step: RenameStep, tree: Path) -> None:
    source = path_within(tree, step.source)
    dest = path_within(tree, step.dest)
    makedirs_within(tree, dest.parent)
    try:
        source.rename(dest)
    except FileNotFoundError as e:
        raise VerificationError(f"<rename> source {step.source!r} does not exist") from e
    except OSError as e:
        raise VerificationError(f"<rename> {step.source!r} to {step.dest!r} failed: {e.strerror}") from e


def _remove_step(step: RemoveStep, tree: Path) -> None:
    path = path_within(tree, step.path)
    if not os.path.lexists(path):
        raise VerificationError(f"<remove> path {step.path!r} does not exist")
    rmtree(path)


# -- helpers ----------------------------------------------------------------------------------------


def _required_digest(impl: Implementation) -> str:
    digest = impl.sha256new
    if digest is None:
        have = ", ".join(sorted(impl.digests)) or "none"
        raise VerificationError(
            f"implementation {impl.id} has no sha256new digest (it has: {have})",
            hint="0xl verifies implementations only by their sha256new digest; ask the publisher to add one",
        )
    manifest.store_name(digest)  # refuses a malformed digest before it is used in a path
    return digest


def _is_entry_name(name: str) -> bool:
    return name.startswith(manifest.PREFIX) and manifest.is_digest(name.removeprefix(manifest.PREFIX))


def _new_tree(work: Path) -> Path:
    tree = work / "tree"
    tree.mkdir(mode=0o755)
    return tree


def _create(path: Path, mode: int) -> io.BufferedWriter:
    """A new file, never through a symlink and never over an existing file, with exactly MODE."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    os.fchmod(fd, mode)  # whatever the umask
    return open(fd, "wb")  # noqa: PTH123 - wraps a descriptor


def _makedirs(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StateError(f"cannot create {path}: {e.strerror}") from e


def _make_read_only(tree: Path) -> None:
    """Modes as 0install's `fixup_permissions`: directories and files with any execute bit 0555, other
    files 0444. The top stays writable until `.manifest` is written and the tree is renamed."""
    for entry in tree_entries(tree):
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode) or (stat.S_ISREG(mode) and mode & 0o111):
            Path(entry.path).chmod(0o555)
        elif stat.S_ISREG(mode):
            Path(entry.path).chmod(0o444)
    tree.chmod(0o755)


def _fsync_dirs(tree: Path) -> None:
    """Flush every directory of TREE, so that after a crash a renamed entry has all its names."""
    fsync_dir(tree)
    for entry in tree_entries(tree):
        if entry.is_dir(follow_symlinks=False):
            fsync_dir(Path(entry.path))


def _remove_if_unlocked(path: Path) -> bool:
    """Delete workspace PATH if no live process holds its lock."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False  # gone already, or not ours to judge
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # in use
        rmtree(path)
        return True
    finally:
        os.close(fd)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > seconds
    except FileNotFoundError:
        return False
