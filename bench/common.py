"""Timing helpers: medians of repeated runs, ratios against a baseline measured in the same run."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def median_time(fn: Callable[[], object], runs: int = 7, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def interleaved(cmds: dict[str, Callable[[], object]], rounds: int = 15) -> dict[str, list[float]]:
    """Time each command once per round, in turn, so that a change in the machine's load hits all
    of them alike; returns every sample per command."""
    for fn in cmds.values():
        fn()  # warm-up: page cache, .pyc files
    samples: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(rounds):
        for key, fn in cmds.items():
            t = time.perf_counter()
            fn()
            samples[key].append(time.perf_counter() - t)
    return samples


def ratio(samples: dict[str, list[float]], a: str, b: str) -> float:
    """The median over rounds of A's time divided by B's time in the same round."""
    return statistics.median(x / y for x, y in zip(samples[a], samples[b], strict=True))


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms"


def installed_env(**extra: str) -> dict[str, str]:
    """The environment for running 0xl as an installed 0xl runs: with its bytecode cached.

    This machine sets PYTHONDONTWRITEBYTECODE, which would make every run compile 0xl's sources again,
    a fixed cost no installed copy pays (pip writes the .pyc files) and that would distort ratios.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def run_cmd(args: Sequence[str], env: dict[str, str] | None = None, check: bool = True) -> None:
    subprocess.run(list(args), env=env, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def peak_rss_kib(args: Sequence[str], env: dict[str, str] | None = None) -> int:
    """Peak resident memory of one run of ARGS, in KiB (from wait4's rusage)."""
    p = subprocess.Popen(list(args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(p.pid, 0)
    return int(usage.ru_maxrss)


def zeroxl(*args: str) -> list[str]:
    # The console script, as users run it (not `python -m`, which adds runpy).
    return [str(Path(sys.executable).with_name("0xl")), *args]


def report(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


__all__ = [
    "installed_env",
    "interleaved",
    "median_time",
    "ms",
    "peak_rss_kib",
    "ratio",
    "report",
    "resource",
    "run_cmd",
    "zeroxl",
]
