"""`0xl list` cuts its columns to fit a terminal, never when piped, and not with --no-trunc (issue 16)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl

NAME = "a-service-with-a-rather-long-feed-name"


def _on_terminal(home: Path, *args: str, columns: int = 60) -> str:
    """`0xl list ARGS` with stdout on a pseudo-terminal COLUMNS wide; what it printed."""
    master, slave = pty.openpty()
    env = dict(os.environ, ZEROXL_HOME=str(home), TERM="dumb", COLUMNS=str(columns), NO_COLOR="1")
    p = subprocess.Popen([sys.executable, "-m", "zeroxl", "list", *args], stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert p.wait(timeout=60) == 0, seen
    os.close(master)
    return seen.decode(errors="replace").replace("\r\n", "\n")


@pytest.fixture
def url(site: FeedSite, zx) -> str:
    url = site.publish(NAME, [Impl("1.0")])
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint).rc == 0
    return url


def test_piped_list_shows_the_feed_whole(zx, url: str) -> None:
    r = zx("list")
    assert r.rc == 0 and url in r.out, r


def test_a_narrow_terminal_cuts_the_feed_unless_no_trunc(zhome: Path, url: str) -> None:
    cut = _on_terminal(zhome)
    assert "web" in cut and url not in cut, cut  # what --no-trunc is for
    whole = _on_terminal(zhome, "--no-trunc")
    assert url in whole, whole
    assert whole.splitlines()[0].split() == ["NAME", "STATE", "VERSION", "BACKEND", "UPTIME", "FEED"]


def test_no_trunc_through_the_parser_too(zhome: Path, url: str) -> None:
    # `0xl list --no-trunc` alone takes the fast path; with --debug it goes through argparse.
    assert url in _on_terminal(zhome, "--no-trunc", "--debug")
