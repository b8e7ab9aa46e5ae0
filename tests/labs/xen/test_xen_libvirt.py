"""The libvirt backend through libvirt's Xen driver (`[libvirt] uri = "xen:///system"`) in the Xen lab: a
real libvirtd with its libxl driver in dom0, beside xl, xenconsoled and the bridge, running the lab's test
guest (signed Xen-x86_64 feeds: guest_feed.py) as a PVH domain from the XML 0xl wrote.

xen-libvirt-dom0.sh runs the scenario in one boot; each test asserts on some of its checks' results.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring as safe_fromstring

from tests.labs.xen.test_xen_backend import Run, run_scenario

pytestmark = pytest.mark.xen

SCRIPT = Path(__file__).with_name("xen-libvirt-dom0.sh")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_scenario(SCRIPT, tmp_path_factory, "xen-libvirt-share")


def test_libvirtd_runs_its_xen_driver_in_dom0(run: Run) -> None:
    run.ok("libvirt-up", "libvirt-version")
    assert "Running hypervisor: Xen 4.17" in run.out("libvirt-version"), run.out("libvirt-version")


def test_add_defines_a_pvh_domain_with_the_disk_at_xvdb(run: Run) -> None:
    run.ok("add", "config")
    assert "Xen-x86_64 (libvirt)" in run.out("add")
    assert run.out("add-virsh").split() == ["Domain-0", "web"]  # web defined, not running (libxl lists dom0)
    root = safe_fromstring(run.out("config"))
    assert root.get("type") == "xen"
    os_type = root.find("os/type")
    assert os_type is not None and (os_type.text, os_type.get("machine")) == ("xenpvh", "xenpvh")
    assert (root.findtext("os/kernel") or "").endswith("/vmlinuz")
    assert root.findtext("os/cmdline") == "--tag=web --ip=10.0.0.3/24"
    [disk] = root.findall("devices/disk")
    # The feed's block storage names no disk: mirage's numbering puts it at xvdb, given to libxl by path.
    assert disk.find("target").attrib == {"dev": "xvdb", "bus": "xen"}  # type: ignore[union-attr]
    source = disk.find("source")
    assert source is not None
    assert source.get("file", "").endswith("/0xl-web-storage"), source.attrib
    [nic] = root.findall("devices/interface")
    assert nic.find("source").attrib == {"bridge": "xenbr0"}  # type: ignore[union-attr]


def test_a_pv_build_is_refused_through_libvirt(run: Run) -> None:
    assert run.rc("pv-refused") not in (0, None)
    assert "0xl runs Xen guests through libvirt as PVH only" in run.out("pv-refused"), run.out("pv-refused")
    assert "pv" not in run.out("run-virsh").split()


def test_run_starts_it_through_libvirt_and_its_console_reaches_0xl_logs(run: Run) -> None:
    run.ok("run", "run-up", "run-net", "run-logs", "run-xl", "run-ping")
    assert run.out("run-virsh").split() == ["Domain-0", "web"]
    logs = run.out("run-logs")
    assert "0XL-LAB-GUEST-UP tag=web boot=1" in logs
    assert "0XL-LAB-GUEST-NO-DISK" not in logs  # it found its disk at xvdb, where the feed's block is
    live = safe_fromstring(run.out("run-dumpxml"))
    assert live.get("type") == "xen" and live.find("metadata") is not None
    mac = safe_fromstring(run.out("config")).find("devices/interface/mac")
    assert mac is not None and live.find("devices/interface/mac").get("address") == mac.get("address")  # type: ignore[union-attr]
    status = run.json("run-status")
    assert (status["state"], status["backend"]) == ("running", "libvirt")
    assert status["runtime"]["libvirt_state"] == "running" and status["runtime"]["memory_mib"] == 128


def test_stop_shuts_it_down_cleanly_and_a_second_run_finds_the_data(run: Run) -> None:
    run.ok("stop", "stop-domstate", "rerun", "rerun-up")
    assert run.out("stop-domstate").strip() == "shut off"
    assert run.json("stop-status", 12)["state"] == "stopped"
    assert run.out("stop-marker").strip() == "0XL-LAB-GUEST-DISK boot=1 state=down tag=web"
    assert "0XL-LAB-GUEST-PREVIOUS 0XL-LAB-GUEST-DISK boot=1 state=down tag=web" in run.out("rerun-logs")


def test_destroy_undefines_the_domain_and_keeps_the_volume(run: Run) -> None:
    run.ok("destroy", "destroy-virsh", "destroy-disk-list")
    assert run.out("destroy-virsh").split() == ["Domain-0"]  # undefined
    assert "web" not in run.out("destroy-xl").split()
    assert run.out("destroy-marker").strip() == "0XL-LAB-GUEST-DISK boot=2 state=down tag=web"
    [kept] = run.json("destroy-disk-list")
    assert (kept["service"], kept["name"], kept["in_use"]) == ("web", "storage", False)
    run.ok("destroy-delete")
    assert "0xl-web-storage" not in run.out("destroy-delete-vols")
