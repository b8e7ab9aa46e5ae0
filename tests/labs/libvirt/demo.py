"""A libvirt host to show 0xl on, outside pytest: the lab's private libvirtd, the test guest published as a
signed Virtio-x86_64 feed served on 127.0.0.1, and a ZEROXL_HOME configured for both. The README's
transcript (`python -m tests.labs.libvirt.transcript`) and the bench (bench/bench_libvirt.py) use it."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.labs.libvirt import lab, services
from tests.support.feeds import FeedSite
from tests.support.gpgkeys import make_publisher
from tests.support.http import StaticServer


@dataclass(frozen=True)
class DemoHost:
    daemon: lab.SystemDaemon
    home: Path
    url: str
    fingerprint: str
    site: FeedSite


@contextlib.contextmanager
def demo_host(home: Path | None = None, *, network: bool = False) -> Iterator[DemoHost]:
    """Everything set up; torn down afterwards (the daemon, its guests, the server, the directories)."""
    lab.build()
    with lab.guest_in_use() as image, tempfile.TemporaryDirectory(prefix="0xl-libvirt-demo-") as t:
        tmp = Path(t)
        publisher = make_publisher(tmp / "gnupg", "Example Publisher", "release@example.org")
        (tmp / "www").mkdir()
        server = StaticServer(tmp / "www")
        daemon = lab.start_system_daemon(tmp / "libvirtd")
        try:
            site = FeedSite(tmp / "www", server.url, publisher)
            url = services.publish(site, image, network=network)
            zhome = home or tmp / "home"
            services.configure(zhome, daemon.uri)
            yield DemoHost(daemon, zhome, url, publisher.fingerprint, site)
        finally:
            daemon.stop()
            server.stop()
            subprocess.run(["gpgconf", "--homedir", str(publisher.gnupghome), "--kill", "gpg-agent"], check=False)
