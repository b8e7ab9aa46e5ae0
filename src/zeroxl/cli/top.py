"""`0xl top`: the services and what they use, refreshed every few seconds, as xentop shows domains.

The CPU column is the rate since the previous refresh (on the first, the average since the service
started), in percent of one CPU: a VM with several busy vcpus goes past 100, as in xentop.
"""

from __future__ import annotations

import argparse
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from zeroxl.app.cpurate import CpuRates

HEADERS = ["NAME", "STATE", "BACKEND", "VERSION", "CPU(s)", "CPU(%)", "MEM", "UPTIME", "RESTARTS", "DISK"]


def rows(listed: list[dict[str, Any]], rates: CpuRates, now: float) -> list[list[str]]:
    from zeroxl.cli.render import duration
    from zeroxl.host.units import human_size

    out = []
    for d in listed:
        res = d.get("resources")
        cpu = pct = mem = "-"
        if res:
            cpu = f"{res['cpu_seconds']:.2f}"
            rate = rates.percent(
                d["name"], started=d["started"], cpu_seconds=res["cpu_seconds"], now=now, uptime=d["uptime"]
            )
            pct = f"{rate:.1f}" if rate is not None else "-"
            mem = human_size(res["memory_bytes"])
        disks = d.get("disks") or []
        used = [x["used"] for x in disks if x.get("used") is not None]
        disk = f"{human_size(sum(used))}/{human_size(sum(x['size'] for x in disks))}" if used else "-"
        row = [
            d["name"],
            d["state"],
            d["backend"],
            d["version"],
            cpu,
            pct,
            mem,
            duration(d["uptime"]),
            str(d["restarts"]),
            disk,
        ]
        out.append([cell or "-" for cell in row])
    rates.keep_only({d["name"] for d in listed})
    return out


def cmd_top(a: argparse.Namespace) -> int:
    from zeroxl.app import views
    from zeroxl.app.cpurate import CpuRates
    from zeroxl.cli import render
    from zeroxl.host.paths import home_dir
    from zeroxl.safetext import raw

    batch = a.batch or not sys.stdout.isatty()
    rates = CpuRates(min_interval=0.0)
    home = home_dir()
    shown = 0
    try:
        while True:
            listed = views.list_services(home)
            now = time.time()
            table = rows(listed, rates, now)
            running = sum(d["state"] == "running" for d in listed)
            if not batch:
                raw(sys.stdout).write("\x1b[H\x1b[2J")  # home, clear: redraw in place, as top does
            elif shown:
                sys.stdout.write("\n")  # a blank line between two tables
            count = f"{len(listed)} service" + ("s" if len(listed) != 1 else "")
            sys.stdout.write(
                f"0xl top - {time.strftime('%H:%M:%S', time.localtime(now))}  {count}, {running} running\n"
            )
            render.table(HEADERS, table)
            sys.stdout.flush()
            shown += 1
            if a.iterations is not None and shown >= a.iterations:
                return 0
            time.sleep(a.delay)
    except KeyboardInterrupt:
        return 0  # the way out of top
