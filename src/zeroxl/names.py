"""The names of disks and networks, in one place: the feed parser, the publisher and the disk providers
must agree on them.

A feed names its block devices, and an unnamed `--disk SIZE` takes the first of those names; a name
the providers would refuse could be created through the feed and then never named again to delete it.
"""

from __future__ import annotations

import re

# Short and plain: a disk name becomes part of a file name, an LV name and an environment variable.
_DISK_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")
DISK_NAME_RULE = "1-16 lower-case letters, digits and '_', starting with a letter"


def is_disk_name(name: str) -> bool:
    return _DISK_NAME.fullmatch(name) is not None


# A network is named as the unikernel names it: mirage names a Xen unikernel's default network "0" (a vif
# device id, zeroxl.devices) and a Solo5 one's "service". It is shown and written into feeds, never into a
# file name or a VM config.
_NETWORK_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
NETWORK_NAME_RULE = "1-32 lower-case letters, digits, '_' and '-', starting with a letter or a digit"


def is_network_name(name: str) -> bool:
    return _NETWORK_NAME.fullmatch(name) is not None
