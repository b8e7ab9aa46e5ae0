"""Copying a disk volume from one libvirt host to another (`0xl move --with-data`, docs/fleet.md): a volume
download stream from the first host feeds a volume upload stream to the second, through this machine,
chunk by chunk (nothing is kept here). What arrived is then checked as a boot volume is (bootfiles.py):
the new volume's contents are read back through a download, and their length and SHA-256 must be those
of what the first host sent."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from zeroxl.backends.libvirt import bootfiles, connection
from zeroxl.backends.libvirt.volumes import Volumes
from zeroxl.errors import BackendError
from zeroxl.state.service import Disk

_CHUNK = 1 << 20


def _send(stream: Any, data: bytes) -> None:
    view = memoryview(data)
    while view:
        sent = int(stream.send(bytes(view)))
        view = view[sent:]


def _stream(src_conn: Any, src: Any, dst_conn: Any, dst: Any, size: int) -> tuple[str, int]:
    """Sends SRC's contents into DST; the SHA-256 and length of what SRC's host sent."""
    h = hashlib.sha256()
    length = 0
    down = src_conn.newStream(0)
    up = dst_conn.newStream(0)
    try:
        src.download(down, 0, size, 0)
        dst.upload(up, 0, size, 0)
        while data := down.recv(_CHUNK):
            if isinstance(data, int):  # -2: only a non-blocking stream says "not yet"
                raise BackendError(f"the download stream answered {data}")  # noqa: TRY301 - aborts the streams
            h.update(data)
            length += len(data)
            _send(up, data)
        down.finish()
        up.finish()
    except BaseException:
        for stream in (down, up):
            with contextlib.suppress(Exception):
                stream.abort()
        raise
    return h.hexdigest(), length


def copy(src: Volumes, disk: Disk, dst: Volumes, target: Disk) -> str:
    """Copies the volume of DISK (0xl's, in SRC's pool) into TARGET's (0xl's, as large, in DST's pool), and
    checks it; returns the SHA-256 of the contents. BackendError if a host fails or what DST's host reads
    back is not what SRC's sent (TARGET then holds whatever arrived: the caller deletes it)."""
    with connection.connect(src.settings.uri) as src_conn, connection.connect(dst.settings.uri) as dst_conn:
        src_vol = src.volume(src_conn, disk)
        dst_vol = dst.volume(dst_conn, target)
        size = int(connection.call(f"cannot read the volume {disk.location}", src_vol.info)[1])
        if size != target.size:
            raise BackendError(f"the volume {disk.location} holds {size} bytes, not the {target.size} of its copy")
        digest, sent = connection.call(
            f"cannot copy the disk {disk.name} ({disk.location} to {target.location})",
            _stream,
            src_conn,
            src_vol,
            dst_conn,
            dst_vol,
            size,
        )
        got, length = connection.call(
            f"cannot read back the copy of the disk {disk.name} ({target.location})",
            bootfiles.read_back,
            dst_conn,
            dst_vol,
        )
    wrong = (
        f"{sent} bytes were read from {disk.location}, not {size}"
        if sent != size
        else f"{length} bytes were read back, not {size}"
        if length != size
        else f"its contents read back have the SHA-256 {got}, not {digest}"
        if got != digest
        else None
    )
    if wrong is not None:
        raise BackendError(
            f"the copy of the disk {disk.name} did not arrive intact at {target.location}: {wrong}",
            hint="a host's storage or the connection corrupted it; try again, or check the hosts' pools",
        )
    return digest
