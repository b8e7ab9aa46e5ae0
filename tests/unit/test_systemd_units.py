"""The shipped systemd units: what they run, that the services 0xl starts outlive them, and that
systemd accepts them (`systemd-analyze verify`, where systemd is installed)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

UNITS = files("zeroxl") / "systemd"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNITS.joinpath(name).read_text())
    return parser


def test_service_runs_update_all_and_lets_the_services_it_starts_outlive_it() -> None:
    svc = unit("0xl-update.service")["Service"]
    assert svc["Type"] == "oneshot"
    assert svc["ExecStart"].split()[:3] == ["0xl", "update", "--all"]
    assert "--wait" in svc["ExecStart"]  # a run that meets one started by hand waits for it
    assert svc["KillMode"] == "process"


def test_boot_unit_runs_boot_after_the_hypervisor_and_lets_the_services_outlive_it() -> None:
    boot = unit("0xl.service")
    assert boot["Service"]["ExecStart"].split()[:2] == ["0xl", "boot"]
    assert boot["Service"]["Type"] == "oneshot" and boot["Service"]["KillMode"] == "process"
    after = boot["Unit"]["After"].split()
    assert {"xenstored.service", "xenconsoled.service", "libvirtd.service", "network-online.target"} <= set(after)
    assert boot["Install"]["WantedBy"] == "multi-user.target"


def test_timer_starts_the_service_and_catches_up_after_downtime() -> None:
    timer = unit("0xl-update.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_web_service_serves_on_loopback_and_writes_nothing() -> None:
    from zeroxl.cli.parser import build_parser

    svc = unit("0xl-web.service")["Service"]
    argv = svc["ExecStart"].split()
    assert argv[0] == "0xl"
    args = build_parser().parse_args(argv[1:])
    assert args.command == "serve" and args.listen.startswith("127.0.0.1:") and args.token_file is None
    assert svc["ProtectSystem"] == "strict"  # read-only, as the server is
    assert unit("0xl-web.service")["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    names = ("0xl.service", "0xl-update.service", "0xl-update.timer", "0xl-web.service")
    for name in names:
        text = UNITS.joinpath(name).read_text()
        # systemd looks `0xl` up in its own search path; here it lives in the test's environment.
        text = text.replace("ExecStart=0xl ", f"ExecStart={Path(sys.executable).with_name('0xl')} ")
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            *(str(tmp_path / name) for name in names),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
