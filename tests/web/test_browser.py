"""The status page in a real headless Chromium (Debian's, through selenium and chromedriver), served by
`0xl serve` from a real ZEROXL_HOME with running unix services: it shows them, follows their changes by
itself, draws the history as a timeline, shows a feed's hostile name as text, and asks for the token
beyond loopback. Screenshots go to the test's directory, and to $ZEROXL_SCREENSHOTS when it is set
(`make screenshots` puts them in docs/)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.web import HOSTILE, HOSTILE_SUMMARY, chromium, serving, start_services
from tests.support.zx import free_port, wait_for

TOKEN = "fedcba9876543210fedcba9876543210"  # noqa: S105 - the tests' own


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = chromium(tmp_path / "chromium-profile")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(site: FeedSite, zx, zhome: Path) -> Iterator[str]:
    """The URL of `0xl serve` (refreshing every half second) for three services (start_services)."""
    start_services(site, zx)
    port = free_port()
    with serving(zhome, "--listen", f"127.0.0.1:{port}", "--refresh", "0.5", port=port) as s:
        yield s.url


def screenshot(driver: Any, tmp_path: Path, name: str, *, docs: bool = False) -> Path:
    """A screenshot in the test's directory; with DOCS, in $ZEROXL_SCREENSHOTS too (docs/img)."""
    path = tmp_path / f"{name}.png"
    assert driver.save_screenshot(str(path)), name
    assert path.stat().st_size > 10_000  # a page, not a blank
    if docs and os.environ.get("ZEROXL_SCREENSHOTS"):
        out = Path(os.environ["ZEROXL_SCREENSHOTS"])
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out / path.name)
    return path


def rows(driver: Any) -> dict[str, dict[str, str]]:
    """The services the page shows: name -> the text of each cell, by its class. Read in one script, as
    the page replaces its rows while it refreshes."""
    found = driver.execute_script(
        "return Array.from(document.querySelectorAll('tbody#services tr.service')).map(tr =>"
        " [tr.dataset.service, Object.fromEntries(Array.from(tr.cells).map(td => [td.className, td.innerText]))]);"
    )
    return dict(found)


def text(driver: Any, css: str) -> str | None:
    """The text of the first element CSS selects now (None if there is none), read in one script."""
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", css)


def texts(driver: Any, css: str, attribute: str = "textContent") -> list[str]:
    """ATTRIBUTE (or the property of that name) of every element CSS selects now, read in one script."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e =>"
        " e.getAttribute(arguments[1]) ?? e[arguments[1]]);",
        css,
        attribute,
    )


def test_page_shows_the_services_and_follows_their_state(browser: Any, page: str, zx, tmp_path: Path) -> None:
    browser.get(page + "/")
    shown = rows(browser)
    assert set(shown) == {"web", "evil", "idle"}
    assert shown["web"]["state"].startswith("running") and shown["web"]["version"] == "2.0"
    assert shown["idle"]["state"].startswith("stopped")
    assert shown["web"]["channel"] == "stable" and shown["web"]["restarts"] == "0"
    assert "ok 1.0 → 2.0" in shown["web"]["last-update"]
    assert shown["web"]["memory"].endswith("MiB") and shown["web"]["cpu"].endswith("%")
    assert "data: 64.0 MiB" in shown["web"]["disks"]
    assert "ago" in shown["web"]["signed"]
    screenshot(browser, tmp_path, "web-services", docs=True)
    # The page updates itself: no reload (the marker set here survives), the row changes.
    browser.execute_script("window.notReloaded = true;")
    assert zx("stop", "web").rc == 0
    assert wait_for(lambda: rows(browser)["web"]["state"].startswith("stopped"), timeout=15)
    assert zx("run", "idle").rc == 0
    assert wait_for(lambda: rows(browser)["idle"]["state"].startswith("running"), timeout=15)
    assert browser.execute_script("return window.notReloaded") is True
    assert "updated" in (text(browser, "#refresh") or "")
    screenshot(browser, tmp_path, "web-services-changed")


def test_hostile_feed_name_shows_as_text(browser: Any, page: str) -> None:
    browser.get(page + "/")
    evil = 'tr[data-service="evil"]'
    assert text(browser, f"{evil} .feed-name") == HOSTILE
    assert text(browser, f"{evil} .summary") == HOSTILE_SUMMARY
    # Again once the page's script has replaced the row with a refreshed one.
    browser.execute_script("document.querySelector(arguments[0]).dataset.old = 'yes';", evil)
    assert wait_for(lambda: browser.execute_script("return !document.querySelector(arguments[0]).dataset.old;", evil))
    assert text(browser, f"{evil} .feed-name") == HOSTILE
    assert text(browser, f"{evil} .summary") == HOSTILE_SUMMARY
    assert browser.execute_script("return window.pwned") is None
    assert texts(browser, "main script, main img") == []
    browser.get(page + "/services/evil")
    assert HOSTILE in (text(browser, ".feed-name") or "")
    assert browser.execute_script("return window.pwned") is None
    assert texts(browser, "main script, main img") == []


def test_service_page_draws_the_timeline_and_follows_the_log(
    browser: Any, page: str, site: FeedSite, zx, tmp_path: Path
) -> None:
    # 3.0 exits at once: the update fails its health check and 0xl rolls back to 2.0 by itself.
    broken = {"bin/web": (b"#!/bin/sh\necho 'web 3.0 refuses to start'\nexit 3\n", 0o755)}
    site.publish("web", [Impl("1.0"), Impl("2.0"), Impl("3.0", files=broken)])
    r = zx("update", "web", "--settle", "0.5")
    assert r.rc == 10, r
    browser.get(page + "/services/web")
    marks = texts(browser, "svg#timeline g.mark", "class")
    assert marks == ["mark add", "mark update", "mark failed", "mark auto-rollback"]
    bands = texts(browser, "svg#timeline g.band text")
    assert bands == ["1.0", "2.0", "2.0", "2.0"]
    titles = texts(browser, "svg#timeline g.mark title")
    assert titles[2].startswith("update 2.0 -> 3.0: failed")
    history = texts(browser, "table.history tbody tr", "innerText")
    assert len(history) == 4 and "auto-rollback" in history[0]
    assert "web 3.0 refuses to start" in (text(browser, "#log") or "")
    screenshot(browser, tmp_path, "web-service", docs=True)
    # The page follows the service, without a reload: a rollback joins the timeline; stopping it shows in
    # its state and in the log.
    browser.execute_script("window.notReloaded = true;")
    assert zx("rollback", "web", "--settle", "0.5").rc == 0
    assert wait_for(lambda: texts(browser, "svg#timeline g.mark", "class")[-1:] == ["mark rollback"], timeout=15)
    assert texts(browser, "svg#timeline g.band text")[-1] == "1.0"
    assert zx("stop", "web").rc == 0
    assert wait_for(lambda: "] stopped\n" in (text(browser, "#log") or ""), timeout=15)
    assert wait_for(lambda: text(browser, "h1 .badge") == "stopped", timeout=5)
    assert browser.execute_script("return window.notReloaded") is True


def test_browser_beyond_loopback_logs_in_with_the_token(
    browser: Any, site: FeedSite, zx, zhome: Path, tmp_path: Path
) -> None:
    start_services(site, zx)
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    port = free_port()
    with serving(zhome, "--listen", f"0.0.0.0:{port}", "--token-file", str(token), port=port) as s:
        browser.get(s.url + "/")
        assert "needs a token" in (text(browser, "h1") or "")
        assert texts(browser, "tbody#services") == []
        field = browser.find_element("css selector", "input[name=token]")
        field.send_keys("not-the-token-not-the-token")
        field.submit()
        assert wait_for(lambda: "not the one" in (text(browser, "main") or ""), timeout=10)
        browser.find_element("css selector", "input[name=token]").send_keys(TOKEN)
        browser.find_element("css selector", "form").submit()
        assert wait_for(lambda: bool(rows(browser)), timeout=10)
        assert set(rows(browser)) == {"web", "evil", "idle"}
        # The cookie keeps it in: the refreshes go on.
        browser.execute_script("window.notReloaded = true;")
        assert zx("stop", "evil").rc == 0
        assert wait_for(lambda: rows(browser)["evil"]["state"].startswith("stopped"), timeout=15)
        assert browser.execute_script("return window.notReloaded") is True
