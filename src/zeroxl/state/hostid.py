"""A random value made once per host (ZEROXL_HOME/host-id), from which the MACs of its services are derived
(zeroxl.host.macs), so that two hosts on one network give services of the same name different MACs.

It is made the first time a VM with a network is added, and never changed: MACs derived from it stay the
same across restarts, updates and re-adds of a service on this host. Two commands that make it at once
must not make two: each writes a whole file of its own and links it into place, which fails if the other
got there first (link(2) does not replace), and both then read the one that is there.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from pathlib import Path

from zeroxl.errors import StateError
from zeroxl.state import atomic

_FORM = re.compile(rb"([0-9a-f]{64})\n")


def host_id(path: Path) -> bytes:
    """The host's value stored at PATH (32 bytes), made now if there is none yet."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_hex(32).encode() + b"\n")
            f.flush()
            os.fchmod(f.fileno(), 0o644)
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another command made it first: its value is the one
            os.link(tmp, path)
            atomic.fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
    return _read(path)


def existing(path: Path) -> bytes:
    """The host's value if it has one, else a new one that is not stored: a stand-in until `host_id`."""
    try:
        return _read(path)
    except FileNotFoundError:
        return secrets.token_bytes(32)


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    m = _FORM.fullmatch(data)
    if m is None:
        raise StateError(
            f"{path} is damaged: it should hold 64 hexadecimal digits, from which 0xl derives MAC addresses",
            hint="restore it from a backup of this host; if there is none, remove it: services keep the MACs "
            "they have, and services added from now on get MACs derived from a new value",
        )
    return bytes.fromhex(m.group(1).decode())
