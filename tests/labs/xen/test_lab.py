"""Smoke test of the Xen lab: one boot of the nested Xen host checks everything a backend test needs.

smoke-dom0.sh runs in dom0 and leaves one NAME.out / NAME.rc pair per check in the share directory;
each test below asserts on some of them, so a failure names what broke while the lab boots only once.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.labs.xen import lab

pytestmark = pytest.mark.xen

SMOKE_SCRIPT = Path(__file__).with_name("smoke-dom0.sh")


@dataclass(frozen=True)
class SmokeRun:
    result: lab.Result
    share: Path

    def rc(self, name: str) -> int | None:
        path = self.share / f"{name}.rc"
        return int(path.read_text()) if path.exists() else None

    def out(self, name: str) -> str:
        path = self.share / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def file(self, name: str) -> str:
        path = self.share / name
        return path.read_text(errors="replace") if path.exists() else ""

    def assert_ok(self, *names: str) -> None:
        for name in names:
            status = self.rc(name)
            assert status == 0, f"check {name}: exit status {status}, output:\n{self.out(name)}"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> SmokeRun:
    if os.geteuid() != 0:
        pytest.skip("the Xen lab needs root (debootstrap, chroot, QEMU's 9p as root)")
    lab.build()
    share = tmp_path_factory.mktemp("xen-lab-share")
    result = lab.run_script(SMOKE_SCRIPT, timeout=900, share_dir=share)
    assert result.returncode == 0, result.output
    return SmokeRun(result, share)


def test_the_script_output_and_status_come_back(smoke: SmokeRun) -> None:
    assert "check xl-info: exit status 0" in smoke.result.output
    assert smoke.result.boot_seconds > 0


def test_xl_talks_to_the_hypervisor(smoke: SmokeRun) -> None:
    smoke.assert_ok("xl-info")
    assert re.search(r"^xen_major\s*: 4$", smoke.out("xl-info"), re.MULTILINE)
    assert re.search(r"^xen_minor\s*: 17$", smoke.out("xl-info"), re.MULTILINE)


def test_lvcreate_makes_a_real_block_device(smoke: SmokeRun) -> None:
    smoke.assert_ok("lvcreate", "lv-is-block-device")


def test_the_bridge_exists(smoke: SmokeRun) -> None:
    smoke.assert_ok("bridge")
    assert lab.BRIDGE in smoke.out("bridge")


def test_0xl_runs_the_working_tree_with_its_dependencies(smoke: SmokeRun) -> None:
    smoke.assert_ok("zeroxl-on-path", "zeroxl-imports")
    assert smoke.out("zeroxl-imports").strip() == f"{lab.DOM0_TREE}/src/zeroxl/__init__.py"


@pytest.mark.parametrize("name", ["guest-pvh", "guest-pv"])
def test_guest_boots_reports_and_marks_its_disk(smoke: SmokeRun, name: str) -> None:
    smoke.assert_ok(f"{name}-create", f"{name}-up", f"{name}-ping")
    console = smoke.file(f"{name}-console.log")
    assert f"0XL-LAB-GUEST-UP tag={name} boot=1" in console
    assert "0XL-LAB-GUEST-PREVIOUS none" in console

    assert "0XL-LAB-GUEST-NO-DISK" not in console

    smoke.assert_ok(f"{name}-shutdown", f"{name}-gone-after-shutdown", f"{name}-marker-after-shutdown")
    assert smoke.out(f"{name}-marker-after-shutdown").strip() == (f"0XL-LAB-GUEST-DISK boot=1 state=down tag={name}")
    assert smoke.file(f"{name}.cfg").count("vdev=xvdb, access=rw, target=/dev/vg0/") == 1


def test_the_guest_takes_its_disk_at_xvdb_as_a_unikernel_does_not_the_first_disk(smoke: SmokeRun) -> None:
    # guest-pv also has a disk at xvda, the first one, listed first: a guest that took "the first disk"
    # would have written its marker there.
    assert '"format=raw, vdev=xvda, access=rw, target=/dev/vg0/guest-pv-decoy", ' in smoke.file("guest-pv.cfg")
    smoke.assert_ok("guest-pv-decoy-after-shutdown")
    assert smoke.out("guest-pv-decoy-after-shutdown").strip() == "0XL-LAB-DECOY untouched"
    assert smoke.out("guest-pv-marker-after-shutdown").strip() == "0XL-LAB-GUEST-DISK boot=1 state=down tag=guest-pv"


def test_guest_disk_persists_across_boots_and_destroy(smoke: SmokeRun) -> None:
    name = "guest-pvh"
    smoke.assert_ok(f"{name}-create-again", f"{name}-up-again")
    console = smoke.file(f"{name}-console.log")
    assert f"0XL-LAB-GUEST-PREVIOUS 0XL-LAB-GUEST-DISK boot=1 state=down tag={name}" in console
    smoke.assert_ok(f"{name}-destroy", f"{name}-gone-after-destroy", f"{name}-marker-after-destroy")
    # Destroyed, not shut down: the guest never got to mark its disk "down".
    assert smoke.out(f"{name}-marker-after-destroy").strip() == (f"0XL-LAB-GUEST-DISK boot=2 state=up tag={name}")
