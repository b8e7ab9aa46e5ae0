"""On a terminal, an unknown key is shown (fingerprint, user id, domain) and may be confirmed;
without a terminal it is refused with the exact command that would trust it."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.http import StaticServer
from tests.support.terminal import run_on_terminal
from zeroxl.cli.main import main
from zeroxl.feeds.trust import spaced


def test_unknown_key_is_shown_and_trusted_when_confirmed(site: FeedSite, zhome: Path, server: StaticServer, zx) -> None:
    url = site.publish("web", [Impl("1.0")])
    rc, screen = run_on_terminal(["add", "web", url], zhome, b"y\n")
    assert rc == 0, screen
    assert spaced(site.publisher.fingerprint) in screen
    assert site.publisher.uid in screen
    assert server.domain in screen
    trusted = json.loads(zx("trust", "list", "--json").out)
    assert trusted == [{"fingerprint": site.publisher.fingerprint, "domains": [server.domain]}]


def test_unknown_key_is_refused_when_not_confirmed(site: FeedSite, zhome: Path, zx) -> None:
    url = site.publish("web", [Impl("1.0")])
    rc, screen = run_on_terminal(["add", "web", url], zhome, b"n\n")
    assert rc == 4, screen
    assert "not trusted" in screen
    assert json.loads(zx("trust", "list", "--json").out) == []
    assert json.loads(zx("list", "--json").out) == []
    # The prompt and the hint after it group the fingerprint alike, so that an eye can compare them.
    grouped = spaced(site.publisher.fingerprint)
    assert f"  fingerprint: {grouped}\r\n" in screen, screen
    assert f"if the publisher confirms the fingerprint {grouped}, trust it with" in screen, screen


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_ctrl_c_says_interrupted_on_a_line_of_its_own_on_a_terminal(
    zhome: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The terminal echoes ^C where the cursor is (after "[y/N] ", say): "^C0xl: interrupted" was one line.
    # Ctrl-C is injected here (a real one at a prompt needs a controlling terminal); real SIGINTs are in
    # test_update_interrupted.
    from zeroxl.cli import service_cmds

    def interrupted(_a: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(service_cmds, "cmd_run", interrupted)
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["run", "web"]) == 130
    assert err.getvalue() == "\n0xl: interrupted\n"


def test_key_info_hints_come_only_from_a_configured_server(site: FeedSite, zhome: Path, server: StaticServer) -> None:
    url = site.publish("web", [Impl("1.0")])
    (server.root / "key").mkdir()
    (server.root / "key" / site.publisher.fingerprint).write_text(
        '<?xml version="1.0"?><key-lookup><item vote="good">Known publisher of web</item></key-lookup>'
    )
    rc, screen = run_on_terminal(["add", "web", url], zhome, b"n\n")
    assert rc == 4 and "Known publisher" not in screen
    assert not any(p.startswith("/key/") for p in server.requests)

    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text(f'[trust]\nkey_info_server = "{server.url}"\n')
    rc, screen = run_on_terminal(["add", "web", url], zhome, b"n\n")
    assert rc == 4
    assert "key info (good): Known publisher of web" in screen
