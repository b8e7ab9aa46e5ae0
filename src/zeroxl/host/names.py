"""The names 0xl gives and accepts, one rule per kind: services, disks, networks, arguments, bridges.

Every module that takes, builds or checks such a name asks its rule here, so that what one accepts the
others accept too: a disk name the feed parser let through but LVM's argument builder refused could be
created and never named again to delete it, and a service name that a record allows but `xl` refuses
would be a service that cannot start.

Written without regular expressions: `0xl list` checks every service name it lists and must not pay for
importing `re`.
"""

from __future__ import annotations

from zeroxl.errors import UsageError

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
_LETTERS = _LOWER + _LOWER.upper()


class NameRule:
    """A kind of name: 1 to LONGEST characters, the first one of FIRST, the others of REST (and the last
    one of LAST, if given). TEXT says so in words, for messages."""

    __slots__ = ("_first", "_last", "_rest", "longest", "text")

    def __init__(self, *, first: str, rest: str, longest: int, text: str, last: str | None = None) -> None:
        self._first = frozenset(first)
        self._rest = frozenset(first + rest)
        self._last = frozenset(last) if last is not None else None
        self.longest = longest
        self.text = text

    def fits(self, name: str) -> bool:
        return (
            0 < len(name) <= self.longest
            and name[0] in self._first
            and self._rest.issuperset(name)
            and (self._last is None or name[-1] in self._last)
        )


# A service name becomes a directory name, an xl domain name and part of an LVM volume name (0xl-SERVICE-DISK:
# no '_' here, no '-' in a disk name, so the volume name is unambiguous).
SERVICE_NAME = NameRule(
    first=_LOWER,
    rest=_DIGITS + "-",
    last=_LOWER + _DIGITS,
    longest=31,
    text="1-31 lower-case letters, digits and '-', starting with a letter, e.g. mail or web-2",
)

# Short and plain: a disk name becomes part of a file name, an LV name and an environment variable. A feed
# names its block devices, and an unnamed `--disk SIZE` takes the first of those names.
DISK_NAME = NameRule(
    first=_LOWER,
    rest=_DIGITS + "_",
    longest=16,
    text="1-16 lower-case letters, digits and '_', starting with a letter",
)

# A network is named as the unikernel names it: mirage names a Xen unikernel's default network "0" (a vif
# device id, host.devices) and a Solo5 one's "service". It is shown and written into feeds, never into a
# file name or a VM config.
NETWORK_NAME = NameRule(
    first=_LOWER + _DIGITS,
    rest="_-",
    longest=32,
    text="1-32 lower-case letters, digits, '_' and '-', starting with a letter or a digit",
)

# An argument a feed declares and the operator gives (`--NAME=VALUE` on the service's command line).
ARG_NAME = NameRule(
    first=_LOWER,
    rest=_DIGITS + "_-",
    longest=32,
    text="1-32 lower-case letters, digits, '_' and '-', starting with a letter",
)

# Linux interface names: at most 15 characters; this subset is also safe in every VM config format.
BRIDGE_NAME = NameRule(
    first=_LETTERS + _DIGITS + "_",
    rest=".-",
    longest=15,
    text="1-15 letters, digits, '_', '.' and '-'",
)


def check_service_name(name: str) -> str:
    """NAME, if it is a service name (SERVICE_NAME); else UsageError."""
    if not SERVICE_NAME.fits(name):
        raise UsageError(f"invalid service name {name!r}", hint=f"use {SERVICE_NAME.text}")
    return name


def check_disk_name(name: str) -> str:
    """NAME, if it is a disk name (DISK_NAME); else UsageError."""
    if not DISK_NAME.fits(name):
        raise UsageError(f"invalid disk name {name!r}", hint=f"use {DISK_NAME.text}")
    return name
