"""On a terminal, an unknown key is shown (fingerprint, user id, domain) and may be confirmed;
without a terminal it is refused with the exact command that would trust it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.feeds import FeedSite, Impl
from tests.support.http import StaticServer
from tests.support.terminal import run_on_terminal


def test_unknown_key_is_shown_and_trusted_when_confirmed(site: FeedSite, zhome: Path, server: StaticServer, zx) -> None:
    url = site.publish("web", [Impl("1.0")])
    rc, screen = run_on_terminal(["add", "web", url], zhome, b"y\n")
    assert rc == 0, screen
    assert site.publisher.fingerprint in screen
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
