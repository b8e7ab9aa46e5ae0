"""Updates that protect a running service, end to end: real gpg, feeds served on 127.0.0.1, real
processes. A new version replaces the old one only if it proves healthy; otherwise 0xl goes back on its
own, says so and exits non-zero. Refused feeds, rollback, channels, history and the store's upkeep."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl, web_files
from tests.support.http import StaticServer
from tests.support.updating import FAST, add_running, all_serve, answers, history, publish, record, serves
from tests.support.zx import free_port, snapshot, wait_for


def status(zx, name: str) -> dict:
    r = zx("status", name, "--json")
    d = json.loads(r.out)
    assert r.rc == (0 if d["state"] == "running" else 12), r
    return d


def test_update_rollback_and_channels_keep_a_running_service_healthy(site: FeedSite, zx, zhome: Path) -> None:
    v1, v2, v4 = Impl("1.0"), Impl("2.0"), Impl("4.0", stability="testing")
    v3 = Impl("3.0", files=web_files("3.0-bad"))  # exits at start
    port = add_running(zx, site, "web", [v1], "--disk", "1M")
    disk = zhome / "disks" / "web" / "data.img"
    with disk.open("r+b") as f:
        f.write(b"the service's data")
    inode = disk.stat().st_ino

    publish(site, "web", [v1, v2])
    r = zx("update", "web", *FAST)
    assert r.rc == 0, r
    assert "web: updated 1.0 -> 2.0 (healthy after" in r.out
    assert serves(port, "2.0")
    assert history(zx, "web") == [("add", None, "1.0", "ok"), ("update", "1.0", "2.0", "ok")]

    publish(site, "web", [v1, v2, v3])
    r = zx("update", "web", *FAST)
    assert r.rc == 10, r
    assert "3.0 failed its health check" in r.err and "rolled back to 2.0, which runs again" in r.err
    assert serves(port, "2.0")
    assert history(zx, "web")[-2:] == [("update", "2.0", "3.0", "failed"), ("auto-rollback", "3.0", "2.0", "ok")]

    r = zx("rollback", "web", *FAST)
    assert r.rc == 0, r
    assert "rolled back 2.0 -> 1.0" in r.out
    assert serves(port, "1.0")
    r = zx("rollback", "web", "--to", "2.0", *FAST)
    assert r.rc == 0, r
    assert serves(port, "2.0")

    # 4.0 is testing: not for the stable channel; 3.0 was rolled back from: not taken again.
    publish(site, "web", [v1, v2, v3, v4])
    r = zx("update", "web", *FAST)
    assert r.rc == 0, r
    assert "web: 2.0 is current (passing over 3.0" in r.out
    assert serves(port, "2.0")
    s = status(zx, "web")
    assert (s["channel"], s["version"], s["latest"]["version"]) == ("stable", "2.0", "3.0")

    assert zx("set", "web", "--channel", "testing").rc == 0
    r = zx("update", "web", *FAST)
    assert r.rc == 0, r
    assert "web: updated 2.0 -> 4.0" in r.out
    assert serves(port, "4.0")
    s = status(zx, "web")
    assert (s["state"], s["channel"], s["version"], s["latest"]["version"]) == ("running", "testing", "4.0", "4.0")
    assert "channel:   testing" in zx("status", "web").out

    # Every change is there, several on one day, each with its cause and outcome.
    assert history(zx, "web") == [
        ("add", None, "1.0", "ok"),
        ("update", "1.0", "2.0", "ok"),
        ("update", "2.0", "3.0", "failed"),
        ("auto-rollback", "3.0", "2.0", "ok"),
        ("rollback", "2.0", "1.0", "ok"),
        ("rollback", "1.0", "2.0", "ok"),
        ("update", "2.0", "4.0", "ok"),
    ]
    entries = json.loads(zx("history", "web", "--json").out)
    assert entries[1]["to"]["digest"] == f"sha256new_{v2.digest}"
    assert all(isinstance(e["time"], float) and e["message"] for e in entries)
    # 3.0 exits at once: its start fails, before any health check.
    assert entries[2]["message"] == "it did not start: web exited with 3 at start", entries[2]
    text = zx("history", "web").out
    assert text.splitlines()[0].split() == ["TIME", "ACTION", "FROM", "TO", "OUTCOME", "MESSAGE"]

    # Disks are the service's data: neither updates nor rollbacks touch them.
    assert disk.read_bytes().startswith(b"the service's data")
    assert disk.stat().st_ino == inode


def tamper(site: FeedSite, name: str) -> None:
    path = site.root / f"{name}.xml"
    stamp = int(path.stat().st_mtime) + 1
    path.write_bytes(path.read_bytes().replace(b"test service", b"evil service"))
    os.utime(path, (stamp, stamp))


@pytest.mark.parametrize("attack", ["tampered", "replayed", "dead-server"])
def test_refused_refresh_fails_the_update_and_the_service_keeps_running(
    site: FeedSite, zx, zhome: Path, server: StaticServer, attack: str
) -> None:
    # For the replay: 0xl has seen the feed signed now; the server then serves one signed an hour ago.
    port = add_running(zx, site, "web", [Impl("1.0")])
    publish(site, "web", [Impl("1.0"), Impl("2.0")], at=int(time.time()) - 3600 if attack == "replayed" else None)
    if attack == "tampered":
        tamper(site, "web")
    if attack == "dead-server":
        server.stop()
    status_, message = {
        "tampered": (4, "modified after signing"),
        "replayed": (4, "before the copy 0xl already has"),
        "dead-server": (5, "cannot fetch feed"),
    }[attack]
    before = snapshot(zhome)
    r = zx("update", "web", *FAST)
    assert r.rc == status_, r
    assert message in r.err and r.err.startswith("0xl: error: "), r
    assert "web: not updated, still 1.0" in r.out
    assert snapshot(zhome) == before, "a refused update changed ZEROXL_HOME"
    assert serves(port, "1.0")
    assert status(zx, "web")["state"] == "running"


def test_update_all_updates_the_others_when_one_fails(site: FeedSite, zx) -> None:
    ports = {name: add_running(zx, site, name, [Impl("1.0")]) for name in ("a", "b", "c")}
    for name in ("a", "b", "c"):
        publish(site, name, [Impl("1.0"), Impl("2.0")])
    tamper(site, "b")
    r = zx("update", "--all", *FAST)
    assert r.rc == 4, r  # the status of the one failure
    lines = r.out.splitlines()
    assert lines[0].startswith("a: updated 1.0 -> 2.0") and lines[2].startswith("c: updated 1.0 -> 2.0"), r
    assert lines[1] == "b: not updated, still 1.0", r
    assert "0xl: error: b: signature does not match" in r.err
    assert "1 of 3 services were not updated: b" in r.err
    assert all_serve(ports, {"a": "2.0", "b": "1.0", "c": "2.0"})

    # Failures of different kinds: each is reported, and the exit status is the general one.
    publish(site, "a", [Impl("1.0"), Impl("2.0"), Impl("3.0", files=web_files("3.0-bad"))])
    r = zx("update", "--all", "--json", *FAST)
    assert r.rc == 1, r
    outcomes = {o["name"]: o for o in json.loads(r.out)}
    assert (outcomes["a"]["state"], outcomes["a"]["error"]["status"]) == ("rolled-back", 10)
    assert (outcomes["b"]["state"], outcomes["b"]["error"]["status"]) == ("failed", 4)
    assert (outcomes["c"]["state"], outcomes["c"]["error"]) == ("current", None)
    assert all_serve(ports, {"a": "2.0", "b": "1.0", "c": "2.0"})


def test_stopped_service_is_updated_without_starting_it(site: FeedSite, zx) -> None:
    port = add_running(zx, site, "web", [Impl("1.0")])
    assert zx("stop", "web").rc == 0
    publish(site, "web", [Impl("1.0"), Impl("2.0")])
    r = zx("update", "web", *FAST)
    assert r.rc == 0, r
    assert "web: updated 1.0 -> 2.0 (web is not running: 2.0 runs when it is started)" in r.out
    assert (status(zx, "web")["state"], status(zx, "web")["version"]) == ("stopped", "2.0")
    assert answers(port) is None
    assert zx("run", "web").rc == 0
    assert serves(port, "2.0")


def test_service_restarting_after_a_crash_is_updated_like_a_running_one(site: FeedSite, zx, zhome: Path) -> None:
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text("[unix]\nrestart_limit = 50\nrestart_window = 60\n")
    crashing = {"bin/web": (b"#!/bin/sh\necho up\nsleep 1\nexit 7\n", 0o755)}
    url = publish(site, "web", [Impl("1.0", files=crashing)])
    port = free_port()
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--arg", f"port={port}").rc == 0
    assert zx("run", "web").rc == 0
    assert wait_for(lambda: "restarting in" in status(zx, "web")["detail"], timeout=10)
    # Failed between two attempts, but its supervisor would run 1.0 again: 2.0 must replace it.
    publish(site, "web", [Impl("1.0", files=crashing), Impl("2.0")])
    r = zx("update", "web", *FAST)
    assert r.rc == 0, r
    assert "web: updated 1.0 -> 2.0 (healthy after" in r.out
    assert serves(port, "2.0")
    time.sleep(2)  # longer than the back-off: no 1.0 comes back
    s = status(zx, "web")
    assert (s["state"], s["version"], s["restarts"]) == ("running", "2.0", 0), s
    log = zx("logs", "web").out
    assert "started version 1.0" not in log[log.rindex("started version 2.0") :], log
    assert serves(port, "2.0")


def test_check_reports_what_would_change_and_unchanged_feeds_are_not_sent_again(
    site: FeedSite, zx, zhome: Path, server: StaticServer
) -> None:
    port = add_running(zx, site, "web", [Impl("1.0")])
    publish(site, "web", [Impl("1.0"), Impl("2.0")])
    r = zx("update", "web", "--check")
    assert r.rc == 0, r
    # With how old the feed's signature is: a feed that never changes may be one a server holds back.
    assert re.fullmatch(r"web: 1\.0 -> 2\.0 available; feed signed \d+ s ago\n", r.out), r
    assert serves(port, "1.0")
    assert record(zhome, "web")["current"]["version"] == "1.0"
    assert status(zx, "web")["latest"]["version"] == "2.0"
    assert [a for a, *_ in history(zx, "web")] == ["add"]

    # The feed has not changed since: the server says so (304) and 0xl uses what it verified before.
    feeds = snapshot(zhome)
    server.answers.clear()
    r = zx("update", "--all", "--check", "--json")
    assert r.rc == 0, r
    assert [(o["name"], o["state"], o["to"]) for o in json.loads(r.out)] == [("web", "available", "2.0")]
    assert server.answers == [("/web.xml", 304)]
    assert {k: v for k, v in snapshot(zhome).items() if k.startswith(("feeds", "store"))} == {
        k: v for k, v in feeds.items() if k.startswith(("feeds", "store"))
    }


def test_unchanged_feed_is_refused_once_its_key_is_no_longer_trusted(site: FeedSite, zx, server: StaticServer) -> None:
    port = add_running(zx, site, "web", [Impl("1.0")])
    assert zx("trust", "remove", site.publisher.fingerprint).rc == 0
    server.answers.clear()
    r = zx("update", "web")
    assert r.rc == 4, r
    assert "not trusted" in r.err
    assert server.answers == [("/web.xml", 304)]
    assert serves(port, "1.0")


def test_readiness_by_log_line_and_tcp_port_decides_health(site: FeedSite, zx) -> None:
    port = add_running(zx, site, "web", [Impl("1.0")])
    r = zx("set", "web", "--ready-tcp", f"127.0.0.1:{port}", "--ready-log", "listening on", "--settle", "0.2")
    assert r.rc == 0, r
    assert f"healthy when 127.0.0.1:{port} answers and log matches 'listening on' and it stays up 0.2 s" in r.out
    publish(site, "web", [Impl("1.0"), Impl("2.0")])
    r = zx("update", "web", "--ready-timeout", "10")
    assert r.rc == 0, r
    assert serves(port, "2.0")

    # Starts and stays up, but never listens nor says it is ready.
    silent = Impl("3.0", files={"bin/web": (b"#!/bin/sh\necho starting\nexec sleep 1000\n", 0o755)})
    publish(site, "web", [Impl("1.0"), Impl("2.0"), silent])
    r = zx("update", "web", "--ready-timeout", "1")
    assert r.rc == 10, r
    assert "it was not ready within 1 s" in r.err
    assert "no log line matched 'listening on'" in r.err and f"nothing answered on 127.0.0.1:{port}" in r.err
    # The rollback waited for 2.0 to be ready again, by the same checks: it answers as 0xl returns.
    assert answers(port) == "2.0"


def test_bad_readiness_options_are_refused_before_anything_is_fetched(site: FeedSite, zx, server: StaticServer) -> None:
    add_running(zx, site, "web", [Impl("1.0")])
    server.requests.clear()
    for args, message in [
        (["--ready-tcp", "nonsense"], "invalid --ready-tcp"),
        (["--ready-log", "("], "invalid --ready-log"),
        (["--settle", "-1"], "invalid --settle"),
    ]:
        r = zx("update", "web", *args)
        assert r.rc == 2 and message in r.err, r
    assert zx("update").rc == 2
    assert zx("update", "web", "--all").rc == 2
    assert server.requests == []


def test_store_keeps_the_last_versions_and_gc_removes_what_nothing_needs(site: FeedSite, zx, zhome: Path) -> None:
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text("[store]\nkeep = 2\n")
    versions = [Impl("1.0"), Impl("2.0"), Impl("3.0")]
    port = add_running(zx, site, "web", versions[:1])
    for n in (2, 3):
        publish(site, "web", versions[:n])
        assert zx("update", "web", *FAST).rc == 0
    stored = {p.name for p in (zhome / "store").iterdir()}
    assert stored == {f"sha256new_{v.digest}" for v in versions[1:]}  # 1.0 went once 3.0 came

    # Back to 1.0: no longer stored, so fetched again from the feed and checked against its digest.
    r = zx("rollback", "web", "--to", "1.0", *FAST)
    assert r.rc == 0, r
    assert serves(port, "1.0")
    assert f"sha256new_{versions[0].digest}" in {p.name for p in (zhome / "store").iterdir()}

    other = Impl("9.0", files={"bin/web": (b"#!/bin/sh\nexec sleep 1000\n", 0o755)})
    url = publish(site, "other", [other])
    assert zx("add", "other", url).rc == 0
    assert zx("destroy", "other").rc == 0
    r = zx("gc", "--dry-run")
    assert r.rc == 0, r
    assert r.out.splitlines()[0].startswith(f"would remove sha256new_{other.digest}")
    r = zx("gc")
    assert r.rc == 0, r
    assert f"removed sha256new_{other.digest}" in r.out
    assert "kept 2 that services need" in r.out  # 1.0 (current) and 3.0 (the one before)
    assert {p.name for p in (zhome / "store").iterdir()} == {
        f"sha256new_{versions[0].digest}",
        f"sha256new_{versions[2].digest}",
    }
    assert zx("gc").out == "nothing to remove; kept 2 that services need\n"
    assert serves(port, "1.0")


def test_rollback_to_a_version_never_run_is_not_found(site: FeedSite, zx) -> None:
    add_running(zx, site, "web", [Impl("1.0")])
    r = zx("rollback", "web")
    assert r.rc == 3 and "no earlier version is in the history of web (it ran: 1.0)" in r.err, r
    r = zx("rollback", "web", "--to", "9.9")
    assert r.rc == 3 and "version 9.9 is not in the history of web" in r.err, r
    r = zx("rollback", "web", "--to", "1.0")
    assert r.rc == 0 and r.out == "web already runs 1.0\n", r
    assert zx("history", "nosuch").rc == 3
