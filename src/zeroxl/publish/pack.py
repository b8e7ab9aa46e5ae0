"""Packing a directory into a reproducible tar.gz, and reading an archive as a host will unpack it.

The same directory packs to the same bytes, wherever and whenever it is packed: members in the order
of their names' bytes, every mtime the same (`SOURCE_DATE_EPOCH` if set, else 0), owner and group 0
without names, modes reduced to what a manifest records (0755 for directories and for files with any
execute bit, 0644 for other files), POSIX (pax) tar, and a gzip header without file name or time.
Since the manifest digest covers file mtimes, fixing them also makes the digest reproducible.

The digest of an archive is taken from the tree that `feeds.extract.unpack` makes of it, the code a host
runs before it checks the digest, so that a publisher cannot write a digest that hosts then refuse.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from zeroxl.errors import UsageError, ZeroxlError
from zeroxl.feeds.extract import archive_type, rmtree, unpack
from zeroxl.host.units import whole_number
from zeroxl.state import atomic

_GZIP_LEVEL = 9


def default_mtime() -> int:
    """The time stamp of every packed member: `SOURCE_DATE_EPOCH` (reproducible-builds.org), else 0."""
    text = os.environ.get("SOURCE_DATE_EPOCH", "0")
    seconds = whole_number(text)
    if seconds is None:
        raise UsageError(f"SOURCE_DATE_EPOCH={text!r} is not a number of seconds in ASCII digits")
    return seconds


def pack_dir(src: Path, out: Path, *, mtime: int) -> None:
    """Pack the contents of SRC (not SRC itself) into the tar.gz OUT, written atomically."""
    if not src.is_dir():
        raise UsageError(f"--dir {src}: not a directory")
    members = list(_members(src))
    if not any(kind != "dir" for _, _, kind in members):
        raise UsageError(f"--dir {src}: there are no files in it")
    # filename="" and mtime=0: gzip would otherwise record the temporary file's name and the time.
    with (
        atomic.writing(out, mode=0o644) as raw,  # served by a web server
        gzip.GzipFile(filename="", mode="wb", compresslevel=_GZIP_LEVEL, fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for rel, path, kind in members:
            _add(tar, rel, path, kind, mtime)


def _members(src: Path) -> Iterator[tuple[str, Path, str]]:
    """(name in the archive, path, kind) for everything under SRC, depth first, sorted by name bytes."""
    stack = [(src, "")]
    while stack:
        directory, prefix = stack.pop()
        entries = sorted(os.scandir(directory), key=lambda e: os.fsencode(e.name))
        subdirs = []
        for entry in entries:
            rel = prefix + entry.name
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                yield rel, Path(entry.path), "dir"
                subdirs.append((Path(entry.path), rel + "/"))
            elif stat.S_ISLNK(info.st_mode):
                yield rel, Path(entry.path), "symlink"
            elif stat.S_ISREG(info.st_mode):
                yield rel, Path(entry.path), "exec" if info.st_mode & 0o111 else "file"
            else:
                raise UsageError(f"--dir: {entry.path} is not a regular file, directory or symlink")
        stack.extend(reversed(subdirs))


def _add(tar: tarfile.TarFile, rel: str, path: Path, kind: str, mtime: int) -> None:
    info = tarfile.TarInfo(rel)
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if kind == "dir":
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    elif kind == "symlink":
        info.type, info.mode = tarfile.SYMTYPE, 0o777
        info.linkname = os.readlink(path)  # noqa: PTH115 - the target's text as it is
        tar.addfile(info)
    else:
        info.mode = 0o755 if kind == "exec" else 0o644
        with path.open("rb") as f:
            info.size = os.fstat(f.fileno()).st_size
            tar.addfile(info, f)


@contextlib.contextmanager
def unpacked(archive: Path, *, extract: str | None = None, mime_type: str | None = None) -> Iterator[Path]:
    """The tree a host makes of the local ARCHIVE, in a temporary directory that goes afterwards."""
    try:
        mime = archive_type(archive.name, mime_type)
    except ZeroxlError as e:
        raise UsageError(f"{archive}: {e.message}", hint="name it .tar.gz, .tar.bz2, .tar.xz, .tar or .zip") from None
    if not archive.is_file():
        raise UsageError(f"--archive {archive}: no such file")
    work = Path(tempfile.mkdtemp(prefix="0xl-unpack-"))
    try:
        tree = work / "tree"
        tree.mkdir()
        unpack(archive, tree, mime_type=mime, scratch=work / "scratch", extract=extract)
        yield tree
    finally:
        rmtree(work)
