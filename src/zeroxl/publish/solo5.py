"""What `mirage configure -t virtio` (or hvt, spt) says about a unikernel's needs: Solo5's device manifest.

mirage writes `manifest.json` beside the build and compiles it into the binary (NAME.virtio):

    {"type":"solo5.manifest","version":1,"devices":[{"name":"service","type":"NET_BASIC"},
     {"name":"storage","type":"BLOCK_BASIC"}]}

The devices are listed in the order the unikernel declares them. Names are alphanumeric, at most 67
characters, at most 63 devices (Solo5's `mft_abi.h`). From it come the block devices, in order (a virtio
unikernel takes the first virtio disk: mirage's first block, which 0xl writes at xvdb and attaches at
vda on virtio, host/devices.py), and the networks, in order. The kernel is NAME.virtio, found in the directory
packed (or beside the manifest). Nothing else is read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from zeroxl.errors import UsageError
from zeroxl.host.devices import mirage_vdev
from zeroxl.host.names import DISK_NAME, NETWORK_NAME

MAX_DEVICES = 63
MAX_NAME = 67
KINDS = ("BLOCK_BASIC", "NET_BASIC")
_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class ManifestNeeds:
    blocks: tuple[tuple[str, str], ...]  # (name, vdev in mirage's numbering), in declaration order
    networks: tuple[str, ...]
    kernel: str | None  # NAME.virtio beside the manifest, if there is exactly one


def is_manifest(path: Path) -> bool:
    return path.suffix == ".json"


def read_manifest(path: Path, *, kernel_dirs: tuple[Path, ...] = ()) -> ManifestNeeds:
    """The needs PATH declares; the kernel is the one NAME.virtio in the first of KERNEL_DIRS (then PATH's
    own directory) that holds exactly one (mirage 4 puts it in dist/, beside the build's manifest.json)."""
    where = f"--from-mirage {path}"
    try:
        with path.open("rb") as f:
            raw = f.read(_MAX_BYTES + 1)
    except OSError as e:
        raise UsageError(f"{where}: {e.strerror}") from e
    if len(raw) > _MAX_BYTES:
        raise UsageError(f"{where}: larger than a Solo5 manifest can be")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{where}: not JSON", hint="give the manifest.json that mirage configure writes") from None
    if not isinstance(data, dict) or data.get("type") != "solo5.manifest" or data.get("version") != 1:
        raise UsageError(f"{where}: not a Solo5 manifest of version 1 (type solo5.manifest)")
    devices = data.get("devices")
    if not isinstance(devices, list) or len(devices) > MAX_DEVICES:
        raise UsageError(f"{where}: devices must be a list of at most {MAX_DEVICES}")
    blocks: list[tuple[str, str]] = []
    networks: list[str] = []
    seen: set[str] = set()
    for device in devices:
        if not isinstance(device, dict) or not isinstance(device.get("name"), str):
            raise UsageError(f"{where}: a device without a name")
        name, kind = device["name"], device.get("type")
        if not (0 < len(name) <= MAX_NAME and name.isascii() and name.isalnum()):
            raise UsageError(f"{where}: device name {name[:80]!r} is not 1-{MAX_NAME} letters and digits")
        if kind not in KINDS:
            raise UsageError(f"{where}: device {name} is of type {kind!r}, not one of {', '.join(KINDS)}")
        if name in seen:
            raise UsageError(f"{where}: two devices are named {name}")
        seen.add(name)
        rule = DISK_NAME if kind == "BLOCK_BASIC" else NETWORK_NAME
        if not rule.fits(name):
            raise UsageError(f"{where}: device name {name!r} cannot be a 0xl name", hint=f"use {rule.text}")
        if kind == "BLOCK_BASIC":
            try:
                blocks.append((name, mirage_vdev(len(blocks))))
            except ValueError as e:
                raise UsageError(f"{where}: {e}") from None
        else:
            networks.append(name)
    kernel = None
    for directory in (*kernel_dirs, path.parent):
        kernels = sorted(p.name for p in directory.glob("*.virtio") if p.is_file())
        if len(kernels) == 1:
            kernel = kernels[0]
            break
    return ManifestNeeds(tuple(blocks), tuple(networks), kernel)
