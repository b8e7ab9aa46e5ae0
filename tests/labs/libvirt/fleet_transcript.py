"""The README's "Many hosts" transcript, real output: `python -m tests.labs.libvirt.fleet_transcript` (root).

The lab's two remote hosts (remote.py), the test guest published as a signed feed on 127.0.0.1, and a
ZEROXL_HOME; prints each command and what it printed. URIs are long (a wrapper for ssh and a key file in
the lab's directory): the transcript shortens them to qemu+ssh://USER@127.0.0.1:PORT/session."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import libvirt

from tests.labs.libvirt import lab, services
from tests.labs.libvirt.remote import RemoteHost, remote_hosts
from tests.support.feeds import FeedSite
from tests.support.gpgkeys import make_publisher
from tests.support.http import StaticServer


@dataclass
class Session:
    zx: Callable[..., None]  # runs `0xl ARGS` and prints it with what it printed
    hosts: list[RemoteHost]
    url: str  # the guest's feed
    fingerprint: str  # of its publisher's key
    env: dict[str, str]


@contextlib.contextmanager
def session() -> Iterator[Session]:
    """The lab's two remote hosts, each with a pool `images`, the guest's feed, and a ZEROXL_HOME."""
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
            url = services.publish(FeedSite(tmp / "www", server.url, publisher), image)
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

            def zx(*args: str) -> None:
                shown = " ".join(short.get(a, a) for a in args)
                print(f"$ 0xl {shown}")
                done = subprocess.run(
                    [sys.executable, "-m", "zeroxl", *args], env=env, capture_output=True, text=True, check=False
                )
                text = done.stdout + done.stderr
                for uri, s in short.items():
                    text = text.replace(uri, s)
                print(re.sub(str(tmp), "/tmp/…", text), end="")

            yield Session(zx, hosts, url, publisher.fingerprint, env)
        finally:
            server.stop()
            subprocess.run(["gpgconf", "--homedir", str(publisher.gnupghome), "--kill", "gpg-agent"], check=False)


def main() -> None:
    with session() as lab_session:
        zx, hosts, url, env = lab_session.zx, lab_session.hosts, lab_session.url, lab_session.env
        zx("host", "add", "kvm1", hosts[0].uri, "--pool", "images")
        zx("host", "add", "kvm2", hosts[1].uri, "--pool", "images")
        zx("add", "web", url, "--host", "kvm1", "--trust-key", lab_session.fingerprint, "--backend", "libvirt",
           "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
        zx("add", "api", url, "--host", "kvm2", "--backend", "libvirt", "--arg", "tag=api", "--disk", "storage=32M")
        zx("run", "web", "--host", "kvm1")
        zx("host", "list")
        hosts[1].kill_daemon()
        zx("list", "--all-hosts")
        hosts[1].start_daemon()
        zx("stop", "web", "--host", "kvm1")
        for name, where in (("web", "kvm1"), ("api", "kvm2")):
            subprocess.run(
                [sys.executable, "-m", "zeroxl", "destroy", name, "--host", where],
                env=env,
                capture_output=True,
                check=False,
            )


if __name__ == "__main__":
    main()
