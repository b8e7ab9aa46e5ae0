"""docs/fleet.md's "Reconciling with the hosts" transcript, real output:
`python -m tests.labs.libvirt.adopt_transcript` (root).

Two operators' machines (two ZEROXL_HOMEs, `alice` and `bob`) and one of the lab's remote hosts
(remote.py); the test guest published as a signed feed on 127.0.0.1. Prints each command, whose machine
ran it, and what it printed; URIs are shortened as in fleet_transcript.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import libvirt

from tests.labs.libvirt import lab, services
from tests.labs.libvirt.remote import remote_hosts
from tests.support.feeds import FeedSite
from tests.support.gpgkeys import make_publisher
from tests.support.http import StaticServer


def main() -> None:
    lab.build()
    with (
        lab.guest_in_use() as image,
        tempfile.TemporaryDirectory(prefix="0xl-adopt-demo-") as t,
        remote_hosts(1) as hosts,
    ):
        tmp = Path(t)
        host = hosts[0]
        publisher = make_publisher(tmp / "gnupg", "Example Publisher", "release@example.org")
        (tmp / "www").mkdir()
        server = StaticServer(tmp / "www")
        conn = libvirt.open(host.uri)
        try:
            url = services.publish(FeedSite(tmp / "www", server.url, publisher), image)
            homes = {}
            for who in ("alice", "bob"):
                homes[who] = tmp / who
                homes[who].mkdir(mode=0o700)
                (homes[who] / "config.toml").write_text('[libvirt]\ndomain_type = "qemu"\nstop_timeout = 2\n')
            conn.storagePoolCreateXML(
                f"<pool type='dir'><name>images</name><target><path>{host.home / 'images'}</path></target></pool>",
                libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD,
            )
            short = f"qemu+ssh://{host.user}@127.0.0.1:{host.port}/session"

            def zx(who: str, *args: str, quiet: bool = False) -> None:
                env = dict(os.environ, ZEROXL_HOME=str(homes[who]))
                done = subprocess.run(
                    [sys.executable, "-m", "zeroxl", *args], env=env, capture_output=True, text=True, check=False
                )
                if quiet:
                    return
                print(f"{who}$ 0xl {' '.join(short if a == host.uri else a for a in args)}")
                print((done.stdout + done.stderr).replace(host.uri, short).replace(str(tmp), "/tmp/…"), end="")
                if done.returncode:
                    print(f"(exit {done.returncode})")

            for who in homes:
                zx(who, "host", "add", "kvm1", host.uri, "--pool", "images")
            zx("alice", "add", "web", url, "--host", "kvm1", "--trust-key", publisher.fingerprint,
               "--backend", "libvirt", "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
            zx("alice", "run", "web", "--host", "kvm1")
            zx("bob", "list", "--all-hosts")
            zx("bob", "stop", "web", "--host", "kvm1")
            zx("bob", "host", "adopt", "web", "--host", "kvm1")
            zx("bob", "host", "adopt", "web", "--host", "kvm1", "--trust-key", publisher.fingerprint)
            zx("bob", "list", "--host", "kvm1")
            zx("alice", "stop", "web", "--host", "kvm1")
            print("alice$ rm -r $ZEROXL_HOME/hosts/kvm1   # alice's records of kvm1 are lost")
            shutil.rmtree(homes["alice"] / "hosts" / "kvm1")
            zx("alice", "host", "adopt", "--all", "--host", "kvm1")
            zx("alice", "stop", "web", "--host", "kvm1")
            zx("alice", "destroy", "web", "--host", "kvm1")
            zx("bob", "list", "--host", "kvm1")
            zx("bob", "destroy", "web", "--host", "kvm1")
        finally:
            for dom in conn.listAllDomains():
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            conn.close()
            server.stop()
            subprocess.run(["gpgconf", "--homedir", str(publisher.gnupghome), "--kill", "gpg-agent"], check=False)


if __name__ == "__main__":
    main()
