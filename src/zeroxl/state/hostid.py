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


_MACS = "from which 0xl derives MAC addresses"
_MACS_HINT = (
    "restore it from a backup of this host; if there is none, remove it: services keep the MACs "
    "they have, and services added from now on get MACs derived from a new value"
)
_OWNER = "this machine's id as the owner of the libvirt domains it defines (docs/fleet.md)"
_OWNER_HINT = (
    "restore it from a backup; if there is none, remove it and take the domains over again: "
    "0xl host adopt NAME --host HOST"
)


def operator_id(path: Path) -> str:
    """The operator machine's id (32 hexadecimal digits) stored at PATH, made now if there is none yet:
    written as the owner of the domains this ZEROXL_HOME defines. Random, and not the MAC host-id: it
    says nothing an observer of the network could use, and two machines never share it by chance."""
    return host_id(path, purpose=(_OWNER, _OWNER_HINT)).hex()[:32]


def known_operator_id(path: Path) -> str | None:
    """The operator machine's id if it has one (None: it owns no domain yet); never makes one."""
    try:
        return _read(path, (_OWNER, _OWNER_HINT)).hex()[:32]
    except FileNotFoundError:
        return None


def host_id(path: Path, *, purpose: tuple[str, str] = (_MACS, _MACS_HINT)) -> bytes:
    """The host's value stored at PATH (32 bytes), made now if there is none yet."""
    try:
        return _read(path, purpose)
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
    return _read(path, purpose)


def existing(path: Path) -> bytes:
    """The host's value if it has one, else a new one that is not stored: a stand-in until `host_id`."""
    try:
        return _read(path)
    except FileNotFoundError:
        return secrets.token_bytes(32)


def _read(path: Path, purpose: tuple[str, str] = (_MACS, _MACS_HINT)) -> bytes:
    data = path.read_bytes()
    m = _FORM.fullmatch(data)
    if m is None:
        raise StateError(f"{path} is damaged: it should hold 64 hexadecimal digits, {purpose[0]}", hint=purpose[1])
    return bytes.fromhex(m.group(1).decode())
