"""`0xl serve` alone loads the web stack: `0xl list` (polled by scripts), the other commands and the
parser that knows `serve` import none of aiohttp, Jinja2, prometheus_client or zeroxl.web."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

WEB = ("aiohttp", "jinja2", "prometheus_client", "zeroxl.web")


@pytest.mark.parametrize("argv", [["list"], ["list", "--json"], ["status", "nosuch"], ["top", "-n", "1", "-b"]])
def test_commands_but_serve_do_not_import_the_web_stack(tmp_path: Path, argv: list[str]) -> None:
    code = (
        "import sys; from zeroxl.cli.main import main; main(sys.argv[1:]); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {WEB!r} or m.startswith('zeroxl.web')))"
    )
    env = dict(os.environ, ZEROXL_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env)
    assert done.stdout.splitlines()[-1] == "[]", done


def test_serve_imports_it(tmp_path: Path) -> None:
    # The counter-check: the probe above sees the web stack when it is there.
    code = "import sys; import zeroxl.web.server; print('aiohttp' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
