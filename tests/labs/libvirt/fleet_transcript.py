"""The README's "Many hosts" transcript, real output: `python -m tests.labs.libvirt.fleet_transcript` (root).

The lab's two remote hosts (remote.py), the test guest published as a signed feed on 127.0.0.1, and a
ZEROXL_HOME (fleetlab.py); prints each command and what it printed, the lab's long URIs shortened."""

from __future__ import annotations

from tests.labs.libvirt.fleetlab import Shell, fleet


def main() -> None:
    with fleet(2) as lab_fleet:
        zx, hosts, url = Shell(lab_fleet, lab_fleet.home("home")), lab_fleet.hosts, lab_fleet.url
        zx("host", "add", "kvm1", hosts[0].uri, "--pool", "images")
        zx("host", "add", "kvm2", hosts[1].uri, "--pool", "images")
        zx("add", "web", url, "--host", "kvm1", "--trust-key", lab_fleet.fingerprint, "--backend", "libvirt",
           "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
        zx("add", "api", url, "--host", "kvm2", "--backend", "libvirt", "--arg", "tag=api", "--disk", "storage=32M")
        zx("run", "web", "--host", "kvm1")
        zx("host", "list")
        hosts[1].kill_daemon()
        zx("list", "--all-hosts")
        hosts[1].start_daemon()
        zx("stop", "web", "--host", "kvm1")
        for name, where in (("web", "kvm1"), ("api", "kvm2")):
            zx("destroy", name, "--host", where, quiet=True)


if __name__ == "__main__":
    main()
