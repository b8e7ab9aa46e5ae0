"""`0xl run` of a libvirt service until the guest's first console line, against `virsh start` of the same
defined domain until its first console line, interleaved (one of each per round). The host is the libvirt
lab's private libvirtd and test guest (tests/labs/libvirt; root, QEMU's software CPU). The gap is what 0xl
adds to libvirt: its start-up, reading the record, the policy checks, writing and validating the domain
XML again, and the run's note."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

from bench.common import installed_env, report, run_cmd, zeroxl

ROUNDS = 5
FIRST_LINE = b"0XL-LIBVIRT-GUEST-UP"


def until_first_line(console: Path, start: list[str], env: dict[str, str]) -> float:
    offset = console.stat().st_size if console.exists() else 0
    t = time.perf_counter()
    p = subprocess.Popen(start, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while True:
        with console.open("rb") if console.exists() else open(os.devnull, "rb") as f:
            f.seek(offset)
            if FIRST_LINE in f.read():
                break
        if time.perf_counter() - t > 300:
            raise SystemExit(f"no console line from {start}")
        time.sleep(0.01)
    elapsed = time.perf_counter() - t
    if p.wait() != 0:
        raise SystemExit(f"{start} failed: {p.stderr.read() if p.stderr else ''}")
    return elapsed


def main() -> None:
    if os.geteuid() != 0:
        print("bench_libvirt: skipped (the libvirt lab needs root)")
        return
    from tests.labs.libvirt.demo import demo_host

    with demo_host() as host:
        env = installed_env(ZEROXL_HOME=str(host.home))
        run_cmd(zeroxl("add", "web", host.url, "--trust-key", host.fingerprint, "--backend", "libvirt",
                       "--disk", "storage=32M", "--arg", "tag=web"), env=env)  # fmt: skip
        console = host.home / "services" / "web" / "libvirt" / "console.log"
        virsh = ["virsh", "-q", "-c", host.daemon.uri]
        starts = {"0xl run": zeroxl("run", "web"), "virsh start": [*virsh, "start", "web"]}
        samples: dict[str, list[float]] = {k: [] for k in starts}
        for round_ in range(ROUNDS + 1):  # the first round warms QEMU's capabilities cache and the page cache
            for key, start in starts.items():
                elapsed = until_first_line(console, start, env)
                if round_:
                    samples[key].append(elapsed)
                run_cmd([*virsh, "destroy", "web"], env=env)
        ratio = statistics.median(a / b for a, b in zip(samples["0xl run"], samples["virsh start"], strict=True))
        report(
            [
                ("libvirt: 0xl run to first console line", f"{statistics.median(samples['0xl run']):.2f} s"),
                ("libvirt: virsh start to first console line", f"{statistics.median(samples['virsh start']):.2f} s"),
                ("libvirt: 0xl run / virsh start (median of rounds)", f"{ratio:.2f}x"),
            ]
        )


if __name__ == "__main__":
    main()
