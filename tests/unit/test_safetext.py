"""What a terminal may see of text from outside 0xl (zeroxl.safetext): everything it could act on, shown
escaped; everything else as it is. The integration tests (test_terminal_injection.py) show it on the
real paths: the trust prompt, feed check, errors, logs."""

from __future__ import annotations

import contextlib
import io
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zeroxl import safetext
from zeroxl.cli.main import main
from zeroxl.safetext import LogText, line, text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Evil \x1b[2K\x1b[1A\rFake", "Evil \\x1b[2K\\x1b[1A\\rFake"),  # C0: ESC, CR
        ("a\x00b\x07c\x08d\x7f", "a\\x00b\\x07c\\x08d\\x7f"),  # NUL, BEL, backspace, DEL
        ("x\x9b2Jy\x85z", "x\\x9b2Jy\\x85z"),  # C1: CSI, NEL
        ("abc\u202edcba\u2066\u2069\u200f", "abc\\u202edcba\\u2066\\u2069\\u200f"),  # bidi override, isolates, RLM
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),  # line and paragraph separators
        ("in\u200bvisible\ufeff", "in\\u200bvisible\\ufeff"),  # zero-width space, BOM
        ("tag\U000e0041\U000e007f", "tag\\U000e0041\\U000e007f"),  # Unicode tags (hidden text)
        ("bad \udcff byte", "bad \\udcff byte"),  # a lone surrogate (surrogateescape) cannot even be encoded
        ("no\u00a0break", "no\\xa0break"),  # a space that is not ' '
        ("one\ntwo\tthree", "one\\ntwo\\tthree"),  # a value is one line
    ],
)
def test_what_a_terminal_could_act_on_is_shown_escaped(raw: str, shown: str) -> None:
    assert line(raw) == shown


@pytest.mark.parametrize(
    "plain",
    [
        "Test Publisher <pub@example.org>",
        "Jürgen Müller <jm@example.de>",
        "東京 サービス",
        "\u0645\u0631\u062d\u0628\u0627",  # Arabic, right to left by itself: no override needed
        "family \U0001f468\u200d\U0001f469\u200d\U0001f467",  # ZWJ joins emoji
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # ZWNJ in Persian
        "C:\\path\\x41",  # backslashes are not escaped: the shown form is for reading
    ],
)
def test_printable_text_is_shown_as_it_is(plain: str) -> None:
    assert line(plain) == plain == text(plain)


def test_text_keeps_its_lines_and_tabs() -> None:
    assert text("a\tb\nc\x1b[31md\r\n") == "a\tb\nc\\x1b[31md\\r\n"


@given(st.text())
def test_nothing_unprintable_survives(s: str) -> None:
    shown = line(s)
    assert all(c.isprintable() or c in "\u200c\u200d" for c in shown)
    assert all(c.isprintable() or c in "\n\t\u200c\u200d" for c in text(s))


@given(st.text())
def test_safe_text_is_left_alone(s: str) -> None:
    # Escaping twice changes nothing: the guard may see text that line() already made safe.
    assert line(line(s)) == line(s)
    assert text(text(s)) == text(s)


def test_logs_are_decoded_as_they_come_with_crlf_as_lf() -> None:
    shown = LogText()
    # A CRLF cut between two pieces, a UTF-8 character cut in two, a byte that is not UTF-8, an ESC.
    pieces = [b"boot ok\r", b"\nJ\xc3", b"\xbcrgen \xff\x1b[2J\r", b"done\n"]
    out = "".join(shown.feed(p) for p in pieces) + shown.feed(b"", final=True)
    assert out == "boot ok\nJürgen \\xff\\x1b[2J\\rdone\n"


def test_log_text_ending_in_cr_is_shown_at_the_end() -> None:
    assert LogText().feed(b"progress 50%\r", final=True) == "progress 50%\\r"


def test_everything_a_command_prints_goes_through_the_guard() -> None:
    # main() guards stdout and stderr for the whole command; they are as they were afterwards.
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        print("\x1b[2Jcleared", file=sys.stdout)  # not guarded: outside main()
        before = (sys.stdout, sys.stderr)
        seen: list[object] = []

        def spy(argv: list[str]) -> int:
            seen.extend([sys.stdout, sys.stderr])
            print("\x1b]0;title\x07 from a printer that forgot")
            sys.stderr.write("0xl: error: \x9b31m\n")
            return 0

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("zeroxl.cli.main._main", spy)
            assert main([]) == 0
        assert (sys.stdout, sys.stderr) == before
    assert seen[0] is not before[0] and safetext.raw(seen[0]) is before[0]  # type: ignore[arg-type]
    assert out.getvalue() == "\x1b[2Jcleared\n\\x1b]0;title\\x07 from a printer that forgot\n"
    assert err.getvalue() == "0xl: error: \\x9b31m\n"


def test_guarded_output_has_no_byte_buffer_to_go_around_it() -> None:
    saved = safetext.guard()
    try:
        with pytest.raises(AttributeError, match="no byte buffer"):
            sys.stdout.buffer  # noqa: B018
    finally:
        safetext.unguard(saved)
