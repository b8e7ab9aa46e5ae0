"""Finding a unix service's supervisor in /proc when its state file cannot be read (backends.unix.runtime):
one started by this 0xl, and one started before backends/unix/ was a package, still running after an
upgrade. Real processes with those command lines."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from zeroxl.backends.unix import runtime
from zeroxl.host import procinfo


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        p.kill()
        p.wait()


def supervisor_like(module: str, service_dir: Path) -> subprocess.Popen[bytes]:
    """A process whose command line ends as a supervisor's does: `-m MODULE SERVICE_DIR`."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-m", module, str(service_dir)])


def test_supervisors_of_this_0xl_and_of_an_earlier_one_are_found(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    web, other = tmp_path / "web", tmp_path / "other"
    new = supervisor_like("zeroxl.backends.unix.supervisor", web)
    old = supervisor_like("zeroxl.backends.supervisor", web)
    elsewhere = supervisor_like("zeroxl.backends.unix.supervisor", other)
    unrelated = supervisor_like("zeroxl.app.guardian", web)
    started += [new, old, elsewhere, unrelated]
    found: list[int] = []
    for _ in range(100):  # until the interpreters have their command lines in place
        found = runtime.supervisors_of(procinfo.own_processes(), str(web))
        if len(found) == 2:
            break
        time.sleep(0.05)
    assert found == sorted([new.pid, old.pid])
