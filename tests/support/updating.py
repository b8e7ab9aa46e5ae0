"""Helpers for the update tests: publishing new versions so that the server sends them, and reading a
service's record and history as 0xl left them."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import free_port, http_get, wait_for

# Short health checks keep the suite fast; the defaults (3 s settle, 30 s timeout) are for hosts.
FAST = ("--settle", "0.3", "--ready-timeout", "10")


def publish(site: FeedSite, name: str, impls: list[Impl], **kw) -> str:
    """Publish like site.publish, with a Last-Modified later than any before: Python's test server
    answers 304 to a feed rewritten within the second of the previous fetch (1-second resolution)."""
    path = site.root / f"{name}.xml"
    before = int(path.stat().st_mtime) if path.exists() else 0
    url = site.publish(name, impls, **kw)
    stamp = max(before + 1, int(time.time()))
    os.utime(path, (stamp, stamp))
    return url


def add_running(zx, site: FeedSite, name: str, impls: list[Impl], *extra: str, at: int | None = None) -> int:
    """Publish NAME with IMPLS (signed at AT), add it as a service NAME on a free port, run it; returns the port."""
    url = publish(site, name, impls, at=at)
    port = free_port()
    r = zx("add", name, url, "--trust-key", site.publisher.fingerprint, "--arg", f"port={port}", *extra)
    assert r.rc == 0, r
    r = zx("run", name)
    assert r.rc == 0, r
    assert wait_for(lambda: http_get(port) is not None), zx("logs", name).out
    return port


def answers(port: int) -> str | None:
    """The version the service on PORT answers with ("2.0"), or None."""
    text = http_get(port)
    return text.split()[1] if text else None


def serves(port: int, version: str, timeout: float = 10) -> bool:
    """True once the service on PORT answers with VERSION: a version just (re)started may need a moment
    to listen when no readiness check (--ready-tcp) made 0xl wait for it."""
    return wait_for(lambda: answers(port) == version, timeout=timeout)


def all_serve(ports: dict[str, int], versions: dict[str, str], timeout: float = 10) -> bool:
    return wait_for(lambda: {n: answers(p) for n, p in ports.items()} == versions, timeout=timeout)


def record(home: Path, name: str) -> dict:
    return json.loads((home / "services" / name / "service.json").read_text())


def history(zx, name: str) -> list[tuple[str, str | None, str | None, str]]:
    """(action, from, to, outcome) of each history entry."""
    r = zx("history", name, "--json")
    assert r.rc == 0, r
    return [
        (e["action"], e["from"] and e["from"]["version"], e["to"] and e["to"]["version"], e["outcome"])
        for e in json.loads(r.out)
    ]
