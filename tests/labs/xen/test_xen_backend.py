"""The xen backend in the Xen lab: the real xl, LVM, xenconsoled and bridge, with the lab's test guest
published as signed Xen-x86_64 feeds (guest_feed.py) and served in dom0.

xen-backend-dom0.sh runs the whole scenario in one boot and leaves one NAME.out / NAME.rc pair per check;
each test below asserts on some of them, so that a failure names what broke while the lab boots once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.labs.xen import guest_feed, lab
from tests.support.gpgkeys import make_publisher
from tests.unit.test_macs import documented

pytestmark = pytest.mark.xen

SCRIPT = Path(__file__).with_name("xen-backend-dom0.sh")
MiB = 1 << 20


@dataclass(frozen=True)
class Run:
    result: lab.Result
    results: Path

    def rc(self, name: str) -> int | None:
        path = self.results / f"{name}.rc"
        return int(path.read_text()) if path.exists() else None

    def out(self, name: str) -> str:
        path = self.results / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def json(self, name: str, status: int = 0) -> Any:
        """The JSON check NAME printed, exiting with STATUS (12: `0xl status` of a service not running)."""
        assert self.rc(name) == status, f"check {name}: exit status {self.rc(name)}, output:\n{self.out(name)}"
        return json.loads(self.out(name))

    def ok(self, *names: str) -> None:
        for name in names:
            assert self.rc(name) == 0, f"check {name}: exit status {self.rc(name)}, output:\n{self.out(name)}"

    def failed(self, name: str, status: int, message: str) -> None:
        assert self.rc(name) == status, f"check {name}: exit status {self.rc(name)}, not {status}:\n{self.out(name)}"
        assert message in self.out(name), self.out(name)

    def lvs(self, name: str) -> dict[str, tuple[int, set[str]]]:
        report = self.json(name)["report"][0]["lv"]
        return {lv["lv_name"]: (int(lv["lv_size"]), set(filter(None, lv["lv_tags"].split(",")))) for lv in report}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_scenario(SCRIPT, tmp_path_factory, "xen-backend-share")


def run_scenario(script: Path, tmp_path_factory: pytest.TempPathFactory, share_name: str) -> Run:
    """SCRIPT run in one boot of the lab, with the test guest's signed feeds served in dom0."""
    if os.geteuid() != 0:
        pytest.skip("the Xen lab needs root (debootstrap, chroot, QEMU's 9p as root)")
    lab.build()
    share = tmp_path_factory.mktemp(share_name)
    publisher = make_publisher(tmp_path_factory.mktemp("publisher") / "gnupg")
    try:
        guest_feed.publish(share / "site", publisher, tmp_path_factory.mktemp("publishing"))
    finally:
        subprocess.run(["gpgconf", "--homedir", str(publisher.gnupghome), "--kill", "gpg-agent"], check=False)
    (share / "fingerprint").write_text(publisher.fingerprint)
    result = lab.run_script(script, timeout=1200, share_dir=share)
    assert result.returncode == 0, result.output
    return Run(result, share / "results")


TAGS = {"0xl", "0xl.service=mail", "0xl.disk=storage"}


def mail_mac(run: Run) -> str:
    """The MAC of mail's network, computed here with the formula of docs/xen.md from dom0's host value."""
    run.ok("host-id")
    return documented(bytes.fromhex(run.out("host-id").strip()), "mail", 0)


def test_add_creates_a_tagged_logical_volume_of_the_size_asked(run: Run) -> None:
    run.ok("gpg-in-dom0", "add")
    assert run.lvs("add-lvs") == {"0xl-mail-storage": (64 * MiB, TAGS)}
    [disk] = run.json("add-disk-list")
    assert (disk["service"], disk["name"], disk["kind"], disk["location"], disk["size"], disk["in_use"]) == (
        "mail", "storage", "lvm", "vg0/0xl-mail-storage", 64 * MiB, True
    )  # fmt: skip


def test_run_creates_the_domain_from_the_config_0xl_prints(run: Run) -> None:
    run.ok("config", "run", "run-xl-cfg")
    assert run.out("run-xl-cfg") == run.out("config")
    cfg = run.out("config")
    assert 'name = "mail"\ntype = "pvh"\n' in cfg
    assert re.search(r'^kernel = "/var/lib/0xl/store/sha256new_[A-Z0-9]{52}/vmlinuz"$', cfg, re.M)
    assert 'cmdline = "--tag=mail --ip=10.0.0.2/24"' in cfg
    assert f'vif = [ "bridge=xenbr0, mac={mail_mac(run)}" ]' in cfg
    # The feed's block storage names no disk: mirage's numbering puts it at xvdb, where the guest looks.
    assert 'disk = [ "format=raw, vdev=xvdb, access=rw, target=/dev/vg0/0xl-mail-storage" ]' in cfg
    assert run.out("run-domains").split() == ["Domain-0", "mail"]


def test_xl_reads_the_generated_config_as_0xl_meant_it(run: Run) -> None:
    text = run.out("run-dry-create")
    run.ok("run-dry-create")
    parsed = json.loads(text[text.index("{") :])
    assert parsed["c_info"] == {**parsed["c_info"], "type": "pvh", "name": "mail"}
    b = parsed["b_info"]
    assert (b["max_memkb"], b["max_vcpus"], b["cmdline"]) == (128 * 1024, 1, "--tag=mail --ip=10.0.0.2/24")
    assert b["kernel"].endswith("/vmlinuz") and b["ramdisk"].endswith("/initrd.img")
    assert parsed["disks"] == [
        {"pdev_path": "/dev/vg0/0xl-mail-storage", "vdev": "xvdb", "format": "raw", "readwrite": 1}
    ]
    assert [(n["bridge"], n["mac"]) for n in parsed["nics"]] == [("xenbr0", mail_mac(run))]
    assert (parsed.get("on_poweroff", "destroy"), parsed["on_reboot"], parsed["on_crash"]) == (
        "destroy", "restart", "restart"
    )  # fmt: skip
    assert mail_mac(run) in run.out("run-network-list")


def test_the_guests_console_reaches_0xl_logs_and_its_network_answers(run: Run) -> None:
    run.ok("run-up", "run-logs", "run-ping")
    logs = run.out("run-logs")
    assert "0XL-LAB-GUEST-UP tag=mail boot=1" in logs
    assert "0XL-LAB-GUEST-PREVIOUS none" in logs
    assert "0XL-LAB-GUEST-NET 10.0.0.2/24" in logs
    assert "0XL-LAB-GUEST-NO-DISK" not in logs  # it found its disk at xvdb, where 0xl put it
    # The ping went both ways through the guest's vif: dom0's counters of it, from the guest's side.
    res = run.json("run-net-status")["resources"]
    assert res["net_rx_bytes"] >= 84 and res["net_tx_bytes"] >= 84, res  # an ICMP echo in IPv4: 84 bytes
    assert re.search(r"network:\s+\S+ \S+ received, \S+ \S+ sent", run.out("run-net-text")), run.out("run-net-text")


def test_status_and_list_come_from_xl(run: Run) -> None:
    status = run.json("run-status")
    assert status["state"] == "running" and status["backend"] == "xen"
    runtime = status["runtime"]
    assert runtime["memory_mib"] == 128 and runtime["vcpus"] == 1 and runtime["domid"] > 0
    assert isinstance(runtime["cpu_seconds"], float) and re.fullmatch(r"[-rbpscd]{6}", runtime["xen_state"])
    assert status["uptime"] is not None and 0 < status["uptime"] < 600
    # What it uses, as every backend says it: xl list's CPU time of all vcpus and the domain's memory.
    assert status["resources"]["memory_bytes"] == 128 << 20 and status["resources"]["vcpus"] == 1
    assert status["resources"]["cpu_seconds"] == runtime["cpu_seconds"]
    assert [d["used"] for d in status["disks"]] == [None]  # an LVM volume: allocated whole
    [listed] = run.json("run-list")
    assert (listed["name"], listed["state"], listed["version"]) == ("mail", "running", "1.0")
    assert listed["resources"]["memory_bytes"] == 128 << 20
    top = run.out("run-top").splitlines()
    assert top[1].split()[:6] == ["NAME", "STATE", "BACKEND", "VERSION", "CPU(s)", "CPU(%)"]
    row = top[2].split()
    assert row[:4] == ["mail", "running", "xen", "1.0"] and row[6:8] == ["128.0", "MiB"], top
    run.ok("run-again")
    assert "mail is already running" in run.out("run-again")


def test_the_guests_disk_write_is_on_the_volume(run: Run) -> None:
    assert run.out("run-marker").strip() == "0XL-LAB-GUEST-DISK boot=1 state=up tag=mail"


def test_stop_removes_the_domain_after_a_clean_shutdown(run: Run) -> None:
    run.ok("stop")
    assert "mail stopped" in run.out("stop")
    assert run.rc("stop-domid") != 0  # xl no longer knows the domain
    assert run.json("stop-status", 12)["state"] == "stopped"
    assert run.json("stop-status", 12)["resources"] is None
    assert run.out("stop-marker").strip() == "0XL-LAB-GUEST-DISK boot=1 state=down tag=mail"


def test_a_second_run_finds_the_data_still_there(run: Run) -> None:
    run.ok("rerun", "rerun-up", "rerun-logs")
    assert "0XL-LAB-GUEST-PREVIOUS 0XL-LAB-GUEST-DISK boot=1 state=down tag=mail" in run.out("rerun-logs")
    assert "0XL-LAB-GUEST-UP tag=mail boot=2" in run.out("rerun-logs")


def test_memory_over_the_policy_is_refused_and_creates_nothing(run: Run) -> None:
    run.failed("policy-max-memory", 9, "over the host's limit of 512 MiB per service")
    run.ok("policy-max-memory-unchanged")
    # mail counts with the 128 MiB it is configured with: 128 + 500 > 600.
    run.failed("policy-total", 9, "to 628 MiB, over its limit of 600 MiB in total (128 MiB are taken)")
    run.ok("policy-total-unchanged")


def test_destroy_keeps_the_volume_and_delete_disks_removes_it(run: Run) -> None:
    run.ok("destroy", "readd", "destroy-delete")
    assert "kept disk storage (vg0/0xl-mail-storage)" in run.out("destroy")
    assert run.out("destroy-domains").split() == ["Domain-0"]
    assert run.lvs("destroy-lvs") == {"0xl-mail-storage": (64 * MiB, TAGS)}
    # Destroy stops the guest cleanly first: it marked its disk on the way down.
    assert run.out("destroy-marker").strip() == "0XL-LAB-GUEST-DISK boot=2 state=down tag=mail"
    [kept] = run.json("destroy-disk-list")
    assert (kept["service"], kept["name"], kept["in_use"]) == ("mail", "storage", False)
    assert "reusing the kept disk storage of mail" in run.out("readd")
    # Added again on this host: the same MAC (the host's value, the name and the index).
    assert f'vif = [ "bridge=xenbr0, mac={mail_mac(run)}" ]' in run.out("readd-config")
    assert "deleted disk storage (vg0/0xl-mail-storage)" in run.out("destroy-delete")
    assert run.lvs("destroy-delete-lvs") == {}


def test_a_volume_without_0xls_tag_is_never_touched(run: Run) -> None:
    run.failed("intruder-add", 7, "a logical volume vg0/0xl-intruder-storage exists already")
    run.failed("intruder-delete", 3, "no disk storage of intruder")
    assert run.json("intruder-disk-list") == []
    assert run.lvs("intruder-lvs") == {"0xl-intruder-storage": (8 * MiB, set())}


def test_a_volume_with_the_service_and_disk_tags_but_not_0xls_own_is_never_touched(run: Run) -> None:
    # The tags 0xl gives a disk of spoof, but not the `0xl` tag that says 0xl made it: not listed, not
    # taken by add as a kept disk (its size is the one asked), not deleted, its data as it was.
    assert run.json("spoof-disk-list") == []
    run.failed("spoof-add", 7, "a logical volume vg0/0xl-spoof-storage exists already")
    run.failed("spoof-delete", 3, "no disk storage of spoof")
    assert run.lvs("spoof-lvs") == {
        "0xl-intruder-storage": (8 * MiB, set()),
        "0xl-spoof-storage": (64 * MiB, {"0xl.service=spoof", "0xl.disk=storage"}),
    }
    assert run.out("spoof-marker").strip() == "NOT-0XLS-DATA"


def test_a_missing_bridge_fails_cleanly_with_nothing_left_behind(run: Run) -> None:
    run.ok("nobr-add")
    run.failed("nobr-run", 6, "nobr did not start: there is no bridge xenbr9 on this host")
    assert "xl create failed: libxl: error" in run.out("nobr-run")
    assert run.rc("nobr-domid") != 0  # no domain, not even a half-built one
    run.ok("nobr-unchanged", "nobr-no-xl-cfg")
    assert run.json("nobr-status", 12)["state"] == "stopped"
    run.failed("nobr-add-missing", 3, "there is no bridge xenbr9 on this host")
    run.ok("nobr-add-missing-unchanged", "nobr-cleanup")


def test_a_pv_guest_runs_on_a_file_disk_when_no_volume_group_is_configured(run: Run) -> None:
    run.ok("file-add", "file-config", "file-run", "file-up", "file-stop", "file-destroy", "file-gone")
    [disk] = run.json("file-disk-list")
    assert (disk["kind"], disk["location"], disk["size"]) == ("file", "/var/lib/0xl/disks/filed/storage.img", 64 * MiB)
    assert 'type = "pv"' in run.out("file-config")
    assert 'target=/var/lib/0xl/disks/filed/storage.img" ]' in run.out("file-config")
    assert run.json("file-status")["state"] == "running"
    [disk] = run.json("file-status")["disks"]
    assert disk["kind"] == "file" and isinstance(disk["used"], int) and 0 <= disk["used"] <= 64 << 20
    assert run.out("file-marker").strip() == "0XL-LAB-GUEST-DISK boot=1 state=down tag=filed"


def test_nothing_is_left_running(run: Run) -> None:
    assert run.out("end-domains").split() == ["Domain-0"]
