"""A real reboot of a Xen host (issue 14): the lab boots dom0 twice on one scratch disk, whose volume
group (the guest's disk, and ZEROXL_HOME on a volume of its own) survives the first boot; at the second,
the command of the `0xl.service` that `0xl systemd install` wrote runs, and the guest is back, with the
data its disk had. xen-boot-dom0.sh does the dom0 side of each boot."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.labs.xen import guest_feed, lab
from tests.support.gpgkeys import make_publisher

pytestmark = pytest.mark.xen

SCRIPT = Path(__file__).with_name("xen-boot-dom0.sh")


def _result(share: Path, phase: str, name: str) -> tuple[int | None, str]:
    base = share / "results" / phase
    rc = base / f"{name}.rc"
    out = base / f"{name}.out"
    return (int(rc.read_text()) if rc.exists() else None), (out.read_text(errors="replace") if out.exists() else "")


def _ok(share: Path, phase: str, name: str, status: int = 0) -> str:
    """The output of check NAME, which exited with STATUS (12: `0xl status` of a service not running)."""
    rc, out = _result(share, phase, name)
    assert rc == status, f"{phase}/{name}: exit status {rc}, output:\n{out}"
    return out


@pytest.fixture(scope="module")
def share(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("the Xen lab needs root (debootstrap, chroot, QEMU's 9p as root)")
    lab.build()
    share = tmp_path_factory.mktemp("xen-boot-share")
    publisher = make_publisher(tmp_path_factory.mktemp("publisher") / "gnupg")
    try:
        guest_feed.publish(share / "site", publisher, tmp_path_factory.mktemp("publishing"))
    finally:
        subprocess.run(["gpgconf", "--homedir", str(publisher.gnupghome), "--kill", "gpg-agent"], check=False)
    (share / "fingerprint").write_text(publisher.fingerprint)
    config = lab.LabConfig(scratch=tmp_path_factory.mktemp("xen-boot-disk") / "scratch.img")
    for phase in ("first", "second"):
        result = lab.run_script(SCRIPT, [phase], timeout=900, share_dir=share, config=config)
        assert result.returncode == 0, result.output
    return share


def test_first_boot_runs_the_guest_and_installs_the_units(share: Path) -> None:
    for name in ("add", "add-spare", "run", "up", "install"):
        _ok(share, "first", name)
    assert json.loads(_ok(share, "first", "status"))["state"] == "running"


def test_after_the_reboot_nothing_runs_until_the_units_command(share: Path) -> None:
    assert _ok(share, "second", "before-domains").split() == ["Domain-0"]
    before = json.loads(_ok(share, "second", "before-status", 12))
    assert before["state"] == "stopped" and "its domain is gone" in before["detail"], before
    unit = _ok(share, "second", "unit")
    assert "\nExecStart=/" in unit and " -m zeroxl boot " in unit, unit  # the path of the 0xl that installed it


def test_the_units_command_brings_the_guest_back_with_its_disk(share: Path) -> None:
    boot = _ok(share, "second", "boot")
    assert "mail: started" in boot and "spare: left stopped (stopped by hand)" in boot, boot
    assert _ok(share, "second", "after-domains").split() == ["Domain-0", "mail"]
    _ok(share, "second", "up")
    console = _ok(share, "second", "console")
    # What the first boot's guest wrote on its disk, found by the second's: the disk came back with it.
    assert "0XL-LAB-GUEST-PREVIOUS 0XL-LAB-GUEST-DISK boot=1 state=up tag=mail" in console, console
    assert json.loads(_ok(share, "second", "after-status"))["state"] == "running"
    assert json.loads(_ok(share, "second", "after-spare", 12))["state"] == "stopped"
    assert "boot=2 state=up tag=mail" in _ok(share, "second", "marker")
    assert "mail: already running" in _ok(share, "second", "boot-again")
