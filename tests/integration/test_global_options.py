"""Global options go before or after the command, and a wrong argument is reported with the usage of the
command it was given to (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.zx import zx_process


@pytest.mark.parametrize(
    "argv",
    [
        ("status", "nosuch", "--debug"),
        ("--debug", "status", "nosuch"),
        ("history", "--debug", "nosuch"),
        ("trust", "remove", "0" * 40, "--debug"),
    ],
)
def test_debug_is_taken_before_or_after_the_command(zxi, argv: tuple[str, ...]) -> None:
    r = zxi(*argv)
    assert r.rc == 3, r
    assert "Traceback (most recent call last)" in r.err, r  # --debug shows where


def test_without_debug_no_traceback(zxi) -> None:
    r = zxi("status", "nosuch")
    assert r.rc == 3 and "Traceback" not in r.err, r


def test_debug_before_the_command_is_not_undone_by_the_subcommand(zxi) -> None:
    # The subparser's own --debug has no default: were it False, `0xl --debug status X` would lose it.
    r = zxi("--debug", "trust", "remove", "0" * 40)
    assert "Traceback (most recent call last)" in r.err, r


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (("add", "web", "http://example.org/web.xml", "--bogus"), "usage: 0xl add "),
        (("trust", "add", "--domain", "example.org", "F" * 40, "--bogus"), "usage: 0xl trust add "),
        (("list", "--bogus"), "usage: 0xl list "),
        (("feed", "check", "x.xml", "extra"), "usage: 0xl feed check "),
    ],
)
def test_an_unknown_argument_shows_the_usage_of_its_command(zhome: Path, argv: tuple[str, ...], usage: str) -> None:
    r = zx_process(*argv, home=zhome)
    assert r.rc == 2, r
    assert r.err.startswith(usage), r
    assert f"0xl {usage.removeprefix('usage: 0xl ').strip()}: error: unrecognized arguments: " in r.err, r
