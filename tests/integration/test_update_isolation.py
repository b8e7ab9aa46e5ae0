"""`0xl update --all`: whatever goes wrong while one service is refreshed or prepared fails that service
alone (issue 10, point 7). The others are updated, the failure is reported with its service's name,
and the exit status says that some failed; the failed service's record is left as it was.

Feeds are real (signed, served on 127.0.0.1). An unforeseen exception — a bug, by definition — cannot be
produced on demand by real input once the known cases are fixed, so it is injected at each stage with
monkeypatch, in-process; the hostile feeds that used to crash the parser are the real-input case.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl, web_files
from tests.support.updating import publish
from tests.support.zx import snapshot

NAMES = ("a", "b", "c")


def impl(name: str, version: str) -> Impl:
    # Contents of their own: services that shared an implementation would share its download too.
    return Impl(version, files={**web_files(version), "README": (f"{name} {version}\n".encode(), 0o644)})


@pytest.fixture
def services(site: FeedSite, zxi, zhome: Path) -> dict[str, Path]:
    """Services a, b and c (stopped) on 1.0, with 2.0 published; each one's record directory."""
    for name in NAMES:
        url = publish(site, name, [impl(name, "1.0")])
        r = zxi("add", name, url, "--trust-key", site.publisher.fingerprint)
        assert r.rc == 0, r
    for name in NAMES:
        publish(site, name, [impl(name, "1.0"), impl(name, "2.0")])
    return {name: zhome / "services" / name for name in NAMES}


def records(home: Path, name: str) -> dict[str, object]:
    """The service's files, its record read but for what an update notes even when it refuses the
    newest version (`latest`, and when the record changed: docs/exit-status.md)."""
    files: dict[str, object] = {k: v for k, v in snapshot(home).items() if k.startswith(f"services/{name}/")}
    record = json.loads((home / "services" / name / "service.json").read_text())
    files[f"services/{name}/service.json"] = {k: v for k, v in record.items() if k not in ("latest", "updated")}
    return files


def inject(monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    """Make the work on service b (or its feed) raise an exception no code path expects, at STAGE."""
    from zeroxl.app import fits
    from zeroxl.app import update as updates
    from zeroxl.feeds.load import FeedLoader
    from zeroxl.feeds.store import Store

    def boom() -> None:
        raise RuntimeError("injected")

    def wrap(owner: object, attr: str, is_b) -> None:
        original = getattr(owner, attr)

        def replacement(*args, **kwargs):
            if is_b(*args, **kwargs):
                boom()
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, attr, replacement)

    if stage == "fetch":  # in a worker thread, as every feed is fetched at once
        wrap(FeedLoader, "load", lambda _self, url, *a, **k: url.endswith("/b.xml"))
    elif stage == "choose":
        wrap(updates, "choose", lambda svc, *a, **k: svc.name == "b")
    elif stage == "download":  # in a worker thread too
        wrap(Store, "ensure", lambda _self, impl, *a, **k: "/b-" in str(impl.retrievals))
    elif stage == "fit":  # stage two, under b's lock
        wrap(fits, "check_fits", lambda _ctx, svc, *a, **k: svc.name == "b")


@pytest.mark.parametrize("stage", ["fetch", "choose", "download", "fit"])
def test_an_unexpected_error_fails_its_service_alone(
    services: dict[str, Path], zxi, zhome: Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    before = records(zhome, "b")
    inject(monkeypatch, stage)
    r = zxi("update", "--all")
    assert r.rc == 1, r  # the status of an unexpected error: the one failure's
    assert r.out.splitlines() == [
        "a: updated 1.0 -> 2.0 (a is not running: 2.0 runs when it is started)",
        "b: not updated, still 1.0",
        "c: updated 1.0 -> 2.0 (c is not running: 2.0 runs when it is started)",
    ], r
    assert "0xl: error: b: unexpected RuntimeError: injected\n" in r.err, r
    assert "0xl: hint: this is a bug in 0xl: run the command again with --debug" in r.err, r
    assert "0xl: error: 1 of 3 services were not updated: b\n" in r.err, r
    assert "internal error" not in r.err and "Traceback" not in r.err, r
    assert records(zhome, "b") == before


def test_json_names_the_unexpected_error(services: dict[str, Path], zxi, monkeypatch: pytest.MonkeyPatch) -> None:
    inject(monkeypatch, "fetch")
    r = zxi("update", "--all", "--json")
    assert r.rc == 1, r
    outcomes = {o["name"]: o for o in json.loads(r.out)}
    assert [outcomes[n]["state"] for n in NAMES] == ["updated", "failed", "updated"]
    assert outcomes["b"]["error"] == {
        "message": "unexpected RuntimeError: injected",
        "hint": "this is a bug in 0xl: run the command again with --debug to see where, and report it",
        "status": 1,
        "kind": "UnexpectedError",
    }


@pytest.mark.parametrize("attack", ["groups-1200-deep", "memory-in-superscript"])
def test_a_feed_that_once_crashed_the_parser_fails_its_service_alone(
    services: dict[str, Path], site: FeedSite, zxi, zhome: Path, attack: str
) -> None:
    # Before issue 10 these raised RecursionError and ValueError, which stopped the whole run with status 1.
    hostile = impl("b", "2.0")
    if attack == "memory-in-superscript":
        hostile.needs_xml = '<s:needs xmlns:s="urn:x-0xl:service:1" memory="\u00b2"/>'
    xml = site.feed_xml("b", [impl("b", "1.0"), hostile])
    if attack == "groups-1200-deep":
        xml = xml.replace(b"<implementation ", b"<group>" * 1200 + b"<implementation ", 1)
        xml = xml.replace(b"</implementation>", b"</implementation>" + b"</group>" * 1200, 1)
    path = site.root / "b.xml"
    stamp = int(path.stat().st_mtime) + 1  # a new Last-Modified: the server would answer 304 within the second
    path.write_bytes(site.publisher.sign(xml))
    os.utime(path, (stamp, stamp))
    before = records(zhome, "b")
    r = zxi("update", "--all")
    assert r.rc == 4, r
    assert [line.split(":")[0] + ":" + line.split(":")[1][:8] for line in r.out.splitlines()] == [
        "a: updated",
        "b: not upd",
        "c: updated",
    ], r
    assert "0xl: error: b: feed " in r.err and "1 of 3 services were not updated: b" in r.err, r
    assert records(zhome, "b") == before
