"""Two commands editing one feed take turns: each holds a lock on the feed file from its reading to its
writing, so neither writes over what the other added. The lock is on the file itself (no lock files in
the publisher's directory), and an edit replaces the file, so a waiter must lock the new file, not the
one it first opened."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_publish import zxp
from tests.support.killing import Stoppable
from tests.support.zx import wait_for
from zeroxl.errors import ConflictError
from zeroxl.feeds.parse import parse_feed
from zeroxl.publish import feedfile
from zeroxl.publish.edit import add_implementation
from zeroxl.publish.feedfile import editing

WAITING = "waiting for another 0xl command that is editing"


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "site" / "svc.xml"
    path.parent.mkdir()
    r = zxp(
        "feed", "init", path, "--uri", "http://example.org/svc.xml", "--name", "svc", "--summary", "s", home=tmp_path
    )
    assert r.rc == 0, r
    return path


def build(tmp_path: Path, version: str) -> Path:
    """A directory holding a build of VERSION: bin/run."""
    tree = tmp_path / f"build-{version}"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "run").write_text(f"#!/bin/sh\necho {version}\n")
    (tree / "bin" / "run").chmod(0o755)
    return tree


def add_args(feed: Path, tmp_path: Path, version: str) -> list[str]:
    return ["feed", "add", str(feed), "--version", version, "--arch", "*-*", "--dir", str(build(tmp_path, version)),
            "--command", "bin/run"]  # fmt: skip


def versions(feed: Path) -> list[str]:
    parsed = parse_feed(feed.read_bytes(), url="http://example.org/svc.xml")
    return sorted(str(impl.version) for impl in parsed.implementations)


@pytest.fixture
def held(feed: Path) -> Iterator[int]:
    """The feed locked as another 0xl edit locks it; the test closes the descriptor to let go."""
    fd = os.open(feed, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    yield fd
    with contextlib.suppress(OSError):  # closed by the test already
        os.close(fd)


def test_an_edit_waits_for_the_one_in_progress_and_keeps_its_change(feed: Path, tmp_path: Path, held: int) -> None:
    home = tmp_path / "home"
    home.mkdir()
    second = Stoppable(home, None, *add_args(feed, tmp_path, "2.0"))
    try:
        assert wait_for(lambda: WAITING in second.output(), timeout=30), second.output()
        assert second.proc.poll() is None
        # Meanwhile the first edit adds 1.0 and, as every edit does, replaces the file.
        draft = feed.with_name("draft.xml")
        shutil.copyfile(feed, draft)
        assert zxp(*add_args(draft, tmp_path, "1.0"), home=home).rc == 0
        os.replace(draft, feed)
        os.close(held)
        assert second.proc.wait(timeout=60) == 0, second.output()
    finally:
        if second.proc.poll() is None:
            second.kill()
    assert versions(feed) == ["1.0", "2.0"]
    assert second.output().count(WAITING) == 1  # said once, however long it waits


def test_concurrent_edits_all_land(feed: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    edits = [Stoppable(home, None, *add_args(feed, tmp_path, f"1.{n}")) for n in range(4)]
    for edit in edits:
        assert edit.proc.wait(timeout=120) == 0, edit.output()
    assert versions(feed) == ["1.0", "1.1", "1.2", "1.3"]
    assert sorted(p.name for p in feed.parent.iterdir() if not p.name.endswith(".tar.gz")) == ["svc.xml"]


def test_an_edit_that_cannot_get_the_feed_in_time_changes_nothing(
    feed: Path, tmp_path: Path, held: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feedfile, "EDIT_WAIT", 0.3)
    before = feed.read_bytes()
    said: list[str] = []
    with pytest.raises(ConflictError, match="is being edited by another command"):
        add_implementation(
            feed,
            version="1.0",
            arch="*-*",
            directory=build(tmp_path, "1.0"),
            command="bin/run",
            on_wait=lambda: said.append("waiting"),
        )
    assert said == ["waiting"]
    assert feed.read_bytes() == before
    assert sorted(p.name for p in feed.parent.iterdir()) == ["svc.xml"]  # no archive packed either


def test_a_feed_replaced_while_waiting_is_read_afresh(feed: Path, tmp_path: Path, held: int) -> None:
    replacement = feed.read_bytes().replace(b"<summary>s</summary>", b"<summary>new</summary>")
    assert replacement != feed.read_bytes()

    def replace_and_let_go() -> None:
        draft = feed.with_name("draft.xml")
        draft.write_bytes(replacement)
        os.replace(draft, feed)
        os.close(held)

    with editing(feed, wait=10, on_wait=replace_and_let_go) as edited:
        assert edited.text == replacement
