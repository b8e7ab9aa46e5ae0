"""Run every benchmark: `python -m bench` (or `make bench`). Figures are printed, never asserted."""

from __future__ import annotations

import importlib
import sys

BENCHES = [
    "bench.bench_list", "bench.bench_run", "bench.bench_digest", "bench.bench_update", "bench.bench_web", "bench.bench_libvirt",
    "bench.bench_fleet",
]  # fmt: skip


def main() -> None:
    only = sys.argv[1:]
    for name in BENCHES:
        if only and not any(o in name for o in only):
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            print(f"{name}: skipped ({e})")
            continue
        module.main()


main()
