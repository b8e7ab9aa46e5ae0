"""`0xl logs --timestamps` and `--since` on a unix service, with a real supervised program: each line
carries the time its supervisor received it (not when it was read), kept in the log file; without
--timestamps the output is what the program wrote (issue 14)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import wait_for
from zeroxl.host import logstamp

# Two lines two seconds apart, the second written in two pieces a second apart.
PROGRAM = b"""#!/bin/sh
echo first
sleep 2
printf 'sec'
sleep 1
printf 'ond\\n'
exec sleep 1000
"""


def _stamped(text: str) -> list[tuple[float, str]]:
    out = []
    for line in text.splitlines():
        when, rest = logstamp.parse(line.encode())
        assert when is not None, line
        out.append((when, rest.decode()))
    return out


def test_logs_show_when_each_line_was_received_and_since_keeps_the_later_ones(site: FeedSite, zx, zhome: Path) -> None:
    url = site.publish("svc", [Impl("1.0", files={"bin/web": (PROGRAM, 0o755)})])
    assert zx("add", "svc", url, "--trust-key", site.publisher.fingerprint).rc == 0
    before = time.time()
    assert zx("run", "svc").rc == 0
    assert wait_for(lambda: "second" in zx("logs", "svc").out, timeout=15)
    after = time.time()
    time.sleep(1.5)  # read well after the lines came: the stamps must not be the time of reading
    plain = zx("logs", "svc").out
    assert plain.splitlines()[1:] == ["first", "second"], plain  # as the program wrote them
    r = zx("logs", "svc", "--timestamps")
    assert r.rc == 0, r
    lines = _stamped(r.out)
    assert [text for _, text in lines][1:] == ["first", "second"]
    assert lines[0][1].startswith("[0xl ") and "started version 1.0" in lines[0][1]
    first, second = lines[1][0], lines[2][0]
    assert before - 1 <= first <= second <= after
    assert second - first >= 1.5  # when its first piece came, 2 s after `first`
    # The stamp is UTC, as docker's and journalctl's --utc: 2026-12-06T14:10:18.123456Z.
    assert r.out.splitlines()[1][:26] == datetime.fromtimestamp(first, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    middle = datetime.fromtimestamp((first + second) / 2, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    r = zx("logs", "svc", "--since", middle)
    assert r.rc == 0 and r.out == "second\n", r
    r = zx("logs", "svc", "--since", "1h", "-t")
    assert [text for _, text in _stamped(r.out)][1:] == ["first", "second"], r
    r = zx("logs", "svc", "--since", "yesterday")
    assert r.rc == 2 and "is neither how long ago" in r.err, r
    # The file keeps the stamps (the supervisor wrote them): they do not depend on who reads when.
    assert logstamp.parse((zhome / "services/svc/log").read_bytes().splitlines()[1])[0] == first
