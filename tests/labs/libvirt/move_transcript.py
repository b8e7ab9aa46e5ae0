"""docs/fleet.md's "Moving a service" transcript, real output: `python -m tests.labs.libvirt.move_transcript`
(root). The lab's two remote hosts (fleetlab.py): a service moved from kvm1 to kvm2 with its
data, its console on kvm2 showing what it wrote on kvm1's disk."""

from __future__ import annotations

import time

from tests.labs.libvirt.fleetlab import Shell, fleet


def main() -> None:
    with fleet(2) as lab_fleet:
        zx, hosts = Shell(lab_fleet, lab_fleet.home("home")), lab_fleet.hosts
        zx("host", "add", "kvm1", hosts[0].uri, "--pool", "images")
        zx("host", "add", "kvm2", hosts[1].uri, "--pool", "images")
        zx("add", "web", lab_fleet.url, "--host", "kvm1", "--trust-key", lab_fleet.fingerprint,
           "--backend", "libvirt", "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
        zx("run", "web", "--host", "kvm1")
        time.sleep(30)  # the guest boots (QEMU's software CPU) and marks its disk
        zx("move", "web", "--host", "kvm1", "--to", "kvm2", "--with-data")
        time.sleep(30)
        zx("logs", "web", "--host", "kvm2")
        zx("list", "--all-hosts")
        zx("destroy", "web", "--host", "kvm2", "--delete-disks")
        zx("disk", "delete", "web", "storage", "--host", "kvm1")


if __name__ == "__main__":
    main()
