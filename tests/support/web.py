"""`0xl serve` as its users start it (a separate process), and a real headless Chromium to look at it.

Chromium is Debian's (`chromium`, driven through Debian's `chromium-driver` by selenium), started with
the flags this machine needs: no sandbox as root, no GPU, and no background traffic to Google's hosts
(the network here is closed: loopback only), in a fresh profile.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import free_port, http_get, wait_for

HOSTILE = "<script>window.pwned=1</script>"
HOSTILE_SUMMARY = "<img src=x onerror=window.pwned=2>"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class Served:
    """A running `0xl serve`; stop() ends it (SIGTERM) and returns its exit status and stderr."""

    def __init__(self, home: Path, *args: str, port: int, scheme: str = "http") -> None:
        self.url = f"{scheme}://127.0.0.1:{port}"  # where the tests reach it, whatever --listen says
        env = dict(os.environ, ZEROXL_HOME=str(home))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zeroxl", "serve", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Return once the server accepts connections."""
        import socket

        port = int(self.url.rsplit(":", 1)[1])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"0xl serve exited with {self.proc.returncode}: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("0xl serve did not answer in time")

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


@contextlib.contextmanager
def serving(home: Path, *args: str, port: int, scheme: str = "http") -> Iterator[Served]:
    """`0xl serve ARGS` (ARGS say where it listens: PORT), ready; it must end cleanly on SIGTERM."""
    s = Served(home, *args, port=port, scheme=scheme)
    try:
        s.wait_ready()
        yield s
    finally:
        rc, err = s.stop()
        assert rc == 0, err


def get(url: str, *, headers: dict[str, str] | None = None, context: Any = None) -> tuple[int, dict[str, str], bytes]:
    """GET URL: status, headers, body (an error status is an answer too)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def chromium(profile: Path, *, width: int = 1400, height: int = 900) -> Any:
    """A headless Chromium driven by selenium through Debian's chromedriver (never one it downloads)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def publish_named(site: FeedSite, file: str, name: str, summary: str, impls: list[Impl]) -> str:
    """A signed feed at FILE.xml whose <name> and <summary> are NAME and SUMMARY (any text)."""
    xml = site.feed_xml(file, impls)
    xml = xml.replace(f"<name>{file}</name>".encode(), f"<name>{escape(name)}</name>".encode())
    xml = xml.replace(
        f"<summary>{file} test service</summary>".encode(), f"<summary>{escape(summary)}</summary>".encode()
    )
    (site.root / f"{file}.xml").write_bytes(site.publisher.sign(xml))
    return site.url(file)


def start_services(site: FeedSite, zx: Any) -> dict[str, int]:
    """Three services: web (1.0, updated to 2.0, with a disk) and evil (whose feed's name is a script and
    summary an image with a handler) running, idle stopped. Returns their ports."""
    ports = {"web": free_port(), "evil": free_port(), "idle": free_port()}
    url = site.publish("web", [Impl("1.0")])
    trust = ("--trust-key", site.publisher.fingerprint)
    assert zx("add", "web", url, *trust, "--arg", f"port={ports['web']}", "--disk", "64M").rc == 0
    evil = publish_named(site, "evil", HOSTILE, HOSTILE_SUMMARY, [Impl("1.0")])
    assert zx("add", "evil", evil, *trust, "--arg", f"port={ports['evil']}").rc == 0
    assert zx("add", "idle", url, *trust, "--arg", f"port={ports['idle']}").rc == 0
    for name in ("web", "evil"):
        assert zx("run", name).rc == 0
    site.publish("web", [Impl("1.0"), Impl("2.0")])
    r = zx("update", "web", "--settle", "0.5")
    assert r.rc == 0, r
    assert wait_for(lambda: http_get(ports["web"]) == "web 2.0\n")
    return ports
