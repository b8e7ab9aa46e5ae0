"""What a unix service uses, read from /proc, in `status`, `list --json` and `0xl top`: real processes that
burn CPU, hold memory, leave a child behind and write to their disk."""

from __future__ import annotations

import json

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import wait_for

MIB = 1 << 20
# Writes 3 MiB to its disk, leaves a child holding 40 MiB, then holds 64 MiB itself after about half a
# second of CPU time.
HUNGRY = b"""#!/bin/sh
dd if=/dev/urandom of="$ZEROXL_DISK_DATA" bs=1M count=3 conv=notrunc 2>/dev/null
python3 -c 'import time; b = b"y" * (40 << 20); time.sleep(1000)' &
exec python3 -c '
import time
b = b"x" * (64 << 20)
t = time.process_time()
while time.process_time() - t < 0.5:
    pass
print("ready", flush=True)
time.sleep(1000)
'
"""


@pytest.fixture
def hungry(site: FeedSite, zx) -> None:
    url = site.publish("hungry", [Impl("1.0", files={"bin/web": (HUNGRY, 0o755)})])
    r = zx("add", "hungry", url, "--trust-key", site.publisher.fingerprint, "--disk", "16M")
    assert r.rc == 0, r
    assert zx("run", "hungry").rc == 0
    assert wait_for(lambda: "ready" in zx("logs", "hungry").out, timeout=20)


def status(zx) -> dict:
    return json.loads(zx("status", "hungry", "--json").out)


def test_status_shows_cpu_memory_processes_and_disk_use(hungry: None, zx) -> None:
    s = status(zx)
    res = s["resources"]
    # Both processes are counted: the program and the child it left running (and nothing of 0xl's).
    assert res["processes"] == 2, res
    assert 104 * MIB <= res["memory_bytes"] < 160 * MIB, res
    assert 0.5 <= res["cpu_seconds"] < 10, res
    (disk,) = s["disks"]
    assert disk["size"] == 16 * MIB and 3 * MIB <= disk["used"] < 4 * MIB, disk
    text = zx("status", "hungry").out
    assert "\ncpu:" in text and "% since it started)" in text
    assert "\nmemory:" in text and "MiB (2 processes)" in text
    assert "3.0 MiB used" in text
    listed = json.loads(zx("list", "--json").out)
    assert listed[0]["resources"]["processes"] == 2


def test_a_stopped_service_uses_nothing(hungry: None, zx) -> None:
    assert zx("stop", "hungry").rc == 0
    s = status(zx)
    assert s["resources"] is None
    assert s["disks"][0]["used"] >= 3 * MIB  # its disk keeps what it wrote
    assert "\ncpu:" not in zx("status", "hungry").out


def test_top_refreshes_with_the_rate_since_the_last_refresh(hungry: None, zx) -> None:
    r = zx("top", "--iterations", "2", "--delay", "0.5")
    assert r.rc == 0, r
    frames = [f for f in r.out.split("0xl top - ") if f]
    assert len(frames) == 2
    for frame in frames:
        lines = frame.splitlines()
        assert "1 service, 1 running" in lines[0]
        assert lines[1].split() == [
            "NAME", "STATE", "BACKEND", "VERSION", "CPU(s)", "CPU(%)", "MEM", "UPTIME", "RESTARTS", "DISK"
        ]  # fmt: skip
        row = lines[2].split()
        assert row[:4] == ["hungry", "running", "unix", "1.0"]
        assert float(row[5]) >= 0 and row[7] == "MiB"
    # The first frame: the average since it started, which the half second of CPU at its start lifts;
    # the second: the rate over the half second between the two, in which it slept.
    first, second = (float(f.splitlines()[2].split()[5]) for f in frames)
    assert first > 5 and second < first, r.out
