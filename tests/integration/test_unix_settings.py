"""[unix] settings in config.toml with real supervised processes: a value that makes no sense is refused
with status 11 (config) before anything runs, and 0 means what it says (issue 10, point 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import snapshot, wait_for


def _add(zx, site: FeedSite, body: str) -> None:
    url = site.publish("svc", [Impl("1.0", files={"bin/web": (("#!/bin/sh\n" + body).encode(), 0o755)})])
    r = zx("add", "svc", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 0, r


def _status(zx) -> dict:
    return json.loads(zx("status", "svc", "--json").out)


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("restart_limit = -1", "[unix] restart_limit must be 0 or more"),
        ("stop_timeout = -1", "[unix] stop_timeout must be 0 or more"),
        ("stop_timeout = inf", "[unix] stop_timeout must be 0 or more"),
        ("restart_window = 0", "[unix] restart_window must be more than 0"),
        ("restart_window = nan", "[unix] restart_window must be more than 0"),
    ],
)
def test_unix_setting_out_of_range_is_refused_before_anything_runs(
    site: FeedSite, zx, zhome: Path, setting: str, says: str
) -> None:
    _add(zx, site, "echo up; sleep 1000\n")
    (zhome / "config.toml").write_text(f"[unix]\n{setting}\n")
    before = snapshot(zhome)
    r = zx("run", "svc")
    assert r.rc == 11, r
    assert r.err.startswith(f"0xl: error: config.toml: {says}"), r
    assert "0xl: hint: " in r.err and "internal error" not in r.err, r
    assert snapshot(zhome) == before
    (zhome / "config.toml").unlink()
    assert _status(zx)["state"] == "stopped"  # nothing was started


def test_unix_setting_of_the_wrong_type_is_refused(site: FeedSite, zx, zhome: Path) -> None:
    _add(zx, site, "echo up; sleep 1000\n")
    (zhome / "config.toml").write_text("[unix]\nrestart_limit = 1.5\n")
    r = zx("run", "svc")
    assert r.rc == 11, r
    assert r.err.startswith("0xl: error: config.toml: [unix] restart_limit has the wrong type (float)"), r


def test_restart_limit_zero_means_a_failing_service_is_not_restarted(site: FeedSite, zx, zhome: Path) -> None:
    # 0 used to become the default of 5 without a word.
    (zhome).mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text("[unix]\nrestart_limit = 0\n")
    _add(zx, site, "echo attempt; sleep 1; exit 7\n")
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: _status(zx)["state"] == "failed", timeout=20)
    s = _status(zx)
    assert (s["restarts"], s["last_exit"]) == (0, "7"), s
    assert "giving up" in s["detail"], s
    assert zx("logs", "svc").out.count("attempt") == 1


def test_stop_timeout_zero_kills_at_once(site: FeedSite, zx, zhome: Path) -> None:
    # 0 used to become the default of 10 s.
    (zhome).mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text("[unix]\nstop_timeout = 0\n")
    _add(zx, site, "trap '' TERM\necho ready\nwhile :; do sleep 0.1; done\n")
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: "ready" in zx("logs", "svc").out)
    assert zx("stop", "svc").rc == 0
    assert "still running 0 s after SIGTERM; sending SIGKILL" in zx("logs", "svc").out


def test_a_typo_in_config_toml_fails_the_command_with_the_config_status(site: FeedSite, zx, zhome: Path) -> None:
    # `max_disk_sise` used to be ignored (no disk limit at all) and a broken config said "usage" (2).
    zhome.mkdir(mode=0o700, parents=True, exist_ok=True)
    (zhome / "config.toml").write_text('[policy]\nmax_disk_sise = "1G"\n')
    before = snapshot(zhome)
    url = site.publish("svc", [Impl("1.0", files={"bin/web": (b"#!/bin/sh\nsleep 1000\n", 0o755)})])
    r = zx("add", "svc", url, "--trust-key", site.publisher.fingerprint, "--disk", "5G")
    assert r.rc == 11, r
    assert r.err.endswith(
        "0xl: error: config.toml: unknown key [policy] max_disk_sise\n0xl: hint: did you mean [policy] max_disk_size?\n"
    ), r
    assert snapshot(zhome) == before


def test_memory_for_a_process_is_refused_not_ignored(site: FeedSite, zx, zhome: Path) -> None:
    # --memory on a unix service used to be recorded and silently ignored.
    url = site.publish("svc", [Impl("1.0")])
    before = snapshot(zhome)
    r = zx("add", "svc", url, "--trust-key", site.publisher.fingerprint, "--memory", "64")
    assert r.rc == 2, r
    assert "0xl: error: --memory 64: the unix backend cannot limit a service's memory\n" in r.err, r
    assert "0xl: hint: leave out --memory (it sets a VM's memory" in r.err, r
    assert snapshot(zhome) == before
    assert zx("add", "svc", url, "--trust-key", site.publisher.fingerprint).rc == 0
