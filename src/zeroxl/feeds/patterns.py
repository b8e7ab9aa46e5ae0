"""The value patterns a feed declares for a service's arguments (`<s:arg pattern>`): checked and
matched here, and nowhere else (docs/feed-service-needs.md).

A pattern comes from a publisher and a value from the operator. Python's `re` backtracks: `(a+)+b`
against forty `a`s runs for days, and would hang `0xl add`, and `0xl update --all` for every service.
RE2 matches in time linear in the value, and refuses at compile time what it cannot match that way
(backreferences, lookaround, possessive and atomic groups) and programs over its memory budget.

re2 is imported only when a pattern is checked: it costs about 20 ms, and `0xl list` checks none.
"""

from __future__ import annotations

import functools
from typing import Any

from zeroxl.errors import VerificationError

MAX_PATTERN = 256
SYNTAX_HINT = "patterns use RE2's syntax, which has no backreferences or lookaround (docs/feed-service-needs.md)"


class PatternError(VerificationError):
    """A pattern 0xl does not accept: too long, or not one RE2 compiles."""


def check(pattern: str) -> None:
    """Refuse PATTERN unless it is one `matches` can use."""
    _compiled(pattern)


def matches(pattern: str, value: str) -> bool:
    """Whether the whole of VALUE matches PATTERN (refused with PatternError if PATTERN is not accepted)."""
    try:
        encoded = value.encode()
    except UnicodeEncodeError:
        return False  # not text (an argument that is not UTF-8 arrives with surrogates): matches nothing
    return _compiled(pattern).fullmatch(encoded) is not None


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    """PATTERN compiled by RE2, over UTF-8 bytes. (re2 has no type information: Any.)"""
    import re2  # type: ignore[import-untyped]

    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"the pattern is longer than {MAX_PATTERN} characters")
    options = re2.Options()
    options.log_errors = False  # RE2 would print its own message on stderr as well as raise
    try:
        return re2.compile(pattern.encode(), options)
    except re2.error as e:
        reason = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise PatternError(f"invalid pattern {pattern!r}: {reason}", hint=SYNTAX_HINT) from None
    except UnicodeEncodeError:
        raise PatternError(f"invalid pattern {pattern!r}: it is not text", hint=SYNTAX_HINT) from None
