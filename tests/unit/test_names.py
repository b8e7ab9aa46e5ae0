"""One rule per kind of name (host.names), checked against the regular expression each was written as
before: a name one module accepts, every module accepts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zeroxl.errors import UsageError
from zeroxl.host.names import ARG_NAME, BRIDGE_NAME, DISK_NAME, NETWORK_NAME, SERVICE_NAME, NameRule, check_disk_name

RULES = [
    (SERVICE_NAME, r"[a-z][a-z0-9-]{0,30}(?<!-)"),
    (DISK_NAME, r"[a-z][a-z0-9_]{0,15}"),
    (NETWORK_NAME, r"[a-z0-9][a-z0-9_-]{0,31}"),
    (ARG_NAME, r"[a-z][a-z0-9_-]{0,31}"),
    (BRIDGE_NAME, r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}"),
]
# Names close to the rules: their characters and their neighbours, non-ASCII look-alikes and a line break.
NEAR = st.text(alphabet="az09AZ_-. é\nK\u212a\u0131", max_size=40)


@pytest.mark.parametrize(("rule", "pattern"), RULES)
@given(name=NEAR)
def test_each_rule_is_its_pattern(rule: NameRule, pattern: str, name: str) -> None:
    assert rule.fits(name) == bool(re.fullmatch(pattern, name))


@pytest.mark.parametrize(("rule", "pattern"), RULES)
def test_the_longest_name_fits_and_one_more_does_not(rule: NameRule, pattern: str) -> None:
    first = "a" if rule.fits("a") else "0"
    assert rule.fits(first * rule.longest)
    assert not rule.fits(first * (rule.longest + 1))
    assert not rule.fits("")


def test_a_disk_name_against_the_rule_is_a_usage_error_that_states_it() -> None:
    with pytest.raises(UsageError, match="invalid disk name 'Data'") as e:
        check_disk_name("Data")
    assert e.value.hint == f"use {DISK_NAME.text}"
