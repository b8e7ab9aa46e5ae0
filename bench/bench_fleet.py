"""`0xl list --all-hosts --json` over 3 remote hosts against the same over 1, interleaved (one of each per
round). The hosts are the libvirt lab's (tests/labs/libvirt/remote.py: each a user with its own
qemu:///session libvirtd behind its own sshd, reached over qemu+ssh; root), each with two services defined.
The hosts are asked in parallel: the ratio is what a host more costs when it costs nothing in series."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bench.common import installed_env, interleaved, ms, ratio, report, run_cmd, zeroxl

ROUNDS = 9
POOL = "images"


def main() -> None:
    if os.geteuid() != 0:
        print("bench_fleet: skipped (the libvirt lab's remote hosts need root)")
        return
    from tests.labs.libvirt.fleetlab import fleet
    from zeroxl.state.hosts import Hosts

    with fleet(3, pool=POOL, prefix="0xl-bench-fleet-") as lab_fleet:
        url, tmp = lab_fleet.url, lab_fleet.tmp
        three, one = lab_fleet.home("three", '[libvirt]\ndomain_type = "qemu"\nstop_timeout = 2\n'), tmp / "one"
        env = installed_env(ZEROXL_HOME=str(three))
        for number, host in enumerate(lab_fleet.hosts, 1):
            run_cmd(zeroxl("host", "add", f"h{number}", host.uri, "--pool", POOL), env=env)
            for name in ("web", "db"):
                run_cmd(zeroxl("add", name, url, "--host", f"h{number}", "--trust-key", lab_fleet.fingerprint,
                               "--backend", "libvirt", "--arg", f"tag={name}", "--disk", "storage=32M"), env=env)  # fmt: skip
        # The same home with h1 alone: h2 and h3 forgotten (their domains stay; this home does not ask).
        shutil.copytree(three, one, symlinks=True)
        for name in ("h2", "h3"):
            shutil.rmtree(one / "hosts" / name)
            Hosts(one).remove(name)

        def lister(home: Path) -> object:
            cmd = zeroxl("list", "--all-hosts", "--json")
            e = installed_env(ZEROXL_HOME=str(home))
            return lambda: subprocess.run(cmd, env=e, check=True, stdout=subprocess.DEVNULL)

        samples = interleaved({"3 hosts": lister(three), "1 host": lister(one)}, rounds=ROUNDS)  # type: ignore[dict-item]
        report(
            [
                ("fleet: 0xl list --all-hosts --json, 1 host, 2 services", ms(samples["1 host"])),
                ("fleet: the same, 3 hosts, 2 services each", ms(samples["3 hosts"])),
                ("fleet: 3 hosts / 1 host (median of rounds)", f"{ratio(samples, '3 hosts', '1 host'):.2f}x"),
                ("fleet: slowest round, 3 hosts", f"{max(samples['3 hosts']) * 1000:.0f} ms"),
            ]
        )


if __name__ == "__main__":
    main()
