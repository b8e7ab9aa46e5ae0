"""Atomic file writes: a reader sees the old content or the new one, never a mix or nothing.

Files are private (0600, in directories made 0700) unless the caller gives a mode that others may read:
the publisher's files, which a web server serves (zeroxl.state.private, docs/home.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from zeroxl.state.private import FILE_MODE, makedirs


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def writing(path: Path, *, mode: int = FILE_MODE) -> Iterator[BinaryIO]:
    """A file to write PATH's new content into; PATH changes only when the block ends without error.

    The content goes to a temporary file in the same directory, which is flushed, fsynced and renamed
    over PATH; then the directory is fsynced. On any error (Ctrl-C too) the temporary file is removed.
    """
    if mode & 0o077:
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        makedirs(str(path.parent))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
    fsync_dir(path.parent)


def write_bytes(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Write DATA to PATH atomically (see `writing`)."""
    with writing(path, mode=mode) as f:
        f.write(data)


def write_text(path: Path, text: str, *, mode: int = FILE_MODE) -> None:
    write_bytes(path, text.encode("utf-8"), mode=mode)


def write_json(path: Path, obj: Any, *, mode: int = FILE_MODE) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n", mode=mode)
