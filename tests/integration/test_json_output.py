"""`--json` on every command, with the same shape rules (cli.jsonout): a result is one JSON value on stdout
(an object for one thing, an array for several), an error one JSON object on stderr with status, message
and hint; and `status` exits 0 only for a service that runs (issue 16)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tests.support.feeds import FeedSite, Impl
from tests.support.updating import FAST, add_running, publish
from tests.support.zx import snapshot
from zeroxl.cli.parser import build_parser

# Commands without --json, and why: a server, a live screen, publishing commands that print for a person,
# a shell script and a manual page (their output is the text of a file).
WITHOUT_JSON = {
    "serve",
    "top",
    "completion",
    "man",
    "feed init",
    "feed add",
    "feed set-stability",
    "feed sign",
    "mirror",
    "trust",
    "disk",
    "feed",
    "systemd",
    "host",
}


def _commands(p: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sp in action.choices.items():
                found[prefix + name] = sp
                found.update(_commands(sp, prefix + name + " "))
    return found


def test_every_command_takes_json() -> None:
    commands = _commands(build_parser())
    missing = {
        name
        for name, sp in commands.items()
        if name not in WITHOUT_JSON and not any("--json" in a.option_strings for a in sp._actions)
    }
    assert missing == set()


def _json(r, kind: type) -> Any:
    assert r.rc == 0, r
    value = json.loads(r.out)
    assert isinstance(value, kind), r
    return value


def test_json_results_of_a_service_s_life(site: FeedSite, zx, zhome: Path) -> None:
    add_running(zx, site, "web", [Impl("1.0")], "--disk", "1M")
    stopped = _json(zx("stop", "web", "--json"), dict)
    assert (stopped["name"], stopped["version"], stopped["was_running"], stopped["desired"]) == (
        "web",
        "1.0",
        True,
        "stopped",
    )
    assert stopped["disks"][0]["name"] == "data"
    started = _json(zx("run", "web", "--json"), dict)
    assert (started["started"], started["desired"]) == (True, "running")
    publish(site, "web", [Impl("1.0"), Impl("2.0")])
    updated = _json(zx("update", "web", "--json", *FAST), list)
    assert updated[0]["state"] == "updated"
    back = _json(zx("rollback", "web", "--json", *FAST), dict)
    assert (back["from"], back["to"], back["changed"]) == ("2.0", "1.0", True)
    settings = _json(zx("set", "web", "--settle", "1", "--json"), dict)
    assert settings["ready"]["settle"] == 1.0 and settings["channel"] == "stable"
    assert isinstance(_json(zx("history", "web", "--json"), list)[0], dict)
    logs = _json(zx("logs", "web", "--json"), dict)
    assert isinstance(logs["lines"], list) and logs["name"] == "web"
    assert _json(zx("doctor", "--json"), dict) == {"done": [], "failed": []}
    assert isinstance(_json(zx("gc", "--json"), dict)["removed"], list)
    assert _json(zx("disk", "list", "--json"), list)[0]["service"] == "web"
    assert _json(zx("trust", "list", "--json"), list)[0]["fingerprint"] == site.publisher.fingerprint
    destroyed = _json(zx("destroy", "web", "--json"), dict)
    assert destroyed["name"] == "web" and [d["name"] for d in destroyed["kept_disks"]] == ["data"]
    assert destroyed["deleted_disks"] == []
    deleted = _json(zx("disk", "delete", "web", "data", "--json"), dict)
    assert (deleted["service"], deleted["name"]) == ("web", "data")


def test_add_and_trust_json(site: FeedSite, zx) -> None:
    url = site.publish("web", [Impl("1.0")])
    added = _json(zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--json"), dict)
    assert (added["name"], added["version"], added["backend"], added["feed"]) == ("web", "1.0", "unix", url)
    fpr = site.publisher.fingerprint
    assert _json(zx("trust", "add", fpr, "--domain", "example.org", "--json"), dict) == {
        "fingerprint": fpr,
        "domain": "example.org",
    }
    assert _json(zx("trust", "remove", fpr, "--domain", "example.org", "--json"), dict) == {
        "fingerprint": fpr,
        "domain": "example.org",
    }


def test_an_error_under_json_is_a_json_object_on_stderr(zxi, zhome: Path) -> None:
    for argv in (("run", "nosuch"), ("status", "nosuch"), ("list",), ("destroy", "nosuch"), ("rollback", "x")):
        r = zxi(*argv, "--json")
        if argv == ("list",):
            assert r.rc == 0 and json.loads(r.out) == [], r
            continue
        assert r.rc == 3, r
        assert r.out == "", r
        error = json.loads(r.err)
        assert error["status"] == 3 and error["kind"] == "NotFoundError", error
        assert error["message"].startswith("no service") and "hint" in error, error


def test_an_error_without_json_is_words(zxi) -> None:
    r = zxi("run", "nosuch")
    assert r.rc == 3 and r.err.startswith("0xl: error: "), r


def test_a_config_error_under_json_names_its_status(zxi, zhome: Path) -> None:
    zhome.mkdir(mode=0o700, parents=True)
    (zhome / "config.toml").write_text("[unix]\nrestart_limt = 1\n")
    before = snapshot(zhome)
    r = zxi("gc", "--json")
    assert r.rc == 11, r
    assert json.loads(r.err) == {
        "status": 11,
        "message": "config.toml: unknown key [unix] restart_limt",
        "hint": "did you mean [unix] restart_limit?",
        "kind": "ConfigError",
    }
    assert snapshot(zhome) == before


def test_status_exits_0_only_for_a_running_service(site: FeedSite, zx) -> None:
    url = site.publish("web", [Impl("1.0")])
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--arg", "port=1").rc == 0
    r = zx("status", "web")
    assert r.rc == 12 and "state:    stopped" in r.out, r  # as `systemctl status` exits 3: not running
    r = zx("status", "web", "--json")
    assert r.rc == 12 and json.loads(r.out)["state"] == "stopped", r
    assert zx("status", "nosuch").rc == 3


def test_status_of_a_running_service_exits_0(site: FeedSite, zx) -> None:
    add_running(zx, site, "web", [Impl("1.0")])
    r = zx("status", "web", "--json")
    assert r.rc == 0 and json.loads(r.out)["state"] == "running", r
