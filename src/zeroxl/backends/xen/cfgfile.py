"""xl.cfg(5) files, written by 0xl alone from typed values: a pure function, no IO.

Every value is checked against what its key may hold before it is written, and nothing is ever
escaped: a value that xl would read as anything but itself is refused (XlCfgError, exit status 2).
So no value, whoever chose it (a feed, the operator, ZEROXL_HOME's path), can add a key, a line, a
quote or an option:

- every string is written in double quotes and may not contain a quote of either kind, a backslash
  (xl reads escapes in strings), a line break or any other control character, or a non-ASCII one;
- paths are absolute and made of `A-Z a-z 0-9 . _ + @ % ~ : / -` only;
- the kernel command line is a list of `--NAME=VALUE` words, each value without blanks (a blank
  would start another kernel parameter);
- the `disk` and `vif` specs are comma-separated `key=value` options: no value in them may hold a
  comma or `=`, and `target=` comes last (xl-disk-configuration(5));
- names, bridges, MACs, numbers and actions are checked against their own narrow forms.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from zeroxl.errors import SettingError
from zeroxl.host.devices import is_vdev
from zeroxl.host.names import ARG_NAME, BRIDGE_NAME, SERVICE_NAME

XEN_TYPES = ("pvh", "pv")
ACTIONS = ("destroy", "restart", "preserve")
# The PV start_info command line holds 1024 bytes; PVH guests get the same limit for simplicity.
MAX_CMDLINE = 1024
MAX_MEMORY = 1 << 20  # MiB
MAX_VCPUS = 128
MAX_DISKS = 26  # xvda … xvdz

_PATH = re.compile(r"/[A-Za-z0-9._+@%~:/-]{0,4095}")
# Printable ASCII without the blank, quotes and the backslash.
_ARG_VALUE = re.compile(r"[!#-&(-\[\]-~]{0,4096}")
# A unicast MAC, lower case: the first byte's lowest bit is the multicast bit.
_MAC = re.compile(r"[0-9a-f][02468ace](:[0-9a-f]{2}){5}")


class XlCfgError(SettingError):
    """A value of the service's cannot be written into an xl.cfg as itself."""


@dataclass(frozen=True)
class DiskSpec:
    vdev: str  # the Xen disk the guest finds it at: xvdb for a Mirage unikernel's first block (zeroxl.host.devices)
    target: str  # an absolute path: a logical volume's device or a raw file
    access: str = "rw"
    format: str = "raw"


@dataclass(frozen=True)
class VifSpec:
    bridge: str
    mac: str


@dataclass(frozen=True)
class DomainConfig:
    name: str
    type: str  # pvh or pv
    kernel: str  # absolute path
    memory: int  # MiB
    cmdline: tuple[tuple[str, str], ...] = ()  # (NAME, VALUE) pairs, written as --NAME=VALUE
    ramdisk: str | None = None  # absolute path
    vcpus: int = 1
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "restart"
    disks: tuple[DiskSpec, ...] = ()
    vifs: tuple[VifSpec, ...] = ()


def render(cfg: DomainConfig) -> str:
    """The xl.cfg text for CFG, or XlCfgError naming the first value that cannot be written."""
    name = _check(SERVICE_NAME.fits, cfg.name, "name")
    lines = [
        f"# Written by 0xl for the service {name}: 0xl writes it again at every start,",
        "# so edits here are lost. `0xl config NAME` shows what it would write now.",
        f"name = {_q(cfg.name)}",
        f"type = {_q(_one_of(cfg.type, XEN_TYPES, 'type'))}",
        f"kernel = {_q(_path(cfg.kernel, 'kernel'))}",
    ]
    if cfg.ramdisk is not None:
        lines.append(f"ramdisk = {_q(_path(cfg.ramdisk, 'ramdisk'))}")
    lines += [
        f"cmdline = {_q(_cmdline(cfg.cmdline))}",
        f"memory = {_number(cfg.memory, 1, MAX_MEMORY, 'memory')}",
        f"vcpus = {_number(cfg.vcpus, 1, MAX_VCPUS, 'vcpus')}",
        f"on_poweroff = {_q(_one_of(cfg.on_poweroff, ACTIONS, 'on_poweroff'))}",
        f"on_reboot = {_q(_one_of(cfg.on_reboot, ACTIONS, 'on_reboot'))}",
        f"on_crash = {_q(_one_of(cfg.on_crash, ACTIONS, 'on_crash'))}",
    ]
    if cfg.disks:
        lines.append(f"disk = {_list([_disk(d) for d in cfg.disks])}")
    if cfg.vifs:
        lines.append(f"vif = {_list([_vif(v) for v in cfg.vifs])}")
    _unique([d.vdev for d in cfg.disks], "disk vdev")
    _unique([v.mac for v in cfg.vifs], "vif mac")
    if len(cfg.disks) > MAX_DISKS:
        raise XlCfgError(f"xl.cfg: {len(cfg.disks)} disks, more than the {MAX_DISKS} 0xl can name (xvda-xvdz)")
    return "\n".join(lines) + "\n"


def _q(value: str) -> str:
    # Every caller has checked VALUE against a pattern without quotes, backslashes or control characters.
    return f'"{value}"'


def _list(items: list[str]) -> str:
    return "[ " + ", ".join(_q(i) for i in items) + " ]"


def _check(fits: Callable[[str], object], value: str, key: str) -> str:
    if not fits(value):
        raise XlCfgError(f"xl.cfg: {value!r} cannot be written as {key}")
    return value


def _one_of(value: str, allowed: tuple[str, ...], key: str) -> str:
    if value not in allowed:
        raise XlCfgError(f"xl.cfg: {key} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _number(value: int, low: int, high: int, key: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise XlCfgError(f"xl.cfg: {key} must be a whole number from {low} to {high}, not {value!r}")
    return str(value)


def _path(value: str, key: str) -> str:
    if not _PATH.fullmatch(value):
        raise XlCfgError(
            f"xl.cfg: the {key} path {value!r} cannot be written",
            hint="0xl writes absolute paths of letters, digits and . _ + @ % ~ : / - only; "
            "move ZEROXL_HOME to such a path",
        )
    return value


def _cmdline(args: tuple[tuple[str, str], ...]) -> str:
    words = []
    for name, value in args:
        _check(ARG_NAME.fits, name, "a kernel command-line argument name")
        if not _ARG_VALUE.fullmatch(value):
            raise XlCfgError(
                f"xl.cfg: the value of --{name} ({value!r}) cannot be written on the kernel command line",
                hint="a VM's argument values may not hold blanks, quotes, backslashes or control characters",
            )
        words.append(f"--{name}={value}")
    line = " ".join(words)
    if len(line) > MAX_CMDLINE:
        raise XlCfgError(f"xl.cfg: the kernel command line would be {len(line)} characters, over Xen's {MAX_CMDLINE}")
    return line


def _spec_value(value: str, key: str) -> str:
    if "," in value or "=" in value:
        raise XlCfgError(f"xl.cfg: the {key} {value!r} holds a ',' or '=', which would split its option list")
    return value


def _disk(d: DiskSpec) -> str:
    vdev = _check(is_vdev, d.vdev, "a disk vdev")
    fmt = _one_of(d.format, ("raw",), "disk format")
    access = _one_of(d.access, ("rw", "ro"), "disk access")
    target = _spec_value(_path(d.target, "disk target"), "disk target")
    # target= must be the last option: xl reads the rest of the spec as the target.
    return f"format={fmt}, vdev={vdev}, access={access}, target={target}"


def _vif(v: VifSpec) -> str:
    bridge = _check(BRIDGE_NAME.fits, v.bridge, "a vif bridge")
    mac = _check(_MAC.fullmatch, v.mac, "a vif mac")
    return f"bridge={bridge}, mac={mac}"


def _unique(values: list[str], what: str) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise XlCfgError(f"xl.cfg: the {what} {value} appears twice")
        seen.add(value)
