"""Telling a live process from a dead one whose pid was reused, or one from before a reboot.

Kept free of heavy imports (pathlib included): `0xl list` calls it for every service.
"""

from __future__ import annotations

import os


class Identity:
    """A process as the kernel knows it: pid, start time (clock ticks since boot), and the boot."""

    __slots__ = ("boot_id", "pid", "starttime")

    def __init__(self, pid: int, starttime: int, boot_id: str) -> None:
        self.pid = pid
        self.starttime = starttime
        self.boot_id = boot_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identity) and (self.pid, self.starttime, self.boot_id) == (
            other.pid,
            other.starttime,
            other.boot_id,
        )

    def __hash__(self) -> int:
        return hash((self.pid, self.starttime, self.boot_id))

    def __repr__(self) -> str:
        return f"Identity(pid={self.pid}, starttime={self.starttime}, boot_id={self.boot_id!r})"

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "starttime": self.starttime, "boot_id": self.boot_id}

    @classmethod
    def from_json(cls, d: dict[str, object]) -> Identity:
        return cls(int(str(d["pid"])), int(str(d["starttime"])), str(d["boot_id"]))


_boot_id: str | None = None


def boot_id() -> str:
    global _boot_id  # noqa: PLW0603 - read once per process: it changes only with a reboot
    if _boot_id is None:
        try:
            # A test hook (zeroxl.testhooks): a test simulates a host restart by changing this file.
            path = os.environ.get("ZEROXL_TEST_BOOT_ID_FILE") or "/proc/sys/kernel/random/boot_id"
            with open(path) as f:  # noqa: PTH123
                _boot_id = f.read().strip()
        except OSError:
            _boot_id = ""
    return _boot_id


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:  # noqa: PTH123 - the cheapest read, called per service
            raw = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces or ')': split after the last ')'.
    return [str(pid), "comm", *raw[raw.rindex(")") + 2 :].split()]


def identity(pid: int, *, zombie: bool = False) -> Identity | None:
    """PID's identity; None if no such process, or (unless ZOMBIE) if it has finished running."""
    fields = _stat_fields(pid)
    if fields is None or (fields[2] == "Z" and not zombie):
        return None
    return Identity(pid, int(fields[21]), boot_id())


def process_group(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[4]) if fields is not None else None


def alive(ident: Identity | None) -> bool:
    return ident is not None and identity(ident.pid) == ident


def session_members(sid: int) -> list[int]:
    """Live processes in session SID (a supervised service leads its own session)."""
    found = []
    for entry in os.listdir("/proc"):  # noqa: PTH208
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and fields[2] != "Z" and int(fields[5]) == sid:
                found.append(int(entry))
    return found


# -- finding processes by what they are, not by a pid ---------------------------------------------------
# Used when a unix service's state file cannot be read (backends.unix.runtime.found): 0xl must still know
# whether the service runs, or it would start a second copy on the same disk. Only processes of this user
# count: another user can name a process as it likes, and must not make 0xl believe a service runs (or
# kill anything of its).


def own_processes() -> dict[int, int]:
    """Live (not zombie) processes of this effective user: pid -> parent pid. For root, every process:
    the unix services it starts run as users of their own (host.users)."""
    me = os.geteuid()
    found = {}
    for entry in os.listdir("/proc"):  # noqa: PTH208
        if not entry.isdigit():
            continue
        try:
            if me != 0 and os.stat(f"/proc/{entry}").st_uid != me:  # noqa: PTH116
                continue
        except OSError:
            continue
        fields = _stat_fields(int(entry))
        if fields is not None and fields[2] != "Z":
            found[int(entry)] = int(fields[3])
    return found


def read(path: str) -> bytes | None:
    """The bytes of PATH (a file under /proc), or None if it cannot be read (the process is gone)."""
    try:
        with open(path, "rb") as f:  # noqa: PTH123
            return f.read()
    except OSError:
        return None


def descendants(procs: dict[int, int], roots: list[int]) -> list[int]:
    """Those of PROCS below ROOTS (children, their children, …)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = [], list(roots)
    while stack:
        for child in children.get(stack.pop(), ()):
            found.append(child)
            stack.append(child)
    return sorted(found)


def marked(procs: dict[int, int], *, cwd: str, env: bytes) -> list[int]:
    """Those of PROCS that work in CWD (or below it) and have ENV (`NAME=VALUE`) in their environment:
    both are what 0xl gives a unix service, so an operator's shell in that directory is not taken for it."""
    found = []
    for pid in procs:
        try:
            where = os.readlink(f"/proc/{pid}/cwd")  # noqa: PTH115
        except OSError:
            continue
        if where != cwd and not where.startswith(cwd + "/"):
            continue
        environ = read(f"/proc/{pid}/environ")
        if environ is not None and env in environ.split(b"\0"):
            found.append(pid)
    return sorted(found)
