"""Terminal injection: text from a key, a feed, a key-info server or a service reaches the operator's
terminal with every control character shown escaped (zeroxl.safetext), never acted on.

The hostile key is a real one, made by gpg with a user id that erases the line above, moves the cursor
up and draws another fingerprint and name: what an attacker would need to have an operator trust their
key while reading someone else's. gpg lists it escaped; 0xl unescapes it and must escape it again.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.gpgkeys import Publisher, make_publisher
from tests.support.http import StaticServer
from tests.support.terminal import run_on_terminal
from tests.support.zx import snapshot, wait_for
from zeroxl.feeds.trust import spaced

# ESC [2K erases the line, ESC [1A moves up, CR goes back to its start; then a fake fingerprint line.
HOSTILE_UID = "Evil \x1b[2K\x1b[1A\r  fingerprint: 0000 FAKE\n  user id:     Trusted Publisher <ok@example.org>"
SHOWN_UID = "Evil \\x1b[2K\\x1b[1A\\r  fingerprint: 0000 FAKE\\n  user id:     Trusted Publisher <ok@example.org>"
# What an XML feed can carry (XML 1.0 forbids ESC even as a reference, not CR, C1 controls or bidi):
# a carriage return, a C1 CSI that some terminals obey as ESC [, and a right-to-left override.
XML_HOSTILE = "&#13;&#x9b;2J&#x202e;"
SHOWN_XML_HOSTILE = "\\r\\x9b2J\\u202e"
SHOWN_FOLDED = " \\x9b2J\\u202e"  # where whitespace is folded (a feed's name, a key-info hint), CR is a space
RAW = ("\x1b", "\x9b", "\u202e")  # none of these may reach the terminal


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Publisher]:
    pub = make_publisher(tmp_path_factory.mktemp("hostile") / "gnupg", uid=HOSTILE_UID)
    # gpg itself lists the user id escaped: 0xl reads it back to the real characters (feeds.gpg).
    listing = pub.gpg("--with-colons", "--list-keys").decode()
    assert "Evil \\x1b[2K\\x1b[1A\\r  fingerprint\\x3a 0000 FAKE\\n" in listing
    try:
        yield pub
    finally:
        subprocess.run(["gpgconf", "--homedir", str(pub.gnupghome), "--kill", "gpg-agent"], check=False)


def no_raw_controls(screen: str) -> None:
    for c in RAW:
        assert c not in screen, f"{c!r} reached the terminal:\n{screen!r}"


def test_the_trust_prompt_shows_a_hostile_user_id_escaped_on_one_line(
    site: FeedSite, hostile: Publisher, zhome: Path, server: StaticServer, zx
) -> None:
    url = site.publish("web", [Impl("1.0")], signer=hostile)
    (server.root / "key").mkdir()
    (server.root / "key" / hostile.fingerprint).write_text(
        f'<?xml version="1.0"?><key-lookup><item vote="good">Known{XML_HOSTILE} publisher</item></key-lookup>'
    )
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text(f'[trust]\nkey_info_server = "{server.url}"\n')

    rc, screen = run_on_terminal(["add", "web", url], zhome, b"n\n")

    assert rc == 4, screen
    no_raw_controls(screen)
    lines = screen.replace("\r\n", "\n").split("\n")
    assert f"  fingerprint: {spaced(hostile.fingerprint)}" in lines
    assert f"  user id:     {SHOWN_UID}" in lines  # the whole user id, on its own line
    assert f"  key info (good): Known{SHOWN_FOLDED} publisher" in lines
    assert sum(line.lstrip().startswith("fingerprint:") for line in lines) == 1
    assert zx("trust", "list", "--json").out.strip() == "[]"


def test_feed_check_shows_a_hostile_user_id_and_feed_name_escaped(
    site: FeedSite, hostile: Publisher, server: StaticServer, zx
) -> None:
    xml = site.feed_xml("web", [Impl("1.0")]).replace(b"<name>web</name>", f"<name>web{XML_HOSTILE}</name>".encode())
    (server.root / "web.xml").write_bytes(hostile.sign(xml))
    hostile.publish_key(server.root)

    r = zx("feed", "check", site.url("web"))

    assert r.rc == 0, r
    no_raw_controls(r.out + r.err)
    assert f"good, by {hostile.fingerprint} ({SHOWN_UID}), made " in r.out
    assert f"  web{SHOWN_FOLDED}: 1 implementation, uri {site.url('web')}\n" in r.out
    assert len(r.out.splitlines()) == 5  # checking…, signature, feed, 1.0, all checks passed


def test_an_error_quoting_the_feed_shows_it_escaped(site: FeedSite, zx, zhome: Path) -> None:
    # The implementation's id is quoted in the message that says it has no version.
    xml = site.feed_xml("web", [Impl("1.0")])
    xml = xml.replace(b' version="1.0" released', b" released").replace(
        b'id="sha256new_', f'id="x{XML_HOSTILE}sha256new_'.encode()
    )
    (site.root / "web.xml").write_bytes(site.publisher.sign(xml))
    before = snapshot(zhome)

    r = zx("add", "web", site.url("web"), "--trust-key", site.publisher.fingerprint)

    assert r.rc == 4, r
    no_raw_controls(r.err)
    assert f", implementation x{SHOWN_XML_HOSTILE}sha256new_" in r.err and r.err.count("\n") == 1, r
    assert r.err.startswith("0xl: error: ") and r.err.rstrip().endswith(": no version"), r
    assert snapshot(zhome) == before


LOUD_PROGRAM = b"""#!/usr/bin/env python3
import sys, time
out = sys.stdout.buffer
# A window title, a clear screen, a CRLF line end, a C1 CSI, bytes that are not UTF-8, a bidi override.
out.write(b"\\x1b]0;pwned\\x07\\x1b[2Jhello\\r\\nworld\\xc2\\x9b31m \\xff\\xfe \\xe2\\x80\\xae!\\n")
out.flush()
time.sleep(600)
"""


def test_logs_show_a_services_control_characters_escaped(site: FeedSite, zx) -> None:
    loud = Impl("1.0", files={"bin/web": (LOUD_PROGRAM, 0o755)})
    site.publish("web", [loud])
    r = zx("add", "web", site.url("web"), "--trust-key", site.publisher.fingerprint)
    assert r.rc == 0, r
    assert zx("run", "web").rc == 0
    assert wait_for(lambda: "world" in zx("logs", "web").out)

    out = zx("logs", "web").out

    no_raw_controls(out)
    assert "\\x1b]0;pwned\\x07\\x1b[2Jhello\nworld\\x9b31m \\xff\\xfe \\u202e!\n" in out
    assert zx("stop", "web").rc == 0
