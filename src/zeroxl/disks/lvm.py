"""Disks as LVM logical volumes in the volume group `[disks] volume_group` of config.toml.

A disk of service S named D is the LV `0xl-S-D` (service names hold no `_`, disk names no `-`, so the
name is unambiguous), created with three tags: `0xl` (0xl made it), `0xl.service=S` and `0xl.disk=D`.
The tags, not the name, decide what is 0xl's: `find`, `list` and `delete` ignore every volume without
the `0xl` tag, and `delete` removes a volume only after reading its tags again. A volume of the same
name without the tag (someone else's) makes `create` fail; 0xl never touches it.

Every LVM command is built by one argument builder per tool (lvcreate_argv, lvremove_argv, lvs_argv),
which refuses an operand that LVM could read as an option or another object, and puts `--` before the
operands; all run through zeroxl.proc.
"""

from __future__ import annotations

import json
import re
from typing import Any

from zeroxl import proc
from zeroxl.disks.base import KeptDisk
from zeroxl.errors import BackendError, ConfigError, ConflictError, UsageError
from zeroxl.host.names import DISK_NAME, SERVICE_NAME
from zeroxl.state.service import Disk

OWNER_TAG = "0xl"
PREFIX = "0xl-"
TIMEOUT = 120.0

# LVM's names: letters, digits and +_.- (not starting with '-'), at most 127 characters.
_VG = re.compile(r"[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}")
# Substrings LVM reserves for its own hidden volumes (lvm(8), "VALID NAMES").
_RESERVED = (
    "_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_iorig", "_mimage", "_mlog", "_pmspare",
    "_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig",
)  # fmt: skip


def check_volume_group(vg: str) -> str:
    if not _VG.fullmatch(vg) or vg in (".", ".."):
        raise ConfigError(f"config.toml: [disks] volume_group {vg!r} is not a volume group name")
    return vg


def lv_name(service: str, disk: str) -> str:
    name = f"{PREFIX}{service}-{disk}"
    _check_lv(name)
    return name


def _is_lv(name: str) -> bool:
    """Whether NAME is `0xl-SERVICE-DISK`: service names hold no '_' and disk names no '-', so the disk's
    name is what follows the last '-'."""
    service, _, disk = name.removeprefix(PREFIX).rpartition("-")
    return name.startswith(PREFIX) and SERVICE_NAME.fits(service) and DISK_NAME.fits(disk)


def _check_lv(name: str) -> str:
    if not _is_lv(name):
        raise BackendError(f"refusing the logical volume name {name!r}: not one 0xl makes")
    reserved = next((r for r in _RESERVED if r in name), None)
    if reserved is not None:
        raise UsageError(
            f"the disk name in {name!r} cannot be used with LVM: it holds {reserved!r}, which LVM reserves",
            hint="name the disk otherwise",
        )
    return name


def _check_tag(tag: str) -> str:
    key, sep, value = tag.partition("=")
    if not (
        tag == OWNER_TAG
        or (sep and key == "0xl.service" and SERVICE_NAME.fits(value))
        or (sep and key == "0xl.disk" and DISK_NAME.fits(value))
    ):
        raise BackendError(f"refusing the LVM tag {tag!r}: not one 0xl sets")
    return tag


def lvcreate_argv(vg: str, name: str, size: int, tags: list[str]) -> list[str]:
    """A new linear LV of SIZE bytes (LVM rounds up to whole extents), wiped at its start, tagged."""
    if size <= 0:
        raise BackendError(f"refusing to create {name} of {size} bytes")
    args = ["lvcreate", "--yes", "--wipesignatures", "y", "--zero", "y", "--name", _check_lv(name)]
    args += ["--size", f"{size}b"]
    for tag in tags:
        args += ["--addtag", _check_tag(tag)]
    return [*args, "--", check_volume_group(vg)]


def lvremove_argv(vg: str, name: str) -> list[str]:
    return ["lvremove", "--yes", "--", f"{check_volume_group(vg)}/{_check_lv(name)}"]


def lvs_argv(vg: str) -> list[str]:
    """Every LV of VG with its size in bytes and its tags, as JSON."""
    return [
        "lvs", "--reportformat", "json", "--units", "b", "--nosuffix",
        "--options", "lv_name,lv_size,lv_tags", "--", check_volume_group(vg),
    ]  # fmt: skip


def parse_lvs(text: str) -> list[dict[str, Any]]:
    """The LVs in `lvs --reportformat json` output, each with lv_name, lv_size (int) and lv_tags (a set)."""
    try:
        reports = json.loads(text)["report"]
        rows = [lv for report in reports for lv in report.get("lv", [])]
        return [
            {
                "lv_name": str(lv["lv_name"]),
                "lv_size": int(str(lv["lv_size"]).strip()),
                "lv_tags": {t for t in str(lv.get("lv_tags", "")).split(",") if t},
            }
            for lv in rows
        ]
    except (ValueError, KeyError, TypeError) as e:
        raise BackendError(f"lvs printed something 0xl does not understand ({e})") from e


def _owner(tags: set[str]) -> tuple[str, str] | None:
    """(service, disk) from a volume's tags, or None if it is not 0xl's."""
    if OWNER_TAG not in tags:
        return None
    service = next((t.split("=", 1)[1] for t in tags if t.startswith("0xl.service=")), None)
    disk = next((t.split("=", 1)[1] for t in tags if t.startswith("0xl.disk=")), None)
    return (service, disk) if service and disk else None


class LvmDisks:
    kind = "lvm"

    def __init__(self, volume_group: str) -> None:
        self.vg = check_volume_group(volume_group)

    def _lvs(self) -> list[dict[str, Any]]:
        try:
            done = proc.run(lvs_argv(self.vg), timeout=TIMEOUT)
        except proc.CommandFailed as e:
            raise BackendError(
                f"cannot list the logical volumes of {self.vg}: {e.message}",
                hint="is [disks] volume_group in config.toml a volume group of this host (see vgs)?",
            ) from e
        return parse_lvs(done.stdout.decode("utf-8", "replace"))

    def _disk(self, lv: dict[str, Any]) -> KeptDisk | None:
        owner = _owner(lv["lv_tags"])
        if owner is None or lv["lv_name"] != f"{PREFIX}{owner[0]}-{owner[1]}":
            return None
        service, name = owner
        location = f"{self.vg}/{lv['lv_name']}"
        return KeptDisk(service, Disk(name=name, size=lv["lv_size"], kind=self.kind, location=location))

    def create(self, service: str, name: str, size: int) -> Disk:
        lv = lv_name(service, name)
        tags = [OWNER_TAG, f"0xl.service={service}", f"0xl.disk={name}"]
        if any(x["lv_name"] == lv for x in self._lvs()):
            raise ConflictError(
                f"a logical volume {self.vg}/{lv} exists already",
                hint="if 0xl made it, see 0xl disk list; if not, 0xl leaves it alone: rename or remove it yourself",
            )
        try:
            proc.run(lvcreate_argv(self.vg, lv, size, tags), timeout=TIMEOUT)
        except proc.CommandFailed as e:
            raise BackendError(f"cannot create the disk {name} of {service}: {e.message}") from e
        disk = self.find(service, name)
        if disk is None:
            raise BackendError(f"lvcreate made {self.vg}/{lv}, but lvs does not show it with 0xl's tags")
        return disk

    def find(self, service: str, name: str) -> Disk | None:
        lv = lv_name(service, name)
        for x in self._lvs():
            kept = self._disk(x) if x["lv_name"] == lv else None
            if kept is not None and kept.service == service:
                return kept.disk
        return None

    def delete(self, disk: Disk) -> None:
        vg, _, lv = disk.location.partition("/")
        if vg != self.vg:
            raise BackendError(f"refusing to delete {disk.location}: it is not in the volume group {self.vg}")
        _check_lv(lv)
        found = next((x for x in self._lvs() if x["lv_name"] == lv), None)
        if found is None:
            return  # gone already: a re-run of a delete that was interrupted
        kept = self._disk(found)
        if kept is None or kept.disk.name != disk.name:
            raise BackendError(f"refusing to delete {disk.location}: it does not carry 0xl's tags for disk {disk.name}")
        try:
            proc.run(lvremove_argv(self.vg, lv), timeout=TIMEOUT)
        except proc.CommandFailed as e:
            raise BackendError(
                f"cannot delete the disk {disk.location}: {e.message}",
                hint="a running domain may still use it: stop its service first",
            ) from e

    def list(self) -> list[KeptDisk]:
        found = [kept for kept in (self._disk(x) for x in self._lvs()) if kept is not None]
        return sorted(found, key=lambda k: (k.service, k.disk.name))
