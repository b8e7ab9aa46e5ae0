"""The README's transcript of per-host policy, placement and `update --all --all-hosts`, real output:
`python -m tests.labs.libvirt.fleet_ops_transcript` (root). As fleet_transcript.py: the lab's two remote
hosts, the test guest published as a signed feed on 127.0.0.1 (1.0, then 1.0 and 2.0), a ZEROXL_HOME."""

from __future__ import annotations

import os
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

CONFIG = '[libvirt]\ndomain_type = "qemu"\n\n[hosts.kvm1.policy]\nmax_memory = 100\n'


def main() -> None:
    lab.build()
    with (
        lab.guest_in_use() as image,
        tempfile.TemporaryDirectory(prefix="0xl-fleet-demo-") as t,
        remote_hosts(2) as hosts,
    ):
        tmp = Path(t)
        publisher = make_publisher(tmp / "gnupg", "Example Publisher", "release@example.org")
        (tmp / "www").mkdir()
        server = StaticServer(tmp / "www")
        try:
            site = FeedSite(tmp / "www", server.url, publisher)
            url = services.publish(site, image)
            home = tmp / "home"
            home.mkdir(mode=0o700)
            (home / "config.toml").write_text('[libvirt]\ndomain_type = "qemu"\n')
            for host in hosts:
                libvirt.open(host.uri).storagePoolCreateXML(
                    f"<pool type='dir'><name>images</name><target><path>{host.home / 'images'}</path></target></pool>",
                    libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD,
                )
            env = dict(os.environ, ZEROXL_HOME=str(home))
            short = {h.uri: f"qemu+ssh://{h.user}@127.0.0.1:{h.port}/session" for h in hosts}

            def zx(*args: str, quiet: bool = False) -> None:
                shown = " ".join(short.get(a, a) for a in args)
                done = subprocess.run(
                    [sys.executable, "-m", "zeroxl", *args], env=env, capture_output=True, text=True, check=False
                )
                if quiet:
                    return
                print(f"$ 0xl {shown}")
                text = done.stdout + done.stderr
                for uri, s in short.items():
                    text = text.replace(uri, s)
                print(text.replace(str(tmp), "/tmp/…"), end="")
                if done.returncode:
                    print(f"[exit status {done.returncode}]")

            zx("host", "add", "kvm1", hosts[0].uri, "--pool", "images", quiet=True)
            zx("host", "add", "kvm2", hosts[1].uri, "--pool", "images", quiet=True)
            (home / "config.toml").write_text(CONFIG)
            print("$ cat $ZEROXL_HOME/config.toml")
            print(CONFIG, end="")
            zx("add", "web", url, "--host", "auto", "--trust-key", publisher.fingerprint, "--backend", "libvirt",
               "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
            zx("add", "api", url, "--host", "kvm1", "--backend", "libvirt", "--memory", "64", "--arg", "tag=api",
               "--disk", "storage=32M")  # fmt: skip
            services.publish(site, image, "1.0", "2.0")
            hosts[1].kill_daemon()
            zx("update", "--all", "--all-hosts")
            hosts[1].start_daemon()
            zx("update", "--all", "--all-hosts")
            for name, where in (("web", "kvm2"), ("api", "kvm1")):
                zx("destroy", name, "--host", where, quiet=True)
        finally:
            server.stop()
            subprocess.run(["gpgconf", "--homedir", str(publisher.gnupghome), "--kill", "gpg-agent"], check=False)


if __name__ == "__main__":
    main()
