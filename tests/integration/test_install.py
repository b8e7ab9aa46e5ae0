"""The package as pip installs it into a fresh venv: the `0xl` command, the completion scripts and the
man page it prints, the licence. Dependencies come from this test's own environment (a .pth file), so
that only the build backend is fetched from the package index."""

from __future__ import annotations

import shutil
import site
import subprocess
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_pip_install_in_a_fresh_venv_gives_a_working_0xl(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "*cache*", "build", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "--no-deps", str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    (Path(purelib) / "deps-from-the-test.pth").write_text("\n".join(sorted(ours)) + "\n")

    def zx(*args: str) -> str:
        return subprocess.run(
            [str(venv / "bin" / "0xl"), *args], capture_output=True, text=True, check=True, cwd=tmp_path
        ).stdout

    assert zx("--version").startswith("0xl ")
    assert zx("completion", "bash").startswith("# bash completion for 0xl")
    assert zx("completion", "fish").startswith("# fish completion for 0xl")
    assert zx("completion", "zsh").startswith("#compdef 0xl")
    assert zx("man").startswith(".TH 0XL 1")
    # The installed package, not the working tree's (the .pth lists only site-packages).
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import zeroxl; print(zeroxl.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(purelib), where
    [dist] = Path(purelib).glob("zeroxl-*.dist-info")
    assert "MIT License" in (dist / "licenses" / "LICENSE").read_text()
    assert "Requires-Dist: idna" in (dist / "METADATA").read_text()
