"""Resource use as people read it, for `status` and `top`: CPU time and rate, memory, network, disk use."""

from __future__ import annotations

from zeroxl.host.units import human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The Xen backend's own fields that `resources` already shows (status prints the rest of them).
SHOWN = frozenset({"cpu_seconds", "memory_mib", "vcpus"})


def cpu_percent(cpu_seconds: float, seconds: float | None) -> float | None:
    """CPU time over SECONDS of wall time, in percent of one CPU (above 100 with several busy CPUs,
    as xentop counts)."""
    return 100.0 * cpu_seconds / seconds if seconds else None


def cpu(res: dict[str, Any], uptime: float | None) -> str:
    rate = cpu_percent(res["cpu_seconds"], uptime)
    return f"{res['cpu_seconds']:.2f} s" + (f" ({rate:.1f}% since it started)" if rate is not None else "")


def memory(res: dict[str, Any]) -> str:
    if "vcpus" in res:
        unit = f"{res['vcpus']} vcpu" + ("s" if res["vcpus"] != 1 else "")
    else:
        unit = f"{res.get('processes', 0)} process" + ("es" if res.get("processes") != 1 else "")
    return f"{human_size(res['memory_bytes'])} ({unit})"


def disk_used(disk: dict[str, Any]) -> str:
    return f", {human_size(disk['used'])} used" if disk.get("used") is not None else ""


def fields(d: dict[str, Any]) -> list[tuple[str, str]]:
    """The lines `0xl status` shows about what a running service uses."""
    res = d.get("resources")
    if not res:
        return []
    shown = [("cpu", cpu(res, d.get("uptime"))), ("memory", memory(res))]
    if "net_rx_bytes" in res:
        shown.append(("network", f"{human_size(res['net_rx_bytes'])} received, {human_size(res['net_tx_bytes'])} sent"))
    return shown
