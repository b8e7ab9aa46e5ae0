# Paths here are bytes, so that names stay the bytes the file system holds; pathlib has no bytes paths.
# ruff: noqa: PTH115, PTH118, PTH123, PTH208
"""0install's `sha256new` manifest of a directory tree, byte for byte as 0install 2.18 writes it.

The manifest (github 0install/docs `specifications/manifest.md`; 0install `src/zeroinstall/manifest.ml`,
`generate_manifest`) lists the tree depth-first. Within each directory come first its regular files and
symlinks, sorted by the bytes of their names, then each subdirectory, sorted the same way:

    D /sub/dir                          a directory, by its full path (no mtime in the "new" formats)
    F <sha256 hex> <mtime> <size> name  a regular file without any execute bit
    X <sha256 hex> <mtime> <size> name  a regular file with at least one execute bit
    S <sha256 hex of target> <len> name a symlink (no mtime: symlink times cannot be set portably)

Anything else (devices, fifos, sockets) makes the tree unacceptable. A regular file named `.manifest` at
the top is not listed: that is where the store keeps the manifest itself.

Names are handled as bytes throughout: 0install hashes whatever bytes the file system returns, so a name
that is not UTF-8 still has a well-defined manifest, and sorting bytes is what `LC_ALL=C sort` does.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from zeroxl.errors import StateError, VerificationError

ALGORITHM = "sha256new"
PREFIX = "sha256new_"
MANIFEST_NAME = ".manifest"
# 256 bits in base32 without padding: 52 characters from A-Z and 2-7.
DIGEST_LENGTH = 52
_B32_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def is_digest(value: str) -> bool:
    """Is VALUE a sha256new digest as 0install writes it (upper case, no padding)?

    Digests end up in directory names, so anything else must be refused before it is used in a path.
    """
    return len(value) == DIGEST_LENGTH and set(value) <= _B32_ALPHABET


def store_name(digest_value: str) -> str:
    """The store directory name for DIGEST_VALUE, `sha256new_<BASE32>`; refuses a malformed digest."""
    if not is_digest(digest_value):
        raise VerificationError(
            f"malformed sha256new digest {digest_value!r}",
            hint="a sha256new digest is 52 characters from A-Z and 2-7",
        )
    return PREFIX + digest_value


def digest_of_manifest(manifest: bytes) -> str:
    """The sha256new digest of a manifest: SHA-256, base32, upper case, padding removed.

    0install's `Support.Hash.b32_digest` packs bits most significant first and pads the last character
    with zero bits, which is RFC 4648 base32 minus the `=` padding.
    """
    return base64.b32encode(hashlib.sha256(manifest).digest()).decode("ascii").rstrip("=")


def manifest_bytes(root: Path) -> bytes:
    """The manifest of the tree at ROOT, as the bytes 0install writes to `.manifest`."""
    return b"".join(_lines(os.fsencode(root)))


def digest(root: Path) -> str:
    """The sha256new digest of the tree at ROOT (the part after `sha256new_`)."""
    return digest_of_manifest(manifest_bytes(root))


def manifest_mtime(mtime_ns: int) -> int:
    """The mtime 0install writes for a file whose modification time is MTIME_NS nanoseconds.

    0install reads `Unix.stat`'s float `st_mtime` and truncates it towards zero (`Int64.of_float`).
    OCaml builds that float as `sec + nsec / 1e9` and, where the sum rounds up to `sec + 1`, steps back
    to the float below it. So a file at 1700000000.999999999 is written as 1700000000 (Python's own
    `st_mtime` says 1700000001.0), and one at -5.5 s (before 1970) as -5, not -6.
    """
    sec, nsec = divmod(mtime_ns, 1_000_000_000)
    whole = float(sec)
    value = whole + nsec / 1e9
    if value == whole + 1.0:
        value = math.nextafter(value, whole)
    return int(value)


def _lines(root: bytes) -> Iterator[bytes]:
    """The manifest's lines. An explicit stack rather than recursion: a hostile tree may be deep."""
    stack: list[bytes] = [b""]  # paths relative to ROOT, b"" for the root itself
    while stack:
        rel = stack.pop()
        if rel:
            yield b"D /" + rel + b"\n"
        subdirs: list[bytes] = []
        for name, kind, line in _entries(root, rel):
            if kind == "dir":
                subdirs.append(rel + b"/" + name if rel else name)
            elif line is not None:
                yield line
        # Pushed in reverse so that they are popped, and so listed, in sorted order.
        stack.extend(reversed(subdirs))


def _entries(root: bytes, rel: bytes) -> Iterator[tuple[bytes, str, bytes | None]]:
    """(name, kind, manifest line or None) for each entry of ROOT/REL, sorted by name."""
    directory = os.path.join(root, rel) if rel else root
    try:
        names = sorted(os.listdir(directory))
    except OSError as e:
        raise StateError(f"cannot list {os.fsdecode(directory)}: {e.strerror}") from e
    for name in names:
        _check_name(rel, name)
        path = os.path.join(directory, name)
        try:
            info = os.lstat(path)
        except OSError as e:
            raise StateError(f"cannot read {os.fsdecode(path)}: {e.strerror}") from e
        if stat.S_ISDIR(info.st_mode):
            yield name, "dir", None
        elif stat.S_ISREG(info.st_mode):
            if not rel and name == MANIFEST_NAME.encode():
                continue  # the store's own record of the manifest, not part of the tree
            yield name, "file", _file_line(path, name)
        elif stat.S_ISLNK(info.st_mode):
            yield name, "symlink", _symlink_line(path, name)
        else:
            raise VerificationError(
                f"{os.fsdecode(path)} is not a regular file, directory or symlink",
                hint="0install refuses trees with device files, fifos or sockets",
            )


def _check_name(rel: bytes, name: bytes) -> None:
    # A newline would let a name forge further manifest lines, so two different trees could share one
    # digest. The spec rejects such trees; 0install 2.18 itself checks only directory names.
    if b"\n" in name:
        shown = os.fsdecode(rel + b"/" + name if rel else name)
        raise VerificationError(f"file name with a newline in it: {shown!r}", hint="0install forbids these")


def _file_line(path: bytes, name: bytes) -> bytes:
    """An F or X line. Size, mode and mtime come from the open file, so they describe what was hashed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise StateError(f"cannot read {os.fsdecode(path)}: {e.strerror}") from e
    with open(fd, "rb", buffering=0) as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise VerificationError(f"{os.fsdecode(path)} changed while it was being read")
        try:
            hex_digest = hashlib.file_digest(f, "sha256").hexdigest()  # reads in chunks, never whole
        except OSError as e:
            raise StateError(f"cannot read {os.fsdecode(path)}: {e.strerror}") from e
    kind = b"X" if info.st_mode & 0o111 else b"F"
    mtime = manifest_mtime(info.st_mtime_ns)
    return b"%s %s %d %d %s\n" % (kind, hex_digest.encode("ascii"), mtime, info.st_size, name)


def _symlink_line(path: bytes, name: bytes) -> bytes:
    try:
        target = os.readlink(path)
    except OSError as e:
        raise StateError(f"cannot read symlink {os.fsdecode(path)}: {e.strerror}") from e
    # The size is the target's length counted here (0install: "eCryptfs may report length as zero").
    return b"S %s %d %s\n" % (hashlib.sha256(target).hexdigest().encode("ascii"), len(target), name)
