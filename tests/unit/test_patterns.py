"""Argument patterns from a hostile publisher: patterns that backtrack exponentially are matched in linear
time (RE2), and patterns RE2 cannot run are refused when the feed is read, with one message. Issue 10,
point 5: `(a+)+b` against forty `a`s hung `0xl add` and `0xl update --all`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.deadline import deadline
from tests.support.words import refused
from zeroxl.app.fits import check_args
from zeroxl.backends.vmguest import cmdline
from zeroxl.errors import UsageError
from zeroxl.feeds import patterns
from zeroxl.feeds.parse import FeedFormatError, parse_feed
from zeroxl.host.needs import BootArg, ServiceNeeds
from zeroxl.state.selected import Selected
from zeroxl.state.service import Service

URL = "http://example.org/web.xml"
DIGEST = "A" * 52
# `(a+)+b` against forty `a`s: about 2**40 steps for a backtracking matcher, a few microseconds for RE2.
NESTED = "(a+)+b"
FORTY = "a" * 40


def feed(body: str) -> bytes:
    return (
        '<?xml version="1.0"?>\n<interface xmlns="http://zero-install.sourceforge.net/2004/injector/interface" '
        f'xmlns:s="urn:x-0xl:service:1" uri="{URL}"><name>web</name><summary>s</summary>{body}</interface>'
    ).encode()


def needs(inner: str) -> bytes:
    return feed(
        f'<implementation id="sha256new_{DIGEST}" version="1.0"><manifest-digest sha256new="{DIGEST}"/>'
        f'<archive href="http://example.org/a.tgz" size="10"/><s:needs>{inner}</s:needs></implementation>'
    )


def test_nested_quantifier_default_is_checked_in_linear_time() -> None:
    with deadline(10), pytest.raises(FeedFormatError, match="does not match its own pattern"):
        parse_feed(needs(f'<s:arg name="x" pattern="{NESTED}" default="{FORTY}"/>'), url=URL)


def test_nested_quantifier_pattern_meets_the_operators_value_in_linear_time() -> None:
    declared = ServiceNeeds(args=(BootArg("x", NESTED),))
    with deadline(10), pytest.raises(UsageError, match="does not match the pattern"):
        check_args({"x": FORTY}, declared, declared_only=True)


def test_nested_quantifier_pattern_recorded_for_a_vm_is_checked_in_linear_time() -> None:
    # The Xen backend checks the recorded arguments again each time it writes the domain's config.
    declared = ServiceNeeds(args=(BootArg("x", NESTED),))
    sel = Selected("id", "1.0", "sha256new_X", "Xen-x86_64", "stable", "mail.xen", needs=declared)
    svc = Service(
        name="mail", feed="http://x/mail.xml", backend="xen", target="Xen-x86_64", current=sel, args={"x": FORTY}
    )
    with deadline(10), pytest.raises(UsageError, match="does not match the pattern"):
        cmdline(svc)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(?=a)a", "invalid perl operator"),  # lookahead
        ("(a)\\1", "invalid escape sequence"),  # backreference
        ("a*+", "bad repetition operator"),  # possessive
        ("(?>a)", "invalid perl operator"),  # atomic group
        ("a{1001}", "invalid repetition size"),
        ("(", "missing \\)"),
    ],
)
def test_pattern_re2_cannot_run_is_refused_when_the_feed_is_read(
    pattern: str, why: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FeedFormatError, match=f"arg x: invalid pattern .*{why}") as e:
        parse_feed(needs(f'<s:arg name="x" pattern="{pattern}"/>'), url=URL)
    assert e.value.exit_status == 4 and e.value.hint is not None and "RE2" in e.value.hint
    assert capfd.readouterr() == ("", "")  # RE2 logs nothing of its own: the one message is 0xl's


def test_pattern_over_256_characters_is_refused() -> None:
    with pytest.raises(FeedFormatError, match="longer than 256 characters"):
        parse_feed(needs(f'<s:arg name="x" pattern="{"a" * 257}"/>'), url=URL)


def test_patterns_match_whole_values_and_classes_are_ascii() -> None:
    assert patterns.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}", "10.0.0.2")
    assert not patterns.matches("[0-9]+", "10.0.0.2")  # the whole value, not a part of it
    assert patterns.matches("a|ab", "ab")
    assert patterns.matches("[a-zé]+", "café")  # text is matched as characters, not bytes
    assert not patterns.matches("\\d+", "19\u0666")  # \d is [0-9], not every script's digits
    assert not patterns.matches(".*", "\udcff")  # an argument that was not UTF-8 matches nothing


def test_a_pattern_is_compiled_where_it_is_checked_only(tmp_path: Path) -> None:
    # re2 costs ~20 ms to import: `0xl list`, which checks no pattern, must not load it.
    code = "import sys; from zeroxl.cli.main import main; main(['list']); print('re2' in sys.modules)"
    env = dict(os.environ, ZEROXL_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.splitlines()[-1] == "False"


def test_pattern_recorded_before_patterns_were_re2s_is_refused_with_the_service_named() -> None:
    # An older 0xl accepted Python's syntax: a service it recorded with a lookahead cannot be started blindly.
    declared = ServiceNeeds(args=(BootArg("x", "(?=a)a"),))
    sel = Selected("id", "1.0", "sha256new_X", "Xen-x86_64", "stable", "mail.xen", needs=declared)
    svc = Service(
        name="mail", feed="http://x/mail.xml", backend="xen", target="Xen-x86_64", current=sel, args={"x": "a"}
    )
    with refused(patterns.PatternError, "mail: --arg x: the version it runs declares a pattern") as e:
        cmdline(svc)
    assert e.value.exit_status == 4 and e.value.hint is not None and "update mail" in e.value.hint
