"""Services when two commands overlap, or 0xl is killed in the middle of one: with real processes, a
feed served on 127.0.0.1, and a real SIGKILL at a named point (tests/support/killing.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.feeds import FeedSite, Impl
from tests.support.http import StaticServer
from tests.support.killing import Stoppable
from tests.support.updating import record
from tests.support.zx import free_port, http_get, wait_for


def test_failed_add_leaves_the_store_entry_a_concurrent_add_recorded(
    site: FeedSite, zx, zhome: Path, server: StaticServer
) -> None:
    url = site.publish("web", [Impl("1.0")])
    fpr = site.publisher.fingerprint
    # A kept 1M disk of an earlier service `a`: adding `a` again with --disk 2M fails after the download.
    assert zx("add", "a", url, "--trust-key", fpr, "--disk", "1M").rc == 0
    assert zx("destroy", "a").rc == 0
    assert zx("gc").rc == 0
    assert not any((zhome / "store").iterdir())

    first = Stoppable(zhome, "add-fetched", "add", "a", url, "--disk", "2M")
    first.wait_stopped()
    port = free_port()
    r = zx("add", "b", url, "--arg", f"port={port}")  # finds the entry `a` downloaded, and records it
    assert r.rc == 0, r
    assert first.resume() == 7, first.output()  # the kept disk has another size

    digest = record(zhome, "b")["current"]["digest"]
    assert (zhome / "store" / digest).is_dir()
    server.stop()  # b must run from the store, not from a download
    r = zx("run", "b")
    assert r.rc == 0, r
    assert wait_for(lambda: http_get(port) == "web 1.0\n"), zx("logs", "b").out


def test_failed_add_removes_what_it_downloaded(site: FeedSite, zx, zhome: Path) -> None:
    url = site.publish("web", [Impl("1.0")])
    assert zx("add", "a", url, "--trust-key", site.publisher.fingerprint, "--disk", "1M").rc == 0
    assert zx("destroy", "a").rc == 0
    assert zx("gc").rc == 0

    r = zx("add", "a", url, "--disk", "2M")
    assert r.rc == 7, r
    assert not any((zhome / "store").iterdir())
