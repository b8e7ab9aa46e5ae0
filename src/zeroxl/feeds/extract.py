"""Safe unpacking of tar and zip archives into an implementation tree, as 0install 2.18 unpacks them.

0install runs GNU tar (`--no-same-owner --no-same-permissions`) or `unzip -q -o` into a scratch
directory, takes the `extract` subdirectory of it, and moves that into the tree at `dest`
(0install `src/zeroinstall/archive.ml`, `unpack_over`). 0xl unpacks with the standard library instead,
reproducing what enters the manifest: file contents, the execute bits, file mtimes and symlink targets.

It is stricter than those tools. Where GNU tar strips a leading `/` or unzip drops a `../`, or either
writes a symlink to `/etc`, 0xl refuses the whole archive and names the member: an implementation is
never built from a silently edited archive, and nothing in it points outside it.
"""

from __future__ import annotations

import calendar
import contextlib
import io
import lzma
import os
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar, cast

from zeroxl.errors import StateError, VerificationError
from zeroxl.feeds.decompress import Decompressed, Format, corrupt_or_truncated

TAR = "application/x-tar"
TAR_GZ = "application/x-compressed-tar"
TAR_BZ2 = "application/x-bzip-compressed-tar"
TAR_XZ = "application/x-xz-compressed-tar"
TAR_LZMA = "application/x-lzma-compressed-tar"
ZIP = "application/zip"

# The compression of each tar type, read as 0install's tar reads it (feeds.decompress): "xz" as `unxz`,
# which reads .lzma streams too, "lzma" as `unlzma`, which reads nothing else.
_TAR_COMPRESSION: dict[str, Format | None] = {
    TAR: None,
    TAR_GZ: "gz",
    TAR_BZ2: "bz2",
    TAR_XZ: "xz",
    TAR_LZMA: "lzma",
}
SUPPORTED_TYPES = frozenset({*_TAR_COMPRESSION, ZIP})

# 0install's `Archive.type_from_url`, extension (lower case) to MIME type. It knows more types than
# 0xl unpacks (deb, rpm, cab, dmg, gem, zstd); those are named here so that the refusal can say what
# the archive is rather than that its name is unknown.
_TYPES_BY_EXTENSION = {
    ".tar.bz2": TAR_BZ2,
    ".tar.gz": TAR_GZ,
    ".tar.lzma": TAR_LZMA,
    ".tar.xz": TAR_XZ,
    ".tar.zst": "application/x-zstd-compressed-tar",
    ".rpm": "application/x-rpm",
    ".deb": "application/x-deb",
    ".tbz": TAR_BZ2,
    ".tgz": TAR_GZ,
    ".tlz": TAR_LZMA,
    ".txz": TAR_XZ,
    ".tar": TAR,
    ".zip": ZIP,
    ".cab": "application/vnd.ms-cab-compressed",
    ".dmg": "application/x-apple-diskimage",
    ".gem": "application/x-ruby-gem",
}
# As 0install matches it: the leftmost `(.tar)?.EXT` that ends the URL, EXT without `.` or `/`.
_EXTENSION = re.compile(r"(\.tar)?\.[^./]+$")
# The `extract` names 0install passes to tar and unzip (`archive.ml`, `extract_tar`, `extract_zip`).
_EXTRACT_TAR = re.compile(r"[a-zA-Z0-9][-+ _a-zA-Z0-9.]*")
_EXTRACT_ZIP = re.compile(r"[a-zA-Z0-9][- _a-zA-Z0-9.]*")
_CHUNK = 1 << 20
_MAX_SYMLINK_TARGET = 4096
# Linux gives up after 40 symlinks in one lookup (MAXSYMLINKS), so a longer chain resolves nowhere.
_MAX_SYMLINK_HOPS = 40
_T = TypeVar("_T")


class _Source(Protocol):
    """What a member's data is read from: tarfile's and zipfile's member readers."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class ExtractLimits:
    """Bounds on what one archive may unpack to, against decompression bombs.

    A few hundred kilobytes of gzip can expand to gigabytes, and a sparse member of a plain tar claims
    gigabytes in a few hundred bytes; the declared archive size bounds only what is downloaded. The
    defaults are far above any unikernel image and well below a full disk. Hosts set the first two in
    config.toml (`[store] max_unpacked_size`, `max_unpack_ratio`).
    """

    max_bytes: int = 8 << 30  # total size of the regular files unpacked
    # ... and at most this many times the archive's own size (after start-offset), or MIN_BUDGET if that
    # is more. A mirror serves a file of the size the feed declares; the digest is checked only once all
    # of it is unpacked. Archives of programs unpack to 2 to 5 times their size.
    max_ratio: int = 100
    max_members: int = 200_000  # entries in the archive, whether unpacked or not
    # A member's path: components, and bytes. A few kilobytes of archive can describe a tree thousands
    # of levels deep, which tools that recurse (os.walk, shutil.rmtree on Python 3.11) cannot walk. A
    # unikernel's tree is a few levels deep; 2048 bytes leave room under Linux's PATH_MAX (4096) for
    # the store's own directories above the tree.
    max_depth: int = 128
    max_path_bytes: int = 2048
    # What tar reads before each member: its header, GNU long names and links, pax extended headers.
    # tarfile holds them whole in memory, whatever size they claim; a PATH_MAX-long name and a few
    # extended attributes take kilobytes. (Counted in tarfile's reads, records of 10 KiB.)
    max_header_bytes: int = 1 << 20

    def budget(self, archive_bytes: int) -> int:
        """What an archive of ARCHIVE_BYTES may unpack to, in bytes of regular files."""
        return min(self.max_bytes, max(self.max_ratio * archive_bytes, MIN_BUDGET))


# A small archive may always unpack to this much, whatever its ratio: a few hundred bytes of a config
# file or a script compress far better than a program does.
MIN_BUDGET = 1 << 20


def type_from_url(url: str) -> str:
    """The MIME type 0install guesses from an archive's URL, refusing a name it could not guess."""
    match = _EXTENSION.search(url)
    mime = _TYPES_BY_EXTENSION.get(match.group(0).lower()) if match else None
    if mime is None:
        raise VerificationError(
            f"cannot guess the archive type of {url}",
            hint="the feed should give the archive's type, e.g. type='application/x-compressed-tar'",
        )
    return mime


def archive_type(href: str, declared: str | None) -> str:
    """The type of an archive as the feed declares it, or as guessed from HREF; refuses types 0xl
    cannot unpack."""
    mime = declared or type_from_url(href)
    if mime not in SUPPORTED_TYPES:
        raise VerificationError(
            f"unsupported archive type {mime!r} for {href}",
            hint="0xl unpacks tar (plain, gzip, bzip2, xz, lzma) and zip archives",
        )
    return mime


def path_within(root: Path, rel: str) -> Path:
    """ROOT/REL for a `dest`, `<rename>` or `<remove>` path from a feed, refused if it could leave ROOT.

    As 0install's `native_path_within_base` (`fetch.ml`): REL is relative, uses `/`, has no `..` and
    no `\\`; `.` and empty components are ignored; existing components must be directories or regular
    files (never symlinks); and REL may not name ROOT itself.
    """
    if rel.startswith("/"):
        raise VerificationError(f"path {rel!r} in the feed is absolute")
    path = root
    for part in rel.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise VerificationError(f"path {rel!r} in the feed contains '..'")
        if "\\" in part:
            raise VerificationError(f"path {rel!r} in the feed contains '\\'")
        path = path / part
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue
        except OSError as e:
            raise StateError(f"cannot read {path}: {e.strerror}") from e
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            raise VerificationError(f"path {rel!r} in the feed goes through a symlink or special file")
    if path == root:
        raise VerificationError(f"path {rel!r} in the feed names the implementation's top directory")
    return path


def unpack(
    archive: Path,
    tree: Path,
    *,
    mime_type: str,
    scratch: Path,
    extract: str | None = None,
    dest: str | None = None,
    start_offset: int = 0,
    limits: ExtractLimits | None = None,
    durable: bool = False,
) -> None:
    """Unpack ARCHIVE (skipping its first START_OFFSET bytes) into TREE, at DEST inside it.

    With EXTRACT, only that top-level directory of the archive is taken, and its contents are what
    lands at DEST. SCRATCH is a directory that must not exist yet, on TREE's file system: the archive
    is unpacked there first, then moved into place without following any symlink. DURABLE fsyncs
    every file written, for callers that publish the tree by renaming it.
    """
    if mime_type not in SUPPORTED_TYPES:
        raise VerificationError(f"unsupported archive type {mime_type!r}")
    if extract is not None:
        _check_extract(extract, mime_type)
    target = tree if dest is None else path_within(tree, dest)
    makedirs_within(tree, target)
    try:
        scratch.mkdir(mode=0o755)
    except OSError as e:
        raise StateError(f"cannot create {scratch}: {e.strerror}") from e
    try:
        limits = limits or ExtractLimits()
        with _open_archive(archive, start_offset) as fileobj:
            writer = _Writer(scratch, extract, limits, limits.budget(_size(fileobj)), durable=durable)
            if mime_type == ZIP:
                _unpack_zip(fileobj, writer)
            else:
                _unpack_tar(fileobj, _TAR_COMPRESSION[mime_type], writer)
        source = scratch
        if extract is not None:
            source = scratch / extract
            if not source.is_dir() or source.is_symlink():
                raise VerificationError(f"top-level directory {extract!r} not found in archive {archive.name}")
        _merge(source, target)
    finally:
        rmtree(scratch)
    # Links were checked one by one as text; only the finished tree shows where they really lead.
    check_symlinks(tree)


def check_symlinks(root: Path) -> None:
    """Refuse a tree with a symlink that leads outside it, however it is resolved.

    Checked on the finished tree, because one symlink can change where another leads (`a -> x/..`
    is harmless until `x` is a symlink to `../..`), and `<rename>` steps move links around.
    """
    for entry in tree_entries(root):
        if entry.is_symlink():
            _check_symlink(root, Path(entry.path))


def tree_entries(root: Path) -> Iterator[os.DirEntry[str]]:
    """Every entry below ROOT, each directory's before what it holds; symlinks are not followed.

    An explicit stack, not os.walk, which recurses on Python 3.11: a tree may be deeper than the
    recursion limit. And unlike os.walk, a directory that cannot be listed is an error rather than
    skipped, so that a check never passes what it did not see.
    """
    stack = [os.fspath(root)]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as e:
            raise StateError(f"cannot list {directory}: {e.strerror}") from e
        for entry in entries:
            yield entry
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)


def rmtree(path: Path) -> None:
    """Delete PATH and everything under it, read-only directories included; never follows symlinks.

    Neither recursive nor by path, unlike shutil.rmtree on Python 3.11: it holds one directory open
    at a time and climbs back through `..`, so that a tree deeper than the recursion limit, the limit
    of open files or PATH_MAX can still be deleted, and a workspace left behind never blocks the next.
    """
    try:
        if not path.is_dir() or path.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        _empty_directory(path)
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise StateError(f"cannot delete {path}: {e.strerror}") from e


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _empty_directory(top: Path) -> None:
    fd = os.open(top, _DIR_FLAGS)
    try:
        # For each directory entered, the subdirectories it still holds; the last of each list is the
        # one entered next. Names only: a deep tree costs memory, not descriptors.
        pending = [_unlink_all_but_subdirectories(fd)]
        while pending:
            if pending[-1]:
                child = os.open(pending[-1][-1], _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
                pending.append(_unlink_all_but_subdirectories(fd))
                continue
            pending.pop()
            if pending:
                # Entered by name without following symlinks, so `..` is the directory we came from.
                parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = parent
                os.rmdir(pending[-1].pop(), dir_fd=fd)
    finally:
        os.close(fd)


def _unlink_all_but_subdirectories(fd: int) -> list[str]:
    """Unlink everything in the directory open as FD but its subdirectories; returns their names."""
    os.fchmod(fd, 0o700)  # entries of a read-only directory cannot be unlinked
    with os.scandir(fd) as it:
        entries = list(it)  # listed whole first: unlinking while reading may skip entries
    subdirectories = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            subdirectories.append(entry.name)
        else:
            os.unlink(entry.name, dir_fd=fd)
    return subdirectories


# -- checks -----------------------------------------------------------------------------------------


def _check_extract(extract: str, mime_type: str) -> None:
    # 0install refuses `/` and `\` (only a top-level directory can be taken), then limits the
    # characters it hands to tar or unzip; the same names are accepted here.
    if "/" in extract or "\\" in extract:
        raise VerificationError(f"extract attribute may not contain / or \\ (got {extract!r})")
    pattern = _EXTRACT_ZIP if mime_type == ZIP else _EXTRACT_TAR
    if not pattern.fullmatch(extract):
        raise VerificationError(f"illegal character in extract attribute {extract!r}")


def _member_parts(name: str) -> list[str]:
    """The components of an archive member's path; refuses absolute paths and `..`."""
    if name.startswith("/"):
        raise VerificationError(f"archive member {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise VerificationError(f"archive member {name!r} has '..' in its path")
    return parts


def _shorten(name: str) -> str:
    """NAME as an error message shows it: a hostile one may be kilobytes long."""
    return name if len(name) <= 80 else name[:77] + "..."


def _check_link_target(member: str, base_depth: int, target: str) -> None:
    """Refuse a symlink whose target is absolute or climbs above the implementation's top, read as
    text from the directory holding the link, BASE_DEPTH levels below the top."""
    if not target:
        raise VerificationError(f"archive member {member!r} is a symlink with an empty target")
    if target.startswith("/"):
        raise VerificationError(f"archive member {member!r} is a symlink to an absolute path ({target})")
    depth = base_depth
    for part in target.split("/"):
        if part in ("", "."):
            continue
        depth += -1 if part == ".." else 1
        if depth < 0:
            raise VerificationError(f"archive member {member!r} is a symlink pointing outside the tree ({target})")


def _check_hardlink_target(member: str, member_parts: list[str], target: str) -> list[str]:
    """The path of a hard link's target, another member, refused if absolute, with `..`, or the link
    itself (which replacing an earlier member of that name would leave without a target)."""
    if target.startswith("/"):
        raise VerificationError(f"archive member {member!r} is a hard link to an absolute path ({target})")
    parts = [p for p in target.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise VerificationError(f"archive member {member!r} is a hard link out of the tree ({target})")
    if parts == member_parts:
        raise VerificationError(f"archive member {member!r} is a hard link to itself")
    return parts


def _check_symlink(root: Path, link: Path) -> None:
    """Resolve LINK the way the kernel would, one component at a time, and refuse it if any step
    leaves ROOT or meets an absolute target. Missing components are resolved textually."""
    current = list(link.relative_to(root).parts[:-1])
    first = os.readlink(link)  # noqa: PTH115 - the text of the target, unnormalised
    if first.startswith("/"):
        raise VerificationError(f"symlink {link.relative_to(root)} points to an absolute path ({first})")
    pending = list(reversed(first.split("/")))
    hops, exists = 1, True
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not current:
                raise VerificationError(f"symlink {link.relative_to(root)} leads outside the implementation")
            current.pop()
            continue
        candidate = root.joinpath(*current, part)
        if exists and candidate.is_symlink():
            hops += 1
            if hops > _MAX_SYMLINK_HOPS:
                return  # the kernel gives up here too (ELOOP): the link resolves to nothing
            target = os.readlink(candidate)  # noqa: PTH115 - as above
            if target.startswith("/"):
                raise VerificationError(
                    f"symlink {link.relative_to(root)} leads through {candidate.relative_to(root)} to an absolute path"
                )
            pending.extend(reversed(target.split("/")))
            continue
        exists = exists and candidate.exists()
        current.append(part)


# -- writing members --------------------------------------------------------------------------------


class _Writer:
    """Creates members under ROOT (the scratch directory), never through a symlink, within limits.

    Files are created 0644 or 0755 whatever the archive says: GNU tar with `--no-same-permissions`
    and unzip without `-K` drop setuid, setgid and sticky bits, so 0install's store never sees them
    (its `fixup_permissions` refuses any that appear anyway). Stripping keeps 0xl's trees, and so the
    digests, the same as 0install's. Only "any execute bit" survives, as that enters the manifest.
    (GNU tar would also apply the umask; any usual umask, 022 or 077, keeps some execute bit of an
    executable, so the manifest is the same, and 0xl's does not depend on who runs it.)
    """

    def __init__(self, root: Path, extract: str | None, limits: ExtractLimits, budget: int, *, durable: bool) -> None:
        self.root = str(root)
        self.extract = extract
        self.limits = limits
        self.budget = budget  # bytes of regular files (limits.budget)
        self.durable = durable
        self.members = 0
        self.bytes = 0
        self._dirs: set[tuple[str, ...]] = {()}  # directories known to be real, made by us

    # -- accounting

    def admit(self, name: str, size: int) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise VerificationError(
                f"archive has more than {self.limits.max_members} members",
                hint="the limit guards against decompression bombs",
            )
        self._account(f"archive member {_shorten(name)!r}", size)

    def discard(self, size: int) -> None:
        """Count SIZE bytes that were decompressed but are not unpacked (after the tar's end)."""
        self._account("the data after the tar's end", size)
        self.bytes += size

    def _account(self, what: str, size: int) -> None:
        """Refuse SIZE more bytes of WHAT past the budget, before any of them is written."""
        if self.bytes + size <= self.budget:
            return
        if self.budget < self.limits.max_bytes:
            limit = f"{self.budget} bytes, {self.limits.max_ratio} times the archive's size"
            key = "max_unpack_ratio"
        else:
            limit, key = f"{self.budget} bytes", "max_unpacked_size"
        raise VerificationError(
            f"{what} takes the unpacked size over the limit of {limit}",
            hint=f"the limit guards against decompression bombs; a host that trusts such an archive can raise "
            f"[store] {key} in config.toml",
            reason="unpack-limit",
        )

    def check_path(self, name: str, parts: list[str]) -> None:
        """Refuse a member deeper, or with a longer path, than the limits allow."""
        if len(parts) > self.limits.max_depth:
            raise VerificationError(
                f"archive member {_shorten(name)!r} has {len(parts)} path components, "
                f"over the limit of {self.limits.max_depth}",
                hint="the limit guards against trees too deep to walk or delete",
            )
        length = len(os.fsencode("/".join(parts)))
        if length > self.limits.max_path_bytes:
            raise VerificationError(
                f"archive member {_shorten(name)!r} has a path of {length} bytes, "
                f"over the limit of {self.limits.max_path_bytes}",
                hint="the limit guards against paths too long to open or delete",
            )

    def selected(self, parts: list[str]) -> bool:
        return self.extract is None or (bool(parts) and parts[0] == self.extract)

    def depth_in_tree(self, parts: list[str]) -> int:
        """How deep the directory holding PARTS is below the implementation's top."""
        return len(parts) - 1 - (1 if self.extract is not None else 0)

    # -- creation

    def directory(self, name: str, parts: list[str]) -> None:
        self._parent(name, parts)
        path = self._path(parts)
        mode = self._lstat_mode(path)
        if mode is None:
            self._do(name, os.mkdir, path, 0o755)
        elif not stat.S_ISDIR(mode):
            raise VerificationError(f"archive member {name!r} would replace a file with a directory")
        self._dirs.add(tuple(parts))

    def file(self, name: str, parts: list[str], data: _Source, *, executable: bool, mtime_ns: int) -> None:
        path = self._replaceable(name, parts)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        mode = 0o755 if executable else 0o644
        fd = self._do(name, os.open, path, flags, mode)
        try:
            self._copy(name, data, fd)
            os.fchmod(fd, mode)  # exactly this mode, whatever the umask
            os.utime(fd, ns=(mtime_ns, mtime_ns))
            if self.durable:
                os.fsync(fd)
        except OSError as e:
            raise StateError(f"cannot write {path}: {e.strerror}") from e
        finally:
            os.close(fd)

    def symlink(self, name: str, parts: list[str], target: str) -> None:
        path = self._replaceable(name, parts)
        self._do(name, os.symlink, target, path)

    def hardlink(self, name: str, parts: list[str], target_name: str) -> None:
        target_parts = _check_hardlink_target(name, parts, target_name)
        if not self.selected(target_parts):
            raise VerificationError(
                f"archive member {name!r} is a hard link to {target_name!r}, outside {self.extract!r}"
            )
        target = self._path(target_parts)
        mode = self._lstat_mode(target) if tuple(target_parts[:-1]) in self._dirs else None
        if mode is None or not stat.S_ISREG(mode):
            raise VerificationError(
                f"archive member {name!r} is a hard link to {target_name!r}, which is not a regular file "
                "earlier in the archive"
            )
        path = self._replaceable(name, parts)
        self._do(name, os.link, target, path, follow_symlinks=False)

    # -- helpers

    def _path(self, parts: list[str]) -> str:
        return os.path.join(self.root, *parts)  # noqa: PTH118 - str paths: one join per member, no objects

    def _parent(self, name: str, parts: list[str]) -> None:
        """Make sure each directory above PARTS exists and is a real directory, not a symlink."""
        for i in range(1, len(parts)):
            prefix = tuple(parts[:i])
            if prefix in self._dirs:
                continue
            path = self._path(parts[:i])
            mode = self._lstat_mode(path)
            if mode is None:
                self._do(name, os.mkdir, path, 0o755)
            elif stat.S_ISLNK(mode):
                raise VerificationError(f"archive member {name!r} would be written through a symlink")
            elif not stat.S_ISDIR(mode):
                raise VerificationError(f"archive member {name!r} is below something that is not a directory")
            self._dirs.add(prefix)

    def _replaceable(self, name: str, parts: list[str]) -> str:
        """The path for a new non-directory member; an earlier file or link of that name goes, as
        with tar and `unzip -o`, but a directory is never replaced."""
        if not parts:
            raise VerificationError(f"archive member {name!r} names the top directory but is not a directory")
        self._parent(name, parts)
        path = self._path(parts)
        mode = self._lstat_mode(path)
        if mode is not None:
            if stat.S_ISDIR(mode):
                raise VerificationError(f"archive member {name!r} would replace a directory")
            self._do(name, os.unlink, path)
        return path

    @staticmethod
    def _lstat_mode(path: str) -> int | None:
        try:
            return os.lstat(path).st_mode
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StateError(f"cannot read {path}: {e.strerror}") from e

    @staticmethod
    def _do(name: str, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        try:
            return fn(*args, **kwargs)
        except OSError as e:
            raise StateError(f"cannot unpack archive member {name!r}: {e.strerror}") from e

    def _copy(self, name: str, data: _Source, fd: int) -> None:
        while True:
            try:
                chunk = data.read(_CHUNK)
            except _READ_ERRORS as e:
                raise _corrupt(e) from e
            if not chunk:
                return
            self._account(f"archive member {_shorten(name)!r}", len(chunk))
            self.bytes += len(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]


# -- tar ----------------------------------------------------------------------------------------------

# What reading a damaged archive raises: bz2 and gzip report bad data as OSError, truncation as EOFError.
_READ_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    OSError,
    ValueError,
)


def _corrupt(e: BaseException) -> VerificationError:
    return corrupt_or_truncated(str(e))


def _unpack_tar(fileobj: BinaryIO, compression: Format | None, writer: _Writer) -> None:
    # Decompressed here rather than by tarfile, so that what tarfile reads can be counted.
    source: _Source = fileobj if compression is None else Decompressed(fileobj, compression)
    stream = _HeaderBudget(source, writer.limits.max_header_bytes)
    try:
        with stream.headers():  # opening reads the first member
            archive = tarfile.open(fileobj=cast(BinaryIO, stream), mode="r|")  # noqa: SIM115 - closed below
    except _READ_ERRORS as e:
        raise _corrupt(e) from e
    with archive:
        for member in _tar_members(archive, stream):
            _unpack_tar_member(archive, member, writer)
    if compression is not None:
        _read_to_the_end(source, writer)


def _read_to_the_end(source: _Source, writer: _Writer) -> None:
    """Read what follows the tar's end marker to the end of the compressed file, where the last
    checksums are (the gzip trailer) and what follows the last stream is taken or refused as its
    decompressor would (feeds.decompress: 0install's tar may stop earlier; 0xl never does). Counted
    in the unpacked size, though not kept."""
    while True:
        try:
            data = source.read(_CHUNK)
        except _READ_ERRORS as e:
            raise _corrupt(e) from e
        if not data:
            return
        writer.discard(len(data))


def _tar_members(archive: tarfile.TarFile, stream: _HeaderBudget) -> Iterator[tarfile.TarInfo]:
    while True:
        try:
            with stream.headers():
                member = archive.next()
        except _READ_ERRORS as e:
            raise _corrupt(e) from e
        # tarfile keeps every member it returns, long names and pax records included, and nothing here
        # looks back at them. (`members` is missing from typeshed's TarFile, not from tarfile.)
        archive.members.clear()  # type: ignore[attr-defined]
        if member is None:
            return
        yield member


class _HeaderBudget:
    """The decompressed tar stream, read by tarfile, refusing a member whose headers are too long.

    tarfile reads a GNU long name or link, or a pax extended header, whole into memory before it
    returns the member, whatever size the header claims: a few hundred bytes of gzip can claim
    gigabytes, long before any digest is checked. Within `headers()`, while tarfile looks for the next
    member, it may read at most LIMIT bytes. Each member's data is read to its end before that
    (`_unpack_tar_member`), so what is read there is headers, and the padding after the data.
    """

    def __init__(self, source: _Source, limit: int) -> None:
        self.source = source
        self.limit = limit
        self.left: int | None = None

    @contextlib.contextmanager
    def headers(self) -> Iterator[None]:
        self.left = self.limit
        try:
            yield
        except RecursionError as e:
            # tarfile recurses once per extended header before a member: a chain of them, even within
            # the limit, goes deeper than Python allows.
            raise VerificationError("the archive has too many extended headers before one member") from e
        finally:
            self.left = None

    def read(self, size: int = -1, /) -> bytes:
        if self.left is not None and not 0 <= size <= self.left:
            size = self.left + 1  # enough to tell that the limit is passed
        data = self.source.read(size)
        if self.left is not None:
            self.left -= len(data)
            if self.left < 0:
                raise VerificationError(
                    f"an archive member's headers (long name, long link or pax extended header) take more "
                    f"than {self.limit} bytes",
                    hint="the limit guards against decompression bombs",
                )
        return data


def _unpack_tar_member(archive: tarfile.TarFile, member: tarfile.TarInfo, writer: _Writer) -> None:
    name = member.name
    writer.admit(name, member.size if member.isreg() else 0)
    parts = _member_parts(name)
    writer.check_path(name, parts)
    if member.ischr() or member.isblk() or member.isfifo():
        raise VerificationError(f"archive member {name!r} is a device file or fifo")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise VerificationError(f"archive member {name!r} has an unsupported type ({member.type!r})")
    if not parts:
        if not member.isdir():
            raise VerificationError(f"archive member {name!r} names the top directory but is not a directory")
        return  # the archive's own top directory: it exists already
    if member.issym():
        _check_link_target(name, len(parts) - 1, member.linkname)
    elif member.islnk():
        _check_hardlink_target(name, parts, member.linkname)
    if not writer.selected(parts):
        # Outside `extract`; checked above all the same, as the whole archive must be sound. Its data
        # is read through, so that what tarfile reads next is headers only (`_HeaderBudget`).
        if member.isreg():
            _skip_data(archive, member)
        return
    if member.issym():
        _check_link_target(name, writer.depth_in_tree(parts), member.linkname)
        writer.symlink(name, parts, member.linkname)
    elif member.islnk():
        writer.hardlink(name, parts, member.linkname)
    elif member.isdir():
        writer.directory(name, parts)
    else:
        data = archive.extractfile(member)
        assert data is not None  # noqa: S101 - a regular member always has data
        writer.file(name, parts, data, executable=bool(member.mode & 0o111), mtime_ns=_tar_mtime_ns(member))


def _skip_data(archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    data = archive.extractfile(member)
    assert data is not None  # noqa: S101 - a regular member always has data
    try:
        while data.read(_CHUNK):
            pass
    except _READ_ERRORS as e:
        raise _corrupt(e) from e


_PAX_TIME = re.compile(r"(-?)([0-9]+)(?:\.([0-9]*))?")  # ASCII digits: `\d` takes any script's


def _tar_mtime_ns(member: tarfile.TarInfo) -> int:
    """The member's mtime in nanoseconds. A pax `mtime` may carry a fraction, which tarfile rounds
    through a float; GNU tar keeps it to the nanosecond, and it can decide the manifest's mtime."""
    text = member.pax_headers.get("mtime")
    match = _PAX_TIME.fullmatch(text) if text else None
    if match is None:
        return int(member.mtime) * 1_000_000_000
    sign, whole, fraction = match.groups()
    ns = int(whole) * 1_000_000_000 + int((fraction or "").ljust(9, "0")[:9])
    return -ns if sign else ns


# -- zip ----------------------------------------------------------------------------------------------

_ZIP_UNIX = 3  # "made by" Unix: the top 16 bits of the external attributes are a st_mode
_UT, _UX = 0x5455, 0x5855  # Info-ZIP's extended timestamp and old Unix extra fields
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_UTF8_FLAG = 0x800
_DATA_DESCRIPTOR_FLAG = 0x8


def _unpack_zip(fileobj: BinaryIO, writer: _Writer) -> None:
    try:
        archive = zipfile.ZipFile(fileobj)
        infos = archive.infolist()
    except _READ_ERRORS as e:
        raise _corrupt(e) from e
    with archive:
        for info in infos:
            _unpack_zip_member(archive, fileobj, info, writer)


def _unpack_zip_member(archive: zipfile.ZipFile, fileobj: BinaryIO, info: zipfile.ZipInfo, writer: _Writer) -> None:
    name = _zip_name(info)
    mode = info.external_attr >> 16 if info.create_system == _ZIP_UNIX else 0
    is_link = stat.S_ISLNK(mode)
    writer.admit(name, info.file_size if not (is_link or info.is_dir()) else 0)
    if "\\" in name:
        raise VerificationError(f"archive member {name!r} has a backslash in its path")
    parts = _member_parts(name)
    writer.check_path(name, parts)
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
        raise VerificationError(f"archive member {name!r} is a device file, fifo or socket")
    if info.flag_bits & 0x1:
        raise VerificationError(f"archive member {name!r} is encrypted")
    is_dir = info.is_dir() or stat.S_ISDIR(mode)
    if is_link and info.file_size > _MAX_SYMLINK_TARGET:
        raise VerificationError(f"archive member {name!r} is a symlink with an overlong target")
    if not parts:
        if not is_dir:
            raise VerificationError(f"archive member {name!r} names the top directory but is not a directory")
        return
    target = os.fsdecode(_zip_read(archive, fileobj, info)) if is_link else None
    if target is not None:
        _check_link_target(name, len(parts) - 1, target)
    if not writer.selected(parts):
        return
    if target is not None:
        _check_link_target(name, writer.depth_in_tree(parts), target)
        writer.symlink(name, parts, target)
    elif is_dir:
        writer.directory(name, parts)
    else:
        mtime_ns = _zip_mtime(fileobj, info) * 1_000_000_000
        _check_crc_of_local_header(fileobj, info)
        try:
            data = archive.open(info)
        except (*_READ_ERRORS, NotImplementedError, RuntimeError) as e:
            raise _corrupt(e) from e
        with data:
            writer.file(name, parts, data, executable=bool(mode & 0o111), mtime_ns=mtime_ns)


def _zip_name(info: zipfile.ZipInfo) -> str:
    """The member's name as unzip writes it on Linux: the archive's bytes, unchanged.

    zipfile decodes names without the UTF-8 flag as CP437; re-encoding gives back the stored bytes.
    A non-ASCII name from a non-Unix system would be converted by unzip in ways that depend on its
    build and the locale, so such names are refused rather than guessed.
    """
    if info.flag_bits & _UTF8_FLAG or info.filename.isascii():
        return info.filename
    if info.create_system != _ZIP_UNIX:
        raise VerificationError(f"archive member {info.filename!r} has a non-ASCII name in an unknown encoding")
    return os.fsdecode(info.filename.encode("cp437"))


def _zip_read(archive: zipfile.ZipFile, fileobj: BinaryIO, info: zipfile.ZipInfo) -> bytes:
    _check_crc_of_local_header(fileobj, info)
    try:
        return archive.read(info)
    except (*_READ_ERRORS, NotImplementedError, RuntimeError) as e:
        raise _corrupt(e) from e


def _zip_mtime(fileobj: BinaryIO, info: zipfile.ZipInfo) -> int:
    """The mtime unzip gives the file: Info-ZIP's UT field, else its UX field, else the DOS time read
    as UTC (0install runs unzip with TZ=GMT). unzip reads them from the local header, so that is where
    they are read here too."""
    dos_date, dos_time, extra, _, _ = _local_header(fileobj, info)
    for field, data in _extra_fields(extra):
        if field == _UT and len(data) >= 5 and data[0] & 1:
            return int.from_bytes(data[1:5], "little", signed=True)
    for field, data in _extra_fields(extra):
        if field == _UX and len(data) >= 8:
            return int.from_bytes(data[4:8], "little", signed=True)
    try:
        return calendar.timegm(
            (
                (dos_date >> 9) + 1980,
                (dos_date >> 5) & 0xF,
                dos_date & 0x1F,
                dos_time >> 11,
                (dos_time >> 5) & 0x3F,
                (dos_time & 0x1F) * 2,
            )
        )
    except ValueError as e:
        raise VerificationError(f"archive member {info.filename!r} has an invalid timestamp") from e


def _check_crc_of_local_header(fileobj: BinaryIO, info: zipfile.ZipInfo) -> None:
    """Check the member's data, when it is read, against the CRC-32 unzip checks it against: its local
    header's, unless that defers to a data descriptor (flag bit 3), then the central directory's
    (unzip 6.0, extract.c). zipfile checks the central directory's alone."""
    _, _, _, crc, flags = _local_header(fileobj, info)
    if not flags & _DATA_DESCRIPTOR_FLAG:
        info.CRC = crc


def _local_header(fileobj: BinaryIO, info: zipfile.ZipInfo) -> tuple[int, int, bytes, int, int]:
    """(DOS date, DOS time, extra field, CRC-32, flags) from the member's local header."""
    try:
        fileobj.seek(info.header_offset)
        header = fileobj.read(_LOCAL_HEADER.size)
        fields = _LOCAL_HEADER.unpack(header)
        if fields[0] != b"PK\x03\x04":
            raise VerificationError(f"archive member {info.filename!r} has a bad local header")
        fileobj.seek(fields[10], io.SEEK_CUR)  # skip the name
        extra = fileobj.read(fields[11])
    except (OSError, struct.error) as e:
        raise _corrupt(e) from e
    return fields[6], fields[5], extra, fields[7], fields[3]


def _extra_fields(extra: bytes) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(extra):
        field, size = struct.unpack_from("<HH", extra, pos)
        yield field, extra[pos + 4 : pos + 4 + size]
        pos += 4 + size


# -- the archive file -------------------------------------------------------------------------------


def _size(fileobj: BinaryIO) -> int:
    """The size of the archive open as FILEOBJ (at its start)."""
    size = fileobj.seek(0, io.SEEK_END)
    fileobj.seek(0)
    return size


@contextlib.contextmanager
def _open_archive(path: Path, start_offset: int) -> Iterator[BinaryIO]:
    try:
        raw = path.open("rb")
    except OSError as e:
        raise StateError(f"cannot read {path}: {e.strerror}") from e
    with raw:
        if start_offset:
            yield io.BufferedReader(_Window(raw, start_offset), buffer_size=_CHUNK)
        else:
            yield raw


class _Window(io.RawIOBase):
    """The part of a file after its first OFFSET bytes, seen as a whole file: what 0install keeps of
    an archive with `start-offset` (a self-extracting script followed by the archive)."""

    def __init__(self, raw: BinaryIO, offset: int) -> None:
        super().__init__()
        self.raw = raw
        self.offset = offset
        self.raw.seek(offset)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos += self.offset
        return self.raw.seek(pos, whence) - self.offset

    def tell(self) -> int:
        return self.raw.tell() - self.offset


# -- moving into place ------------------------------------------------------------------------------


def makedirs_within(tree: Path, target: Path) -> None:
    """Create TARGET (already checked by `path_within`) inside TREE; refuse if a file is in the way."""
    try:
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise VerificationError(f"{target.relative_to(tree)} in the implementation is not a directory") from e
    except OSError as e:
        raise StateError(f"cannot create {target}: {e.strerror}") from e


def _merge(source: Path, target: Path) -> None:
    """Move everything in SOURCE into TARGET, as 0install's `move_no_follow`: directories merge,
    files and symlinks replace what they meet, a directory is never replaced and no symlink in TARGET
    is followed. A directory that TARGET lacks moves over whole."""
    stack = [(source, target)]
    while stack:
        src_dir, dst_dir = stack.pop()
        for entry in os.scandir(src_dir):
            src = Path(entry.path)
            dst = dst_dir / entry.name
            try:
                dst_mode: int | None = dst.lstat().st_mode
            except FileNotFoundError:
                dst_mode = None
            if entry.is_dir(follow_symlinks=False):
                if dst_mode is not None and not stat.S_ISDIR(dst_mode):
                    raise VerificationError(f"archive would unpack directory {entry.name!r} over a non-directory")
                if dst_mode is not None:
                    stack.append((src, dst))
                    continue
            elif dst_mode is not None and stat.S_ISDIR(dst_mode):
                raise VerificationError(f"archive would replace directory {entry.name!r} with a file")
            try:
                if dst_mode is not None and not entry.is_dir(follow_symlinks=False):
                    dst.unlink()
                src.rename(dst)
            except OSError as e:
                raise StateError(f"cannot move {src} to {dst}: {e.strerror}") from e


__all__ = [
    "SUPPORTED_TYPES",
    "TAR",
    "TAR_BZ2",
    "TAR_GZ",
    "TAR_LZMA",
    "TAR_XZ",
    "ZIP",
    "ExtractLimits",
    "archive_type",
    "check_symlinks",
    "path_within",
    "rmtree",
    "tree_entries",
    "type_from_url",
    "unpack",
]
