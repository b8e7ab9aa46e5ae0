"""`update` on a terminal shows a progress bar per download, named by service and version, as `add` does
(issue 16)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.support.feeds import FeedSite, Impl
from tests.support.updating import publish


def _on_terminal(home: Path, *args: str, timeout: float = 90) -> tuple[int, str]:
    """`0xl ARGS` with stdin and stderr on a pseudo-terminal (an xterm: rich draws bars there)."""
    master, slave = pty.openpty()
    env = dict(os.environ, ZEROXL_HOME=str(home), TERM="xterm", COLUMNS="120")
    p = subprocess.Popen(
        [sys.executable, "-m", "zeroxl", *args], stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=env
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and p.poll() is None:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    rc = p.wait(timeout=10)
    os.close(master)
    return rc, seen.decode(errors="replace")


def test_update_shows_a_bar_per_download_named_by_service(site: FeedSite, zx, zhome: Path) -> None:
    for name, new in (("a", "2.0"), ("b", "3.0")):  # two versions, two archives: two downloads at once
        url = publish(site, name, [Impl("1.0")])
        assert zx("add", name, url, "--trust-key", site.publisher.fingerprint, "--arg", "port=1").rc == 0
        publish(site, name, [Impl("1.0"), Impl(new)])
    rc, screen = _on_terminal(zhome, "update", "a", "b")
    assert rc == 0, screen
    assert "downloading a 2.0" in screen and "downloading b 3.0" in screen, screen
    assert "bytes" in screen, screen  # the size (with the rate and the time left beside it)


def test_services_sharing_a_download_share_its_bar(site: FeedSite, zx, zhome: Path) -> None:
    for name in ("a", "b"):
        url = publish(site, name, [Impl("1.0")])
        assert zx("add", name, url, "--trust-key", site.publisher.fingerprint, "--arg", "port=1").rc == 0
        publish(site, name, [Impl("1.0"), Impl("2.0")])
    rc, screen = _on_terminal(zhome, "update", "a", "b")
    assert rc == 0 and "downloading a, b 2.0" in screen, screen


def test_add_names_the_service_in_its_bar(site: FeedSite, zhome: Path) -> None:
    url = publish(site, "web", [Impl("1.0")])
    rc, screen = _on_terminal(zhome, "add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert rc == 0, screen
    assert "downloading web 1.0" in screen, screen
