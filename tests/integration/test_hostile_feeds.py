"""Feeds a hostile publisher signs, served over HTTP on 127.0.0.1 to `0xl` run as a separate process:
argument patterns that backtrack exponentially or that RE2 cannot run (issue 10, point 5), numbers in
other scripts' digits and `<group>`s nested past Python's recursion (point 6). Each is refused with one
message and a documented status, within seconds, and changes nothing; none hangs 0xl or ends in an
internal error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.updating import publish
from tests.support.zx import Result, snapshot

NEEDS_NS = 'xmlns:s="urn:x-0xl:service:1"'
# `(a+)+b` against forty `a`s: about 2**40 steps for Python's backtracking `re`, microseconds for RE2.
NESTED = "(a+)+b"
FORTY = "a" * 40
# Far above what any of these commands takes; what used to hang never ends within it.
TIMEOUT = 60


def arg_needs(*args: str) -> str:
    return f"<s:needs {NEEDS_NS}>{''.join(args)}</s:needs>"


def refused(zx, home: Path, args: list[str], status: int, message: str, *, parser: bool = False) -> Result:
    """ARGS refused with STATUS and MESSAGE, changing nothing; PARSER: by the argument parser, whose
    message follows its usage line."""
    before = snapshot(home)
    r = zx(*args, timeout=TIMEOUT)
    assert r.rc == status, r
    assert message in r.err and (parser or r.err.startswith("0xl: error: ")), r
    assert "internal error" not in r.err and "Traceback" not in r.err, r
    assert snapshot(home) == before, "the refused command changed ZEROXL_HOME"
    return r


def sign(site: FeedSite, name: str, xml: bytes) -> str:
    (site.root / f"{name}.xml").write_bytes(site.publisher.sign(xml))
    return site.url(name)


# -- patterns (point 5) --------------------------------------------------------------------------------------


def test_default_that_would_backtrack_for_days_is_refused_at_once(site: FeedSite, zx, zhome: Path) -> None:
    url = site.publish(
        "web", [Impl("1.0", needs_xml=arg_needs(f'<s:arg name="x" pattern="{NESTED}" default="{FORTY}"/>'))]
    )
    refused(
        zx, zhome, ["add", "web", url, "--trust-key", site.publisher.fingerprint], 4, "does not match its own pattern"
    )


def test_operators_value_against_a_backtracking_pattern_is_refused_at_once(site: FeedSite, zx, zhome: Path) -> None:
    url = site.publish("web", [Impl("1.0", needs_xml=arg_needs(f'<s:arg name="x" pattern="{NESTED}"/>'))])
    args = ["add", "web", url, "--trust-key", site.publisher.fingerprint, "--arg", f"x={FORTY}"]
    refused(zx, zhome, args, 2, f"--arg x='{FORTY}' does not match the pattern the service declares ({NESTED})")


def test_pattern_re2_cannot_run_is_refused_with_one_message(site: FeedSite, zx, zhome: Path) -> None:
    url = site.publish("web", [Impl("1.0", needs_xml=arg_needs('<s:arg name="x" pattern="(?=a)a"/>'))])
    r = refused(
        zx, zhome, ["add", "web", url, "--trust-key", site.publisher.fingerprint], 4, "arg x: invalid pattern '(?=a)a'"
    )
    # RE2's own log (its "Error parsing" line) does not reach the terminal: one error, one hint.
    assert [line.split(":")[1] for line in r.err.splitlines()] == [" error", " hint"], r
    assert "RE2's syntax" in r.err


def test_update_all_is_not_held_by_a_version_whose_pattern_would_backtrack(site: FeedSite, zx) -> None:
    # b runs with x=aaaa…; its version 2.0 declares x as (a+)+b, which the update checks x against.
    plain = arg_needs('<s:arg name="x" pattern="a*"/>')
    hostile = arg_needs(f'<s:arg name="x" pattern="{NESTED}"/>')
    for name, extra in (("a", []), ("b", ["--arg", f"x={FORTY}"])):
        url = publish(site, name, [Impl("1.0", needs_xml=plain if name == "b" else "")])
        assert zx("add", name, url, "--trust-key", site.publisher.fingerprint, *extra).rc == 0
    publish(site, "a", [Impl("1.0"), Impl("2.0")])
    publish(site, "b", [Impl("1.0", needs_xml=plain), Impl("2.0", needs_xml=hostile)])
    r = zx("update", "--all", timeout=TIMEOUT)
    assert r.rc == 8, r  # the status of b's one failure: a version that does not fit it
    assert r.out.splitlines() == [
        "a: updated 1.0 -> 2.0 (a is not running: 2.0 runs when it is started)",
        "b: not updated, still 1.0",
    ], r
    assert "b: version 2.0 does not fit the service as it is configured: --arg x=" in r.err, r


# -- numbers and nesting (point 6) -----------------------------------------------------------------------------

ARABIC_INDIC = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")


@pytest.mark.parametrize(
    "attack",
    ["size-in-arabic-indic-digits", "memory-in-superscript", "min-size-with-kelvin-sign", "groups-1200-deep"],
)
def test_feed_with_numbers_in_other_digits_or_deep_groups_is_refused(
    site: FeedSite, zx, zhome: Path, attack: str
) -> None:
    impl = Impl("1.0")
    if attack == "memory-in-superscript":
        impl.needs_xml = f'<s:needs {NEEDS_NS} memory="\u00b2"/>'
    if attack == "min-size-with-kelvin-sign":
        impl.needs_xml = arg_needs('<s:block name="data" min-size="1\u212a"/>')
    xml = site.feed_xml("web", [impl])
    if attack == "size-in-arabic-indic-digits":
        # The archive's true size, which int() reads as such: 0xl took it, where 0install refuses it.
        size = str(impl.archive_size)
        xml = xml.replace(f'size="{size}"'.encode(), f'size="{size.translate(ARABIC_INDIC)}"'.encode())
    if attack == "groups-1200-deep":
        xml = xml.replace(b"<implementation ", b"<group>" * 1200 + b"<implementation ")
        xml = xml.replace(b"</implementation>", b"</implementation>" + b"</group>" * 1200)
    url = sign(site, "web", xml)
    message = {
        "size-in-arabic-indic-digits": "is not a whole number in ASCII digits",
        "memory-in-superscript": "memory='\u00b2' is not a number of MiB",
        "min-size-with-kelvin-sign": "block data: invalid min-size '1\u212a'",
        "groups-1200-deep": "has <group>s nested more than 64 deep",
    }[attack]
    refused(zx, zhome, ["add", "web", url, "--trust-key", site.publisher.fingerprint, "--disk", "1M"], 4, message)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--disk", "1\u212a"], "0xl: error: invalid disk size '1\u212a'"),  # the Kelvin sign: KeyError before
        (
            ["--memory", "\u0662\u0665\u0666"],
            "argument --memory: '\u0662\u0665\u0666' is not a whole number in ASCII digits",
        ),
        (["--memory", "1\u00b2"], "argument --memory: '1\u00b2' is not a whole number"),
    ],
)
def test_command_line_numbers_in_other_digits_are_refused(
    site: FeedSite, zx, zhome: Path, option: list[str], message: str
) -> None:
    url = site.publish("web", [Impl("1.0")])
    args = ["add", "web", url, "--trust-key", site.publisher.fingerprint, *option]
    refused(zx, zhome, args, 2, message, parser=option[0] != "--disk")


def test_durations_on_the_command_line_are_ascii_digits(site: FeedSite, zx, zhome: Path) -> None:
    url = site.publish("web", [Impl("1.0")])
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint).rc == 0
    for args in (
        ["stop", "web", "--timeout", "\u0661"],
        ["update", "web", "--settle", "nan"],
        ["logs", "web", "--lines", "\u0661\u0660"],
    ):
        refused(zx, zhome, args, 2, f"{args[2]}: {args[3]!r} is not a", parser=True)


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ([f"x={NESTED}", "--arg-default", f"x={FORTY}"], "the default 'aaaa"),
        (["x=(?=a)a"], "arg x: invalid pattern '(?=a)a': invalid perl operator"),
    ],
)
def test_publisher_is_refused_a_pattern_hosts_would_refuse(tmp_path: Path, zx, arg: list[str], message: str) -> None:
    # `0xl feed add` reads the feed back as a host reads it, with the same helper: no hang, exit status 2.
    feed = tmp_path / "site" / "web.xml"
    feed.parent.mkdir()
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "web").write_text("#!/bin/sh\n")
    init = ("feed", "init", str(feed), "--uri", "http://127.0.0.1:1/web.xml", "--name", "web", "--summary", "s")
    assert zx(*init).rc == 0
    before = feed.read_bytes()
    add = ("feed", "add", str(feed), "--version", "1.0", "--arch", "*-*", "--dir", str(tmp_path / "dist"))
    r = zx(*add, "--command", "web", "--arg", *arg, timeout=TIMEOUT)
    assert r.rc == 2 and message in r.err and r.err.startswith("0xl: error: "), r
    assert feed.read_bytes() == before
