"""Where a guest finds its devices: Xen block device names (vdevs) and network device numbers, as mirage
and xl agree on them. Pure functions, in one place for the feed parser, the publisher and the xl.cfg writer.

Sources (docs/mirage.md has the details):
- mirage numbers a unikernel's block devices from 1 in declaration order, "0" being kept for a boot disk
  (mirage lib/devices/block.ml `make_block_t`), and connects to block n at the Xen device number
  `(202 << 8) | (n << 4)` (n < 16; `(1 << 28) | (n << 8)` above: `xenstore_id_of_index`), which Linux and
  xl call `xvd` + the n-th letter from `a` (lib/devices/target.ml `configure_main_xl`, the template's
  `vdev=`): the first block is xvdb. xl reads `xvdb`..`xvdz` as the same numbers (xl-disk-configuration(5)).
- a Xen unikernel's network named "N" is the vif whose device id is N (mirage-net-xen `Netif.connect`
  reads device/vif/N), and xl gives each vif its index in the `vif = [...]` list as device id
  (xl-network-configuration(5)): a network named by a number must be declared at that position.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_VDEV = re.compile(r"xvd[a-z]")
# 26 names, xvda..xvdz; mirage's numbering starts at xvdb, so a unikernel gets 25 of them.
MAX_VDEVS = 26
VDEV_RULE = "a Xen disk name from xvda to xvdz"


def is_vdev(text: str) -> bool:
    return _VDEV.fullmatch(text) is not None


def vdev_number(vdev: str) -> int:
    """xvda -> 0, xvdb -> 1, …: the disk index xl and mirage derive the Xen device number from."""
    if not is_vdev(vdev):
        raise ValueError(f"{vdev!r} is not {VDEV_RULE}")
    return ord(vdev[3]) - ord("a")


def vdev_name(number: int) -> str:
    if not 0 <= number < MAX_VDEVS:
        raise ValueError(f"disk number {number} has no name from xvda to xvdz")
    return "xvd" + chr(ord("a") + number)


def mirage_vdev(position: int) -> str:
    """The device of the block declared at POSITION (from 0) in mirage's numbering: xvdb, xvdc, …"""
    if position + 1 >= MAX_VDEVS:
        raise ValueError(f"more than {MAX_VDEVS - 1} block devices: mirage's numbering goes from xvdb to xvdz")
    return vdev_name(position + 1)


def block_vdevs(blocks: Sequence[tuple[str, str | None]]) -> tuple[str, ...]:
    """The device of each (NAME, VDEV) block: VDEV when declared, else mirage's rule by position.

    Raises ValueError naming the blocks when two would be at one device (a guest would see one disk).
    """
    vdevs = []
    taken: dict[str, str] = {}
    for position, (name, declared) in enumerate(blocks):
        if declared is not None and not is_vdev(declared):
            raise ValueError(f"block {name}: vdev {declared!r} is not {VDEV_RULE}")
        vdev = declared if declared is not None else mirage_vdev(position)
        if vdev in taken:
            how = "declared" if declared is not None else "by its position, in mirage's numbering"
            raise ValueError(f"blocks {taken[vdev]} and {name} are both at {vdev} ({name} {how})")
        taken[vdev] = name
        vdevs.append(vdev)
    return tuple(vdevs)


def free_vdevs(taken: Sequence[str]) -> list[str]:
    """The devices from xvdb upward that TAKEN leaves free, for disks no block declares."""
    return [vdev_name(n) for n in range(1, MAX_VDEVS) if vdev_name(n) not in taken]


def network_devid(name: str) -> int | None:
    """The Xen vif device id a network NAME stands for (mirage names Xen networks "0", "1", …), or None."""
    if name.isascii() and name.isdigit():
        return int(name)
    return None


def check_network_positions(names: Sequence[str]) -> None:
    """Refuse a network named by a number other than its position in the list (ValueError)."""
    for position, name in enumerate(names):
        if network_devid(name) is not None and name != str(position):
            raise ValueError(
                f"the network {name!r} is declared at position {position} (from 0): a network named by a number "
                "is the Xen vif with that device id, and xl gives vifs their position as device id, so a "
                "network named N must be declared at position N, written without leading zeros"
            )


def virtio_disk(vdev: str) -> str:
    """The virtio disk (vda, vdb, …) a block at the Xen disk VDEV is attached at on a virtio guest.

    Mirage numbers blocks from 1 (xvdb); a virtio unikernel (Solo5) takes the first virtio-blk device it
    finds, so mirage's block n is the n-th virtio disk: xvdb -> vda, xvdc -> vdb. xvda (number 0, kept for
    a boot disk on Xen) has no virtio disk.
    """
    number = vdev_number(vdev)
    if number == 0:
        raise ValueError(f"{vdev} is kept for a boot disk: a virtio guest's first disk is mirage's first block, xvdb")
    return "vd" + chr(ord("a") + number - 1)


# Solo5's virtio bindings drive one virtio-net and one virtio-blk device: a second is never seen by the
# unikernel (Solo5's docs, "virtio": "at most one network and one block device"), so a service declaring
# more would start and then miss a disk or a network it was promised.
VIRTIO_MAX_BLOCKS = 1
VIRTIO_MAX_NETWORKS = 1


def virtio_limits(blocks: int, networks: int) -> str | None:
    """Why a virtio unikernel cannot have BLOCKS block devices and NETWORKS networks; None if it can."""
    over = []
    if blocks > VIRTIO_MAX_BLOCKS:
        over.append(f"{blocks} block devices")
    if networks > VIRTIO_MAX_NETWORKS:
        over.append(f"{networks} networks")
    if not over:
        return None
    return (
        f"Solo5's virtio target attaches at most {VIRTIO_MAX_NETWORKS} network and {VIRTIO_MAX_BLOCKS} block "
        f"device, and this declares {' and '.join(over)}"
    )
