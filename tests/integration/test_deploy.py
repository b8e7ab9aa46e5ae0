"""The core promise, end to end with real gpg, a feed served on 127.0.0.1 and real processes:
add a signed feed, run it, see it answer, stop it, destroy it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import free_port, http_get, snapshot, wait_for


def test_add_run_answer_stop_destroy(site: FeedSite, zx, zhome: Path) -> None:
    url = site.publish("web", [Impl("1.0")])
    port = free_port()
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--arg", f"port={port}")
    assert r.rc == 0, r
    assert "added web" in r.out and "version 1.0" in r.out

    listed = json.loads(zx("list", "--json").out)
    assert [(s["name"], s["state"], s["version"], s["backend"], s["feed"]) for s in listed] == [
        ("web", "stopped", "1.0", "unix", url)
    ]

    r = zx("run", "web")
    assert r.rc == 0, r
    assert wait_for(lambda: http_get(port) == "web 1.0\n"), zx("logs", "web").out

    status = json.loads(zx("status", "web", "--json").out)
    assert status["state"] == "running" and status["pid"] and status["restarts"] == 0
    assert "listening on" in zx("logs", "web").out
    assert zx("run", "web").out.strip() == "web is already running (version 1.0)"

    r = zx("stop", "web")
    assert r.rc == 0 and "stopped" in r.out, r
    assert http_get(port) is None
    assert json.loads(zx("status", "web", "--json").out)["state"] == "stopped"

    r = zx("destroy", "web")
    assert r.rc == 0, r
    assert json.loads(zx("list", "--json").out) == []
    assert not (zhome / "services" / "web").exists()


def test_trust_key_is_recorded_for_the_feed_domain_only(site: FeedSite, zx, server) -> None:
    url = site.publish("web", [Impl("1.0")])
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint).rc == 0
    trusted = json.loads(zx("trust", "list", "--json").out)
    assert trusted == [{"fingerprint": site.publisher.fingerprint, "domains": [server.domain]}]
    # A second service from the same site needs no --trust-key any more.
    assert zx("add", "web2", url).rc == 0


def test_disk_is_a_sparse_file_the_program_can_find(site: FeedSite, zx, zhome: Path) -> None:
    url = site.publish("web", [Impl("1.0")])
    port = free_port()
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--arg", f"port={port}", "--disk", "256M")
    assert r.rc == 0, r
    disk = zhome / "disks" / "web" / "data.img"
    assert disk.stat().st_size == 256 << 20
    assert disk.stat().st_blocks == 0  # sparse
    assert zx("run", "web").rc == 0
    assert wait_for(lambda: "listening" in zx("logs", "web").out)
    link = zhome / "services" / "web" / "data" / "data"
    if os.geteuid() == 0:
        # Its own user cannot reach the home: its supervisor opened the disk for it (docs/unix-backend.md).
        fd = re.search(r"env ZEROXL_DISK_DATA=/proc/self/fd/([0-9]+)\n", zx("logs", "web").out)
        assert fd, zx("logs", "web").out
        assert os.readlink(link) == f"/proc/self/fd/{fd[1]}"
        pid = json.loads(zx("status", "web", "--json").out)["pid"]
        assert Path(f"/proc/{pid}/fd/{fd[1]}").resolve() == disk
    else:
        assert f"env ZEROXL_DISK_DATA={disk}" in zx("logs", "web").out
        assert link.resolve() == disk

    r = zx("destroy", "web")
    assert r.rc == 0 and "kept disk data" in r.out, r
    assert disk.exists()
    disks = json.loads(zx("disk", "list", "--json").out)
    assert [(d["service"], d["name"], d["in_use"]) for d in disks] == [("web", "data", False)]

    # Re-adding the service reuses its kept disk; a different size is refused rather than lost.
    r = zx("add", "web", url, "--arg", f"port={port}", "--disk", "128M")
    assert r.rc == 7 and "kept disk" in r.err, r
    assert zx("add", "web", url, "--arg", f"port={port}", "--disk", "256M").rc == 0
    assert zx("destroy", "web", "--delete-disks").rc == 0
    assert not disk.exists()
    assert json.loads(zx("disk", "list", "--json").out) == []


def test_kept_disk_can_be_deleted_later(site: FeedSite, zx, zhome: Path) -> None:
    url = site.publish("web", [Impl("1.0")])
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--disk", "1M").rc == 0
    r = zx("disk", "delete", "web", "data")
    assert r.rc == 7, r  # still in use
    assert zx("destroy", "web").rc == 0
    before = snapshot(zhome)
    assert zx("disk", "delete", "web", "nosuch").rc == 3
    assert snapshot(zhome) == before
    assert zx("disk", "delete", "web", "data").rc == 0
    assert not (zhome / "disks" / "web" / "data.img").exists()


def test_destroy_delete_disks_refuses_a_disk_it_cannot_reach_before_stopping_anything(
    site: FeedSite, zx, zhome: Path
) -> None:
    port = free_port()
    url = site.publish("web", [Impl("1.0")])
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--arg", f"port={port}").rc == 0
    # A record naming a logical volume while config.toml no longer names a volume group: the state an
    # operator reaches by removing [disks] volume_group (LVM itself runs only in the Xen lab).
    path = zhome / "services" / "web" / "service.json"
    rec = json.loads(path.read_text())
    rec["disks"] = [{"name": "data", "kind": "lvm", "location": "vg0/0xl-web-data", "size": 1 << 20}]
    path.write_text(json.dumps(rec))
    assert zx("run", "web").rc == 0
    before = snapshot(zhome / "services")

    r = zx("destroy", "web", "--delete-disks")

    assert r.rc == 2, r
    assert "cannot delete disk data of web (lvm, vg0/0xl-web-data): config.toml configures no volume" in r.err
    assert "without --delete-disks" in r.err
    assert http_get(port) == "web 1.0\n"  # still running
    assert snapshot(zhome / "services") == before
    assert zx("destroy", "web").rc == 0  # kept, as the hint says


def test_feed_from_a_local_path_is_verified_and_trusted_for_local_files(site: FeedSite, zx, tmp_path: Path) -> None:
    url = site.publish("web", [Impl("1.0")])
    local = tmp_path / "copy" / "web.xml"
    local.parent.mkdir()
    local.write_bytes((site.root / "web.xml").read_bytes())
    site.publisher.publish_key(local.parent)
    r = zx("add", "web", str(local))
    assert r.rc == 4 and "0xl trust add" in r.err and "--domain file://" in r.err, r
    assert zx("add", "web", str(local), "--trust-key", site.publisher.fingerprint).rc == 0
    assert json.loads(zx("trust", "list", "--json").out)[0]["domains"] == ["file://"]
    # The same bytes edited on disk are refused like a tampered download.
    local.write_bytes(local.read_bytes().replace(b"web test service", b"web evil service"))
    r = zx("add", "web2", str(local))
    assert r.rc == 4 and "modified after signing" in r.err, r
    assert url  # the archive itself still came over HTTP from the href in the signed feed


def test_logs_follow_prints_new_lines_as_they_come(site: FeedSite, zx, zhome: Path) -> None:
    files = {"bin/web": (b"#!/bin/sh\ni=0\nwhile :; do echo tick $i; i=$((i+1)); sleep 0.2; done\n", 0o755)}
    url = site.publish("web", [Impl("1.0", files=files)])
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint).rc == 0
    assert zx("run", "web").rc == 0
    env = dict(os.environ, ZEROXL_HOME=str(zhome))
    p = subprocess.Popen(
        [sys.executable, "-m", "zeroxl", "logs", "web", "-f", "-n", "0"], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert p.stdout is not None
        lines = [p.stdout.readline() for _ in range(3)]
        numbers = [int(line.split()[1]) for line in lines if line.startswith("tick")]
        assert len(numbers) >= 2 and numbers == sorted(numbers), lines
    finally:
        p.kill()
        p.wait()
