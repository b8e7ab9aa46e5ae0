"""Timing helpers: medians of repeated runs, ratios against a baseline measured in the same run."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence


def median_time(fn: Callable[[], object], runs: int = 7, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def run_cmd(args: Sequence[str], env: dict[str, str] | None = None, check: bool = True) -> None:
    subprocess.run(list(args), env=env, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def peak_rss_kib(args: Sequence[str], env: dict[str, str] | None = None) -> int:
    """Peak resident memory of one run of ARGS, in KiB (from wait4's rusage)."""
    p = subprocess.Popen(list(args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(p.pid, 0)
    return int(usage.ru_maxrss)


def zeroxl(*args: str) -> list[str]:
    return [sys.executable, "-m", "zeroxl", *args]


def report(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


__all__ = ["median_time", "peak_rss_kib", "report", "resource", "run_cmd", "zeroxl"]
