"""The README's transcript of per-host policy, placement and `update --all --all-hosts`, real output:
`python -m tests.labs.libvirt.fleet_ops_transcript` (root). As fleet_transcript.py: the lab's two remote
hosts, the test guest published as a signed feed on 127.0.0.1 (1.0, then 1.0 and 2.0), a ZEROXL_HOME."""

from __future__ import annotations

from tests.labs.libvirt import services
from tests.labs.libvirt.fleetlab import CONFIG, Shell, fleet

POLICY = CONFIG + "\n[hosts.kvm1.policy]\nmax_memory = 100\n"


def main() -> None:
    with fleet(2) as lab_fleet:
        home = lab_fleet.home("home")
        zx, hosts, url = Shell(lab_fleet, home), lab_fleet.hosts, lab_fleet.url
        zx("host", "add", "kvm1", hosts[0].uri, "--pool", "images", quiet=True)
        zx("host", "add", "kvm2", hosts[1].uri, "--pool", "images", quiet=True)
        (home / "config.toml").write_text(POLICY)
        print("$ cat $ZEROXL_HOME/config.toml")
        print(POLICY, end="")
        zx("add", "web", url, "--host", "auto", "--trust-key", lab_fleet.fingerprint, "--backend", "libvirt",
           "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
        zx("add", "api", url, "--host", "kvm1", "--backend", "libvirt", "--memory", "64", "--arg", "tag=api",
           "--disk", "storage=32M")  # fmt: skip
        services.publish(lab_fleet.site, lab_fleet.image, "1.0", "2.0")
        hosts[1].kill_daemon()
        zx("update", "--all", "--all-hosts")
        hosts[1].start_daemon()
        zx("update", "--all", "--all-hosts")
        for name, where in (("web", "kvm2"), ("api", "kvm1")):
            zx("destroy", name, "--host", where, quiet=True)


if __name__ == "__main__":
    main()
