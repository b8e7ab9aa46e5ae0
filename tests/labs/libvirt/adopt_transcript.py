"""docs/fleet.md's "Reconciling with the hosts" transcript, real output:
`python -m tests.labs.libvirt.adopt_transcript` (root).

Two operators' machines (two ZEROXL_HOMEs, `alice` and `bob`) and one of the lab's remote hosts
(fleetlab.py); the test guest published as a signed feed on 127.0.0.1. Prints each command, whose machine
ran it, and what it printed; URIs are shortened as in fleet_transcript.py."""

from __future__ import annotations

import shutil

import libvirt

from tests.labs.libvirt.fleetlab import Shell, fleet


def main() -> None:
    with fleet(1, prefix="0xl-adopt-demo-") as lab_fleet:
        host, url = lab_fleet.hosts[0], lab_fleet.url
        config = '[libvirt]\ndomain_type = "qemu"\nstop_timeout = 2\n'
        homes = {who: lab_fleet.home(who, config) for who in ("alice", "bob")}
        alice, bob = (Shell(lab_fleet, homes[who], prompt=f"{who}$ ") for who in ("alice", "bob"))
        try:
            for zx in (alice, bob):
                zx("host", "add", "kvm1", host.uri, "--pool", "images")
            alice("add", "web", url, "--host", "kvm1", "--trust-key", lab_fleet.fingerprint,
                  "--backend", "libvirt", "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
            alice("run", "web", "--host", "kvm1")
            bob("list", "--all-hosts")
            bob("stop", "web", "--host", "kvm1")
            bob("host", "adopt", "web", "--host", "kvm1")
            bob("host", "adopt", "web", "--host", "kvm1", "--trust-key", lab_fleet.fingerprint)
            bob("list", "--host", "kvm1")
            alice("stop", "web", "--host", "kvm1")
            print("alice$ rm -r $ZEROXL_HOME/hosts/kvm1   # alice's records of kvm1 are lost")
            shutil.rmtree(homes["alice"] / "hosts" / "kvm1")
            alice("host", "adopt", "--all", "--host", "kvm1")
            alice("stop", "web", "--host", "kvm1")
            alice("destroy", "web", "--host", "kvm1")
            bob("list", "--host", "kvm1")
            bob("destroy", "web", "--host", "kvm1")
        finally:
            with libvirt.open(host.uri) as conn:
                for dom in conn.listAllDomains():
                    if dom.isActive():
                        dom.destroy()
                    dom.undefine()


if __name__ == "__main__":
    main()
