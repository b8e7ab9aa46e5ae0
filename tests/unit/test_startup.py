"""What `0xl list` loads before it prints: scripts poll `0xl list --json`, and most of its time is Python
starting and importing. It reads records and prints JSON without the modules that cost most to import
(re, and json, enum, functools and typing with it), which a test can check and a benchmark cannot keep.
Timings are for bench/ (bench_list.py); this checks what is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from zeroxl.host.paths import Home
from zeroxl.state.selected import Selected
from zeroxl.state.service import Records, Service

# Each is several milliseconds of `0xl list` when imported (python -X importtime), or pulls in one that is.
HEAVY = {"re", "json", "enum", "functools", "typing", "pathlib", "dataclasses", "argparse", "collections", "re2"}


def test_list_loads_none_of_the_heavy_modules(tmp_path: Path) -> None:
    records = Records(Home(tmp_path).services)
    for i in range(3):
        sel = Selected(f"id{i}", "1.0", "sha256new_X", "*-*", "stable", "bin/web")
        records.save(
            Service(name=f"svc-{i}", feed=f"http://127.0.0.1:1/{i}.xml", backend="unix", target="x", current=sel)
        )
    # Modules the interpreter loaded on its own (site may load some of these) do not count.
    code = (
        "import sys\n"
        "preloaded = set(sys.modules)\n"
        "from zeroxl.cli.main import main\n"
        "status = main(['list', '--json'])\n"
        "print(status, *sorted(set(sys.modules) - preloaded), file=sys.stderr)\n"
    )
    env = dict(os.environ, ZEROXL_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    status, *loaded = done.stderr.split()
    assert status == "0" and [s["name"] for s in json.loads(done.stdout)] == ["svc-0", "svc-1", "svc-2"]
    assert not (set(loaded) & HEAVY), sorted(set(loaded) & HEAVY)
