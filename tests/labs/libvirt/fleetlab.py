"""What the multi-host transcripts and the fleet bench share: the lab's remote hosts (remote.py), each with
a storage pool, the test guest published as a signed feed on 127.0.0.1, and operators' ZEROXL_HOMEs; and a
shell that runs `0xl` against one of those homes and prints the command and what it printed, the long
lab URIs shortened (a wrapper for ssh and a key file in the lab's directory) to
qemu+ssh://USER@127.0.0.1:PORT/session. Root only (the hosts are users made for the run)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import libvirt

from tests.labs.libvirt import lab, services
from tests.labs.libvirt.remote import RemoteHost, remote_hosts
from tests.support.feeds import FeedSite
from tests.support.gpgkeys import make_publisher
from tests.support.http import StaticServer

CONFIG = '[libvirt]\ndomain_type = "qemu"\n'


@dataclass
class Fleet:
    image: lab.GuestImage
    tmp: Path
    hosts: list[RemoteHost]
    site: FeedSite
    url: str  # the guest's feed, version 1.0

    @property
    def fingerprint(self) -> str:
        """Of the feed's publisher's key."""
        return self.site.publisher.fingerprint

    def home(self, name: str, config: str = CONFIG) -> Path:
        """A new operator's ZEROXL_HOME (as 0xl makes one: 0700) with CONFIG as its config.toml."""
        home = self.tmp / name
        home.mkdir(mode=0o700)
        (home / "config.toml").write_text(config)
        return home

    def shorten(self, text: str) -> str:
        for h in self.hosts:
            text = text.replace(h.uri, f"qemu+ssh://{h.user}@127.0.0.1:{h.port}/session")
        return text.replace(str(self.tmp), "/tmp/…")


@contextlib.contextmanager
def fleet(count: int, *, pool: str = "images", prefix: str = "0xl-fleet-demo-") -> Iterator[Fleet]:
    """COUNT remote hosts, each with a storage pool POOL (a directory in its home), and the guest's feed."""
    lab.build()
    with (
        lab.guest_in_use() as image,
        tempfile.TemporaryDirectory(prefix=prefix) as t,
        remote_hosts(count) as hosts,
    ):
        tmp = Path(t)
        publisher = make_publisher(tmp / "gnupg", "Example Publisher", "release@example.org")
        (tmp / "www").mkdir()
        server = StaticServer(tmp / "www")
        try:
            site = FeedSite(tmp / "www", server.url, publisher)
            url = services.publish(site, image)
            for host in hosts:
                with libvirt.open(host.uri) as conn:
                    conn.storagePoolCreateXML(
                        f"<pool type='dir'><name>{pool}</name><target><path>{host.home / pool}</path></target></pool>",
                        libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD,
                    )
            yield Fleet(image, tmp, hosts, site, url)
        finally:
            server.stop()
            subprocess.run(["gpgconf", "--homedir", str(publisher.gnupghome), "--kill", "gpg-agent"], check=False)


class Shell:
    """Runs `0xl ARGS` on HOME and prints `PROMPT0xl ARGS`, what it printed, and a status other than 0."""

    def __init__(self, lab_fleet: Fleet, home: Path, prompt: str = "$ ") -> None:
        self.fleet, self.prompt = lab_fleet, prompt
        self.env = dict(os.environ, ZEROXL_HOME=str(home))

    def __call__(self, *args: str, quiet: bool = False) -> int:
        done = subprocess.run(
            [sys.executable, "-m", "zeroxl", *args], env=self.env, capture_output=True, text=True, check=False
        )
        if not quiet:
            print(f"{self.prompt}0xl {self.fleet.shorten(' '.join(args))}")
            print(self.fleet.shorten(done.stdout + done.stderr), end="")
            if done.returncode:
                print(f"[exit status {done.returncode}]")
        return done.returncode
