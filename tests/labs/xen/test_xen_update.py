"""An update and an automatic rollback of a Xen service in the Xen lab (issue 4 on the xen backend): the
real xl, LVM and xenconsoled, health checked by the guest's console line and its web server.

xen-update-dom0.sh runs it in one boot; the guest's disk marker, printed on its console at every boot,
shows that each version found the data the version before it left.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.labs.xen import guest_feed, lab
from tests.support.gpgkeys import make_publisher

pytestmark = pytest.mark.xen

SCRIPT = Path(__file__).with_name("xen-update-dom0.sh")


class Results:
    def __init__(self, root: Path) -> None:
        self.root = root

    def rc(self, name: str) -> int | None:
        path = self.root / f"{name}.rc"
        return int(path.read_text()) if path.exists() else None

    def out(self, name: str) -> str:
        path = self.root / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def ok(self, *names: str) -> None:
        for name in names:
            assert self.rc(name) == 0, f"check {name}: exit status {self.rc(name)}, output:\n{self.out(name)}"

    def json(self, name: str) -> Any:
        self.ok(name)
        return json.loads(self.out(name))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Results:
    if os.geteuid() != 0:
        pytest.skip("the Xen lab needs root (debootstrap, chroot, QEMU's 9p as root)")
    lab.build()
    share = tmp_path_factory.mktemp("xen-update-share")
    publisher = make_publisher(tmp_path_factory.mktemp("publisher") / "gnupg")
    scratch = tmp_path_factory.mktemp("publishing")
    feeds = {"guest": "pvh"}
    try:
        # One feed file, published three times: each state is a copy of the site as it was then.
        site = scratch / "site"
        past = int(time.time()) - 600
        for state, (version, broken) in enumerate((("1.0", False), ("2.0", False), ("3.0", True)), start=1):
            guest_feed.publish(site, publisher, scratch, version=version, feeds=feeds, broken=broken)
            copy = share / f"site-{state}"
            subprocess.run(["cp", "-a", str(site), str(copy)], check=True)
            # Whole seconds apart: the server answers 0xl's If-Modified-Since by the files' times, to the
            # second, and two states published within one second would look unchanged.
            for path in copy.iterdir():
                os.utime(path, (past + 60 * state, past + 60 * state))
    finally:
        subprocess.run(["gpgconf", "--homedir", str(publisher.gnupghome), "--kill", "gpg-agent"], check=False)
    (share / "fingerprint").write_text(publisher.fingerprint)
    result = lab.run_script(SCRIPT, timeout=1200, share_dir=share)
    assert result.returncode == 0, result.output
    return Results(share / "results")


def test_the_service_runs_its_first_version(results: Results) -> None:
    results.ok("add", "set", "run", "run-up")
    assert "healthy when 10.0.0.4:80 answers and log matches '0XL-LAB-GUEST-UP' and it stays up 3 s" in results.out(
        "set"
    )


def test_an_update_replaces_the_domain_and_the_new_version_finds_the_data(results: Results) -> None:
    results.ok("update-check", "update")
    assert "up: 1.0 -> 2.0 available" in results.out("update-check")
    assert "up: updated 1.0 -> 2.0 (healthy after" in results.out("update")
    logs = results.out("update-logs")
    # 1.0 shut down cleanly (state=down), and 2.0 booted from the same volume.
    assert "0XL-LAB-GUEST-PREVIOUS 0XL-LAB-GUEST-DISK boot=1 state=down tag=up" in logs
    assert "0XL-LAB-GUEST-UP tag=up boot=2" in logs
    status = results.json("update-status")
    assert (status["state"], status["version"]) == ("running", "2.0")


def test_a_version_that_does_not_stay_up_is_rolled_back_with_the_data_intact(results: Results) -> None:
    assert results.rc("rollback") == 10, results.out("rollback")
    out = results.out("rollback")
    assert "3.0 failed its health check" in out and "rolled back to 2.0" in out
    logs = results.out("rollback-logs")
    assert "0XL-LAB-GUEST-BROKEN" in logs
    # 3.0 never touched the disk; 2.0 came back to find what it left there at its clean shutdown.
    assert "0XL-LAB-GUEST-PREVIOUS 0XL-LAB-GUEST-DISK boot=2 state=down tag=up" in logs
    assert "0XL-LAB-GUEST-UP tag=up boot=3" in logs
    status = results.json("rollback-status")
    assert (status["state"], status["version"]) == ("running", "2.0")
    assert results.out("rollback-domains").split() == ["Domain-0", "up"]


def test_the_history_records_the_update_and_the_rollback(results: Results) -> None:
    history = [
        (h["action"], (h["from"] or {}).get("version"), h["to"]["version"], h["outcome"])
        for h in results.json("history")
    ]
    assert history == [
        ("add", None, "1.0", "ok"),
        ("update", "1.0", "2.0", "ok"),
        ("update", "2.0", "3.0", "failed"),
        ("auto-rollback", "3.0", "2.0", "ok"),
    ]
    results.ok("again")
    assert "passing over 3.0" in results.out("again")


def test_after_all_that_the_volume_holds_the_last_clean_shutdown(results: Results) -> None:
    results.ok("stop", "destroy")
    assert results.out("stop-marker").strip() == "0XL-LAB-GUEST-DISK boot=3 state=down tag=up"
