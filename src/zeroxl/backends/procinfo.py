"""Telling a live process from a dead one whose pid was reused, or one from before a reboot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Identity:
    pid: int
    starttime: int  # clock ticks since boot, field 22 of /proc/PID/stat
    boot_id: str

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "starttime": self.starttime, "boot_id": self.boot_id}

    @classmethod
    def from_json(cls, d: dict[str, object]) -> Identity:
        return cls(int(str(d["pid"])), int(str(d["starttime"])), str(d["boot_id"]))


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces or ')': split after the last ')'.
    return [str(pid), "comm", *raw[raw.rindex(")") + 2 :].split()]


def identity(pid: int) -> Identity | None:
    fields = _stat_fields(pid)
    if fields is None or fields[2] == "Z":  # a zombie has finished running
        return None
    return Identity(pid, int(fields[21]), boot_id())


def alive(ident: Identity | None) -> bool:
    return ident is not None and identity(ident.pid) == ident


def session_members(sid: int) -> list[int]:
    """Live processes in session SID (a supervised service leads its own session)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[2] != "Z" and int(fields[5]) == sid:
                found.append(int(entry.name))
    return found
