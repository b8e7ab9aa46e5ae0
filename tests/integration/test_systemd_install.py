"""`0xl systemd install` writes 0xl's units with the absolute path of the `0xl` that ran it and its
ZEROXL_HOME, enables them offline (`systemctl --root`), and systemd accepts what it wrote (issue 14)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.words import refused
from tests.support.zx import Result, zx_process
from zeroxl.app.systemd_units import UNITS, render
from zeroxl.cli.parser import build_parser
from zeroxl.errors import UsageError

UNIT_DIR = "etc/systemd/system"
needs_systemd = pytest.mark.skipif(
    shutil.which("systemctl") is None or shutil.which("systemd-analyze") is None, reason="systemd is not installed"
)


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def installed_0xl(*args: str, home: Path, env: dict[str, str] | None = None) -> Result:
    """The `0xl` script of this environment (a venv install), run as a user runs it."""
    script = Path(sys.executable).with_name("0xl")
    p = subprocess.run(
        [str(script), *args],
        env={**os.environ, "ZEROXL_HOME": str(home), **(env or {})},
        capture_output=True,
        text=True,
    )
    return Result(p.returncode, p.stdout, p.stderr)


def verify(unit_dir: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(unit_dir / name) for name in UNITS)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "0xl" not in done.stderr, done.stderr  # no warning about what 0xl wrote


@needs_systemd
def test_install_writes_the_path_of_this_0xl_and_enables_the_boot_unit(tmp_path: Path, zhome: Path) -> None:
    root = tmp_path / "root"
    r = installed_0xl("systemd", "install", "--root", str(root), home=zhome)
    assert r.rc == 0, r
    assert "enabled 0xl.service 0xl-update.timer" in r.out, r
    unit_dir = root / UNIT_DIR
    script = str(Path(sys.executable).with_name("0xl"))
    boot = unit(unit_dir / "0xl.service")
    argv = boot["Service"]["ExecStart"].split()
    assert argv[0] == script and os.path.isabs(argv[0])
    assert build_parser().parse_args(argv[1:]).command == "boot"
    assert boot["Service"]["Environment"] == f"ZEROXL_HOME={zhome}"
    assert {"xenstored.service", "xenconsoled.service", "libvirtd.service", "network-online.target"} <= set(
        boot["Unit"]["After"].split()
    )
    assert unit(unit_dir / "0xl-update.service")["Service"]["ExecStart"].startswith(f"{script} update --all")
    assert unit(unit_dir / "0xl-web.service")["Service"]["ExecStart"].startswith(f"{script} serve")
    # systemctl --root made the links that enabling makes; the status page is not enabled unless asked.
    assert (unit_dir / "multi-user.target.wants" / "0xl.service").is_symlink()
    assert (unit_dir / "timers.target.wants" / "0xl-update.timer").is_symlink()
    assert not (unit_dir / "multi-user.target.wants" / "0xl-web.service").exists()
    verify(unit_dir)


@needs_systemd
def test_install_from_python_m_zeroxl_runs_this_python(tmp_path: Path, zhome: Path) -> None:
    root = tmp_path / "root"
    r = zx_process("systemd", "install", "--root", str(root), "--web", home=zhome)
    assert r.rc == 0, r
    unit_dir = root / UNIT_DIR
    argv = unit(unit_dir / "0xl.service")["Service"]["ExecStart"].split()
    assert argv[:4] == [os.path.abspath(sys.executable), "-m", "zeroxl", "boot"]
    assert (unit_dir / "multi-user.target.wants" / "0xl-web.service").is_symlink()
    verify(unit_dir)


def test_dry_run_writes_nothing(tmp_path: Path, zhome: Path) -> None:
    root = tmp_path / "root"
    r = installed_0xl("systemd", "install", "--root", str(root), "--dry-run", home=zhome)
    assert r.rc == 0, r
    assert f"# {root}/{UNIT_DIR}/0xl.service\n" in r.out and "ExecStart=/" in r.out, r
    assert not root.exists()


def test_without_systemctl_the_units_are_written_and_the_command_says_nothing_was_enabled(
    tmp_path: Path, zhome: Path
) -> None:
    root = tmp_path / "root"
    r = zx_process("systemd", "install", "--root", str(root), home=zhome, env={"PATH": str(tmp_path / "nothing")})
    assert r.rc == 0, r
    assert "enabled nothing: systemctl is not installed" in r.out, r
    assert sorted(p.name for p in (root / UNIT_DIR).iterdir()) == sorted(UNITS)


def test_a_path_systemd_would_read_otherwise_is_refused() -> None:
    with refused(UsageError, "cannot write '/opt/my tools/0xl' into a systemd unit"):
        render("0xl.service", ["/opt/my tools/0xl"], "/var/lib/0xl")
    with refused(UsageError, "cannot write 'relative/0xl'"):
        render("0xl.service", ["relative/0xl"], "/var/lib/0xl")
    assert "ExecStart=/opt/0xl/bin/0xl boot" in render("0xl.service", ["/opt/0xl/bin/0xl"], "/var/lib/0xl")
