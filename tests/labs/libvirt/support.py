"""Small helpers for tests that drive libvirt through its Python binding: a domain that is always
undefined after the test, the stop policy for a guest without ACPI power-off, volume streams."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager

import libvirt

# What a virtio unikernel needs to stop: an ACPI shutdown request that it ignores, then a destroy.
DEFAULT_STOP_TIMEOUT = 10.0


@contextmanager
def defined_domain(conn: libvirt.virConnect, xml: str) -> Iterator[libvirt.virDomain]:
    """Defines `xml` with libvirt's schema validation, yields the domain, then destroys it if it runs and
    undefines it, whatever the test did."""
    domain = conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    try:
        yield domain
    finally:
        try:
            if domain.isActive():
                domain.destroy()
        finally:
            domain.undefine()


def wait_for_state(domain: libvirt.virDomain, state: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while domain.state()[0] != state:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop_domain(domain: libvirt.virDomain, timeout: float = DEFAULT_STOP_TIMEOUT) -> str:
    """Shutdown (an ACPI power-button press), then destroy if the guest is still running after `timeout`
    seconds: a virtio unikernel never powers off on request. Returns "shutdown" or "destroyed"."""
    domain.shutdown()
    if wait_for_state(domain, libvirt.VIR_DOMAIN_SHUTOFF, timeout):
        return "shutdown"
    domain.destroy()
    return "destroyed"


def upload(conn: libvirt.virConnect, volume: libvirt.virStorageVol, data: bytes, chunk: int = 1 << 20) -> None:
    """Writes `data` at the start of `volume` through libvirt's volume upload stream."""
    stream = conn.newStream(0)
    volume.upload(stream, 0, len(data), 0)
    offset = 0

    def source(_stream: libvirt.virStream, nbytes: int, _opaque: object) -> bytes:
        nonlocal offset
        piece = data[offset : offset + min(nbytes, chunk)]
        offset += len(piece)
        return piece

    stream.sendAll(source, None)
    stream.finish()


def download(conn: libvirt.virConnect, volume: libvirt.virStorageVol, length: int = 0) -> bytes:
    """Reads `length` bytes (0: all) of `volume` through libvirt's volume download stream."""
    stream = conn.newStream(0)
    volume.download(stream, 0, length, 0)
    pieces: list[bytes] = []

    def sink(_stream: libvirt.virStream, data: bytes, _opaque: object) -> int:
        pieces.append(data)
        return len(data)

    stream.recvAll(sink, None)
    stream.finish()
    return b"".join(pieces)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
