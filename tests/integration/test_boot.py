"""`0xl boot` after a simulated host restart, with real supervised processes: every supervisor and
program killed with SIGKILL and the boot id changed (the ZEROXL_TEST_BOOT_ID_FILE hook), then boot
brings back exactly the services that should run and may, in start order, with their disks (issue 14)."""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import Result, wait_for, zx_process

# Notes its start in ORDER, then finds on its disk the mark it left there at an earlier start, or
# leaves one: what a service that keeps its data across a restart does.
PROGRAM = """#!/bin/sh
echo "$ZEROXL_SERVICE" >> {order}
if [ "$(head -c 4 data)" = "mark" ]; then echo "found my mark"; else printf mark | dd of=data conv=notrunc 2>/dev/null; echo "left my mark"; fi
exec sleep 1000
"""


def _reboot(home: Path, boot_id_file: Path) -> None:
    """What a host restart does to the unix backend's services: every supervisor and every process of
    a program ends at once, without any clean-up, and the kernel's boot id changes."""
    for state_file in sorted(home.glob("services/*/unix/state.json")):
        state = json.loads(state_file.read_text())
        if state["state"] in ("stopped", "failed"):
            continue  # its supervisor is gone already
        os.kill(state["supervisor"]["pid"], signal.SIGKILL)
        if state.get("pid"):
            os.killpg(state["pid"], signal.SIGKILL)
    for state_file in home.glob("services/*/unix/state.json"):
        state = json.loads(state_file.read_text())
        for pid in (state["supervisor"]["pid"], state.get("pid")):
            if pid:
                assert wait_for(lambda p=pid: not _running(p), timeout=5), pid
    boot_id_file.write_text(str(uuid.uuid4()) + "\n")


def _order_file(tmp_path: Path) -> Path:
    """A file every service may append to, whatever user it runs as (host.users)."""
    order = tmp_path / "order"
    order.write_text("")
    order.chmod(0o666)
    return order


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_boot_brings_back_the_enabled_desired_services_in_order_with_their_disks(
    site: FeedSite, zx, zhome: Path, tmp_path: Path
) -> None:
    order = _order_file(tmp_path)
    files = {"bin/web": (PROGRAM.format(order=order).encode(), 0o755)}
    url = site.publish("svc", [Impl("1.0", files=files)])
    boot_id = tmp_path / "boot_id"
    boot_id.write_text(Path("/proc/sys/kernel/random/boot_id").read_text())

    def zxb(*args: str) -> Result:  # 0xl on the host as the test's boot id has it
        return zx_process(*args, home=zhome, env={"ZEROXL_TEST_BOOT_ID_FILE": str(boot_id)})

    # late/early set the order; c keeps the default (50); stopped by hand; disabled; never run.
    for name, order_n in (("late", "60"), ("early", "10"), ("c", None), ("handstopped", None), ("off", None)):
        r = zxb("add", name, url, "--trust-key", site.publisher.fingerprint, "--disk", "data=1M")
        assert r.rc == 0, r
        if order_n:
            assert zxb("set", name, "--start-order", order_n).rc == 0
        assert zxb("run", name).rc == 0
    assert zxb("add", "neverrun", url, "--disk", "data=1M").rc == 0
    assert zxb("stop", "handstopped").rc == 0
    r = zxb("disable", "off")
    assert r.rc == 0 and "off disabled: 0xl boot leaves it stopped" in r.out, r
    for name in ("late", "early", "c"):
        assert wait_for(lambda n=name: "left my mark" in zxb("logs", n).out), name

    _reboot(zhome, boot_id)
    order.write_text("")
    listed = {d["name"]: d for d in json.loads(zxb("list", "--json").out)}
    assert {n for n, d in listed.items() if d["state"] == "running"} == set(), listed

    r = zxb("boot", "--json")
    assert r.rc == 0, r
    report = json.loads(r.out)
    outcomes = [(s["name"], s["outcome"]) for s in report["services"]]
    assert outcomes == [
        ("early", "started"),
        ("c", "started"),
        ("handstopped", "stopped"),
        ("neverrun", "stopped"),
        ("off", "disabled"),
        ("late", "started"),
    ], report
    assert order.read_text().split() == ["early", "c", "late"]
    listed = {d["name"]: d for d in json.loads(zxb("list", "--json").out)}
    assert {n for n, d in listed.items() if d["state"] == "running"} == {"early", "c", "late"}, listed
    for name in ("late", "early", "c"):
        assert "found my mark" in zxb("logs", name).out, name  # its disk came back with it

    # Run again (the unit started twice, or by hand): nothing starts a second time.
    r = zxb("boot")
    assert r.rc == 0, r
    assert "early: already running" in r.out and "off: not started (disabled" in r.out, r
    assert order.read_text().split() == ["early", "c", "late"]


def test_boot_reports_a_service_that_does_not_start_and_starts_the_others(
    site: FeedSite, zx, zhome: Path, tmp_path: Path
) -> None:
    order = _order_file(tmp_path)
    good = site.publish("good", [Impl("1.0", files={"bin/web": (PROGRAM.format(order=order).encode(), 0o755)})])
    bad = site.publish("bad", [Impl("1.0", files={"bin/web": (b"#!/bin/sh\necho broken; exit 3\n", 0o755)})])
    assert zx("add", "good", good, "--trust-key", site.publisher.fingerprint, "--disk", "data=1M").rc == 0
    assert zx("add", "bad", bad).rc == 0
    assert zx("set", "bad", "--start-order", "0").rc == 0
    # Both should run: desired running, as after a `run` that worked once.
    for name in ("good", "bad"):
        record = zhome / "services" / name / "service.json"
        record.write_text(json.dumps({**json.loads(record.read_text()), "desired": "running"}))
    r = zx("boot")
    assert r.rc == 6, r  # the backend's status (docs/exit-status.md)
    assert r.out.splitlines() == ["bad: failed to start", "good: started"], r
    assert "0xl: error: bad did not start" in r.err or "0xl: error: bad exited with 3" in r.err, r
    assert "0xl: hint: see 0xl logs bad" in r.err, r
    assert json.loads(zx("status", "good", "--json").out)["state"] == "running"


def test_boot_first_finishes_an_update_the_host_restart_cut_short(
    site: FeedSite, zx, zhome: Path, tmp_path: Path
) -> None:
    from tests.integration.test_update_interrupted import assert_whole_versions, kill_with_guardian, two_services

    ports = two_services(zx, site)
    kill_with_guardian(zhome, "stopped")  # a's 1.0 stopped, 2.0 not started: then the host went down
    boot_id = tmp_path / "boot_id"
    _reboot(zhome, boot_id)

    def zxb(*args: str) -> Result:
        return zx_process(*args, home=zhome, env={"ZEROXL_TEST_BOOT_ID_FILE": str(boot_id)})

    r = zxb("boot")
    assert r.rc == 0, r
    assert r.out.splitlines() == [
        "undid the interrupted update of a to 2.0: 1.0 runs again",
        "a: already running",  # the undoing started it again
        "b: started",
    ], r
    assert assert_whole_versions(zxb, zhome, ports) == {"a": "1.0", "b": "1.0"}


def test_boot_settings_out_of_range_or_of_no_service_change_nothing(site: FeedSite, zx, zhome: Path) -> None:
    from tests.support.zx import snapshot

    url = site.publish("svc", [Impl("1.0", files={"bin/web": (b"#!/bin/sh\nexec sleep 1000\n", 0o755)})])
    assert zx("add", "svc", url, "--trust-key", site.publisher.fingerprint).rc == 0
    before = snapshot(zhome)
    r = zx("set", "svc", "--start-order", "1000")
    assert r.rc == 2 and "0xl: error: invalid start order 1000" in r.err and "0xl: hint: choose a number" in r.err, r
    r = zx("set", "svc", "--start-order", "-1")
    assert r.rc == 2, r
    for command in ("enable", "disable", "restart"):
        r = zx(command, "nosuch")
        assert r.rc == 3 and "0xl: error: no service named 'nosuch'" in r.err, r
    assert snapshot(zhome) == before
    r = zx("disable", "svc", "--json")
    assert r.rc == 0 and json.loads(r.out) == {"name": "svc", "enabled": False, "changed": True}, r
    r = zx("disable", "svc")
    assert r.rc == 0 and r.out == "svc was already disabled: 0xl boot leaves it stopped\n", r
    assert json.loads(zx("status", "svc", "--json").out)["enabled"] is False
    assert zx("enable", "svc").out == "svc enabled: 0xl boot starts it\n"
