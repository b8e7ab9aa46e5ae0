"""What a running unix service uses, read from /proc: CPU time, resident memory, number of processes;
and the network bytes of a Xen domain, read from its vifs in dom0's /sys.

A service is everything below its supervisor, which is a child subreaper: the program, what it forked,
and what escaped its session (backends/supervisor.py). Finding those needs the parent of every process,
and this kernel may lack /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN), so /proc is read whole:
once for all the services one `0xl list` shows (a scan is about 1 ms per 70 processes), kept for
SCAN_TTL seconds, so that `list`, `top` and a web page answering many requests at once share it.

Kept free of heavy imports (pathlib included): `0xl list` calls it for every running unix service.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from typing import Any

SCAN_TTL = 0.5
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")

# pid -> (ppid, CPU ticks: utime + stime + cutime + cstime, resident pages)
Table = dict[int, tuple[int, int, int]]
_scan: tuple[float, Table] | None = None


def _read_proc() -> Table:
    table: Table = {}
    for entry in os.listdir("/proc"):  # noqa: PTH208
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:  # noqa: PTH123 - the cheapest read, per process
                raw = f.read()
        except OSError:
            continue  # gone meanwhile
        # Fields after the command name, which is in parentheses and may hold spaces or ')'. proc(5):
        # 3 state, 4 ppid, 14 utime, 15 stime, 16 cutime, 17 cstime, 24 rss (pages).
        fields = raw[raw.rindex(b")") + 2 :].split()
        if fields[0] == b"Z":
            continue  # finished; its time is in its parent's cutime once reaped
        ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        table[int(entry)] = (int(fields[1]), ticks, int(fields[21]))
    return table


def processes() -> Table:
    """Every live process, as read at most SCAN_TTL seconds ago."""
    global _scan  # noqa: PLW0603 - one scan shared by the services of one listing
    now = time.monotonic()
    if _scan is None or now - _scan[0] > SCAN_TTL:
        _scan = (now, _read_proc())
    return _scan[1]


def below(table: Table, root: int) -> list[int]:
    """The processes below ROOT in TABLE (children, their children, …)."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            found.append(child)
            stack.append(child)
    return found


def of_supervisor(supervisor: int) -> dict[str, Any]:
    """What the processes below SUPERVISOR use now (the supervisor itself, 0xl's, not counted):
    cpu_seconds of those running now, with the children they waited for (a program restarted by its
    supervisor starts again from 0, as a Xen domain that is created again does); memory_bytes, their
    resident memory added up; processes, how many there are."""
    table = processes()
    pids = below(table, supervisor)
    ticks = sum(table[p][1] for p in pids)
    pages = sum(table[p][2] for p in pids)
    return {"cpu_seconds": round(ticks / _TICKS, 2), "memory_bytes": pages * _PAGE, "processes": len(pids)}


def vif_bytes(domid: int, net_dir: str = "/sys/class/net") -> dict[str, int] | None:
    """The bytes domain DOMID received and sent on all its networks, from the counters of its backend
    interfaces in dom0 (`vifDOMID.DEVID`, what xentop reads too), or None when it has none. The vif's
    view is the mirror of the guest's: what dom0 sends on it, the guest receives. A unix service shares
    the host's network namespace, so nothing counts its bytes alone: it has no such figure."""
    prefix = f"vif{domid}."
    rx = tx = 0
    found = False
    try:
        names = os.listdir(net_dir)  # noqa: PTH208
    except OSError:
        return None
    for name in names:
        if not (name.startswith(prefix) and name[len(prefix) :].isdigit()):
            continue  # vifN.M-emu, the emulated twin of an HVM guest's, is not a PV network
        try:
            with open(f"{net_dir}/{name}/statistics/tx_bytes", "rb") as f:  # noqa: PTH123
                rx += int(f.read())
            with open(f"{net_dir}/{name}/statistics/rx_bytes", "rb") as f:  # noqa: PTH123
                tx += int(f.read())
        except (OSError, ValueError):
            continue  # gone meanwhile
        found = True
    return {"net_rx_bytes": rx, "net_tx_bytes": tx} if found else None
