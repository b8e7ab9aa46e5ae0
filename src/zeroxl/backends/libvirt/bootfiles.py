"""A service's kernel and initrd as storage volumes on the libvirt host: what its domain boots from.

QEMU cannot boot them from 0xl's store: the store is under ZEROXL_HOME (mode 0700), which QEMU running as
an unprivileged user (Debian's `libvirt-qemu`, the default of qemu:///system) cannot read, and which a
remote host cannot see at all. So each file is uploaded through libvirt's volume upload (a stream over the
connection, local or remote) into the pool of 0xl's disks, as the volume `0xl-boot.SHA256` named by the
SHA-256 of its contents: services booting the same file share it, and it is uploaded once.

What arrived is checked before a domain uses it, every time: the volume's size, and the SHA-256 of its
contents read back through a volume download. A volume that fails the check is deleted: one 0xl just
uploaded makes the command fail (nothing is left of it); one found there already (a killed upload, or
changed on the host) is uploaded again.

A boot volume is removed when no domain 0xl defined on that host boots from it any more (the domains'
XML is the truth, whichever operator machine defined them): after a start, which may have moved a domain
to another version, and at destroy.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from zeroxl.backends.libvirt import connection
from zeroxl.backends.libvirt.domainxml import read_metadata
from zeroxl.errors import BackendError

PREFIX = "0xl-boot."
_NAME = re.compile(r"^0xl-boot\.[0-9a-f]{64}$")
_CHUNK = 1 << 20


def volume_name(digest: str) -> str:
    return PREFIX + digest


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of the file at PATH."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def read_back(conn: Any, volume: Any) -> tuple[str, int]:
    """SHA-256 (hex) and length of VOLUME's contents, read through a volume download stream."""
    h = hashlib.sha256()
    size = 0

    def sink(_stream: Any, data: bytes, _opaque: object) -> int:
        nonlocal size
        h.update(data)
        size += len(data)
        return len(data)

    stream = conn.newStream(0)
    volume.download(stream, 0, 0, 0)
    stream.recvAll(sink, None)
    stream.finish()
    return h.hexdigest(), size


def read_all(conn: Any, volume: Any, offset: int = 0, length: int = 0) -> bytes:
    """VOLUME's contents from OFFSET, LENGTH bytes of them (0: to its end), through a volume download
    stream."""
    pieces: list[bytes] = []

    def sink(_stream: Any, data: bytes, _opaque: object) -> int:
        pieces.append(data)
        return len(data)

    stream = conn.newStream(0)
    volume.download(stream, offset, length, 0)
    stream.recvAll(sink, None)
    stream.finish()
    return b"".join(pieces)


def _upload(conn: Any, volume: Any, path: Path, size: int) -> None:
    stream = conn.newStream(0)
    volume.upload(stream, 0, size, 0)
    with path.open("rb") as f:
        stream.sendAll(lambda _stream, nbytes, _opaque: f.read(min(nbytes, _CHUNK)), None)
    stream.finish()


def _path_of(volume: Any) -> str:
    return str(connection.call("cannot read the path of a boot volume", volume.path))


def _check(conn: Any, volume: Any, digest: str, size: int) -> str | None:
    """Why VOLUME does not hold the file of DIGEST and SIZE; None if it does."""
    capacity = int(connection.call("cannot read a boot volume", volume.info)[1])
    if capacity != size:
        return f"it holds {capacity} bytes, not {size}"
    got, length = connection.call("cannot read a boot volume back", read_back, conn, volume)
    if length != size:
        return f"{length} bytes were read back, not {size}"
    if got != digest:
        return f"its contents read back have the SHA-256 {got}, not {digest}"
    return None


def _delete(volume: Any) -> None:
    with contextlib.suppress(Exception):
        volume.delete(0)


def ensure(conn: Any, pool: Any, path: Path, what: str) -> str:
    """The path, on the libvirt host, of a volume of POOL holding exactly the file at PATH; uploaded if
    needed and checked (size, SHA-256 read back). BackendError if what arrived is not the file."""
    digest, size = file_digest(path)
    name = volume_name(digest)
    pool_name = str(pool.name())
    volume = connection.lookup(pool.storageVolLookupByName, name)
    if volume is not None:
        if _check(conn, volume, digest, size) is None:
            return _path_of(volume)
        # Not the file its name says (a killed upload, or changed on the host): upload it again.
        connection.call(f"cannot delete the boot volume {pool_name}/{name}", volume.delete, 0)
    element = ET.Element("volume")
    ET.SubElement(element, "name").text = name
    ET.SubElement(element, "capacity", unit="bytes").text = str(size)
    ET.SubElement(ET.SubElement(element, "target"), "format", type="raw")
    volume = connection.call(
        f"cannot create the boot volume {pool_name}/{name}", pool.createXML, ET.tostring(element, "unicode"), 0
    )
    try:
        connection.call(f"cannot upload the {what} to {pool_name}/{name}", _upload, conn, volume, path, size)
        wrong = _check(conn, volume, digest, size)
    except BaseException:
        _delete(volume)
        raise
    if wrong is not None:
        _delete(volume)
        raise BackendError(
            f"the {what} uploaded to {pool_name}/{name} did not arrive intact: {wrong}; it was deleted",
            hint="the libvirt host's storage or the connection corrupted it; try again, or check the host's pool",
        )
    return _path_of(volume)


def _boot_paths(conn: Any) -> set[str]:
    """The kernel and initrd paths of every domain 0xl defined on the host."""
    used: set[str] = set()
    for dom in connection.call("cannot list the domains", conn.listAllDomains, 0):
        text = ""
        with contextlib.suppress(Exception):  # undefined meanwhile
            text = str(dom.XMLDesc(0))
        if read_metadata(text) is not None:
            root = ET.fromstring(text)  # noqa: S314 - libvirt's own answer
            used.update(p for p in (root.findtext("os/kernel"), root.findtext("os/initrd")) if p)
    return used


def prune(conn: Any, pool: Any) -> list[str]:
    """Deletes the boot volumes of POOL that no domain of 0xl's boots from. Returns their names."""
    used = _boot_paths(conn)
    removed = []
    connection.call("cannot refresh a storage pool", pool.refresh, 0)
    for volume in connection.call("cannot list a storage pool", pool.listAllVolumes, 0):
        name = str(volume.name())
        if _NAME.match(name) and str(volume.path()) not in used:
            _delete(volume)
            removed.append(name)
    return removed
