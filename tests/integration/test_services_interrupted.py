"""Services when two commands overlap, or 0xl is killed in the middle of one: with real processes, a
feed served on 127.0.0.1, and a real SIGKILL at a named point (tests/support/killing.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.http import StaticServer
from tests.support.killing import Stoppable
from tests.support.updating import FAST, add_running, answers, history, publish, record, serves
from tests.support.zx import free_port, http_get, wait_for
from zeroxl.testhooks import Point


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


def test_destroy_killed_leaves_nothing_a_new_service_of_that_name_inherits(site: FeedSite, zx, zhome: Path) -> None:
    port = add_running(zx, site, "web", [Impl("1.0")], "--disk", "1M")
    publish(site, "web", [Impl("1.0"), Impl("2.0")])
    assert zx("update", "web", *FAST).rc == 0

    killed = Stoppable(zhome, "destroy-buried", "destroy", "web")
    killed.wait_stopped()
    killed.kill()
    assert json.loads(zx("list", "--json").out) == []
    r = zx("destroy", "web")
    assert r.rc == 3, r  # it is gone; only its tombstone is left

    # A new service of that name, from another feed: its own history, nothing to roll back to.
    url = publish(site, "other", [Impl("7.0")])
    r = zx("add", "web", url, "--arg", f"port={port}", "--disk", "1M")
    assert r.rc == 0, r
    assert "reusing the kept disk" in r.err  # disks outlive their service, as with a destroy that finished
    assert history(zx, "web") == [("add", None, "7.0", "ok")]
    assert sorted(p.name for p in (zhome / "services").iterdir()) == ["web"]  # the tombstone was cleared
    assert zx("rollback", "web", *FAST).rc == 3


def test_add_does_not_inherit_the_history_of_a_directory_without_a_record(site: FeedSite, zx, zhome: Path) -> None:
    port = add_running(zx, site, "web", [Impl("1.0")], "--disk", "1M")
    publish(site, "web", [Impl("1.0"), Impl("2.0")])
    assert zx("update", "web", *FAST).rc == 0
    assert zx("stop", "web").rc == 0
    # What a destroy of an earlier 0xl left when killed after removing the record: its history, its logs.
    (zhome / "services" / "web" / "service.json").unlink()
    disk = next((zhome / "disks").rglob("*.img"))

    url = publish(site, "other", [Impl("7.0")])
    r = zx("add", "web", url, "--arg", f"port={port}", "--disk", "1M")
    assert r.rc == 0, r
    assert history(zx, "web") == [("add", None, "7.0", "ok")]
    assert disk.is_file()
    assert zx("rollback", "web", *FAST).rc == 3


def _run_killed_after_start(site: FeedSite, zx, zhome: Path) -> int:
    """Add web 1.0 and kill `0xl run web` after it started 1.0 but before it recorded that; returns the port."""
    url = publish(site, "web", [Impl("1.0")])
    port = free_port()
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--arg", f"port={port}").rc == 0
    killed = Stoppable(zhome, "run-started", "run", "web")
    killed.wait_stopped()
    killed.kill()
    assert serves(port, "1.0"), zx("logs", "web").out
    return port


def test_run_again_completes_a_killed_run(site: FeedSite, zx, zhome: Path) -> None:
    port = _run_killed_after_start(site, zx, zhome)
    assert record(zhome, "web")["desired"] == "stopped"

    r = zx("run", "web")
    assert r.rc == 0, r
    assert record(zhome, "web")["desired"] == "running"
    assert answers(port) == "1.0"


def test_update_after_a_killed_run_replaces_what_runs(site: FeedSite, zx, zhome: Path) -> None:
    port = _run_killed_after_start(site, zx, zhome)
    publish(site, "web", [Impl("1.0"), Impl("2.0")])

    r = zx("update", "web", *FAST)
    assert r.rc == 0, r
    assert serves(port, "2.0"), zx("logs", "web").out
    status = json.loads(zx("status", "web", "--json").out)
    assert (status["state"], status["version"]) == ("running", "2.0")
    assert record(zhome, "web")["desired"] == "running"


def test_add_killed_after_recording_trust_leaves_that_trust_and_no_service(
    site: FeedSite, zx, zhome: Path, server: StaticServer
) -> None:
    url = site.publish("web", [Impl("1.0")])
    fpr = site.publisher.fingerprint
    killed = Stoppable(zhome, "add-trusted", "add", "web", url, "--trust-key", fpr)
    killed.wait_stopped()
    killed.kill()

    assert json.loads(zx("list", "--json").out) == []
    assert json.loads(zx("trust", "list", "--json").out) == [{"fingerprint": fpr, "domains": [server.domain]}]
    # Adding again needs no --trust-key, and the service it makes can be updated.
    assert zx("add", "web", url).rc == 0
    publish(site, "web", [Impl("1.0"), Impl("2.0")])
    r = zx("update", "web", *FAST)
    assert r.rc == 0, r
    assert record(zhome, "web")["current"]["version"] == "2.0"


# -- an add killed after it made disks, before it recorded the service (issue 10, point 11) ------------


def _add_killed(site: FeedSite, zhome: Path, point: Point, *extra: str) -> str:
    """Publish web, and kill `0xl add web … --disk 1M` at POINT with SIGKILL; returns the feed URL."""
    url = publish(site, "web", [Impl("1.0")])
    killed = Stoppable(zhome, point, "add", "web", url, "--trust-key", site.publisher.fingerprint, *extra)
    killed.wait_stopped()
    killed.kill()
    return url


def _disks(zhome: Path) -> list[str]:
    return sorted(str(p.relative_to(zhome / "disks")) for p in (zhome / "disks").rglob("*.img"))


@pytest.mark.parametrize("point", ["add-disks-made", "add-trusted"])
def test_doctor_undoes_an_add_killed_after_it_made_its_disk(site: FeedSite, zx, zhome: Path, point: Point) -> None:
    _add_killed(site, zhome, point, "--disk", "1M")
    assert _disks(zhome) == ["web/data.img"] and any((zhome / "store").iterdir())
    assert json.loads(zx("list", "--json").out) == []

    r = zx("doctor")
    assert r.rc == 0, r
    assert f"undid an add of web that was interrupted: deleted disk data ({zhome}/disks/web/data.img)" in r.out, r
    assert "removed 1 implementation(s) it had downloaded" in r.out, r
    assert _disks(zhome) == [] and not any((zhome / "store").iterdir())
    assert not (zhome / "services" / "web").exists()
    assert zx("doctor").out == "nothing to do: no change was left half done\n"


def test_add_after_an_add_killed_after_it_made_its_disk_starts_afresh(site: FeedSite, zx, zhome: Path) -> None:
    url = _add_killed(site, zhome, "add-disks-made", "--disk", "1M")
    # Another size than the killed add asked for: its disk is no kept disk of an earlier service.
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--disk", "2M")
    assert r.rc == 0, r
    assert "undid an add of web that was interrupted: deleted disk data" in r.err, r
    assert "reusing the kept disk" not in r.err, r
    assert (zhome / "disks" / "web" / "data.img").stat().st_size == 2 << 20


def test_undoing_a_killed_add_keeps_the_disk_it_reused(site: FeedSite, zx, zhome: Path) -> None:
    # The disk of an earlier, destroyed service web: the killed add found it and would have used it.
    url = publish(site, "web", [Impl("1.0")])
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--disk", "1M").rc == 0
    assert zx("destroy", "web").rc == 0
    (zhome / "disks" / "web" / "data.img").write_bytes(b"precious")
    os.truncate(zhome / "disks" / "web" / "data.img", 1 << 20)
    _add_killed(site, zhome, "add-disks-made", "--disk", "1M")

    r = zx("doctor")
    assert r.rc == 0, r
    assert "undid an add of web that was interrupted" in r.out and "deleted disk" not in r.out, r
    assert (zhome / "disks" / "web" / "data.img").read_bytes()[:8] == b"precious"
