"""0install's version order and range syntax (feed.md: "Version numbers"), with the real 0install as
the oracle: it selects among local implementations, so nothing is downloaded (about 15 ms a run)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.zeroinstall import ZeroInstall
from zeroxl.feeds.versions import Version, VersionRange

ORDERED = [
    "0.1",
    "1.0-pre1",
    "1.0-pre2",
    "1.0-rc1",
    "1.0",
    "1.0-1",
    "1.0-post",
    "1.0-post1",
    "1.0.1",
    "1.1",
    "2",
    "10.0",
]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> ZeroInstall:
    return ZeroInstall(Path(tmp_path_factory.mktemp("0install")))


def test_versions_sort_as_0install_orders_them(oracle: ZeroInstall) -> None:
    parsed = [Version.parse(v) for v in ORDERED]
    assert sorted(reversed(parsed)) == parsed
    for a, b in itertools.pairwise(parsed):
        assert a < b, (a, b)
    # The oracle: below each version, 0install picks the one listed before it.
    for lower, higher in itertools.pairwise(ORDERED):
        assert oracle.select_version(ORDERED, f"..!{higher}") == lower, (lower, higher)
    assert oracle.select_version(ORDERED, "..!0.1") is None


def test_equal_versions_written_alike_compare_equal(oracle: ZeroInstall) -> None:
    assert Version.parse("1.0") == Version.parse("1.0")
    assert Version.parse("1.0") != Version.parse("1.0.0")  # as in 0install: [1,0] < [1,0,0]
    assert Version.parse("1.0") < Version.parse("1.0.0")
    assert oracle.select_version(["1.0.0", "1.0"], "..!1.0.0") == "1.0"


@pytest.mark.parametrize("bad", ["", "1..2", "a", "1.0-beta", "-1", "1.", ".1", "1.0-x1"])
def test_invalid_versions_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Version.parse(bad)


@pytest.mark.parametrize(
    ("expr", "inside", "outside"),
    [
        ("2.6..!3", ["2.6", "2.9", "3-pre1"], ["2.5", "3", "3.1"]),
        ("..!3", ["0.1", "2.99"], ["3", "4"]),
        ("2.6..", ["2.6", "100"], ["2.5"]),
        ("1.2", ["1.2"], ["1.2.1", "1.3"]),
        ("!1.2", ["1.1", "1.3"], ["1.2"]),
        ("1.0|2.0..!2.1", ["1.0", "2.0", "2.0.5"], ["1.5", "2.1"]),
    ],
)
def test_ranges_contain_what_0install_would_select(
    oracle: ZeroInstall, expr: str, inside: list[str], outside: list[str]
) -> None:
    r = VersionRange.parse(expr)
    for v in inside:
        assert r.contains(Version.parse(v)), (expr, v)
        assert oracle.select_version([v], expr) == v, (expr, v)
    for v in outside:
        assert not r.contains(Version.parse(v)), (expr, v)
        assert oracle.select_version([v], expr) is None, (expr, v)


@pytest.mark.parametrize("bad", ["", "|", "1..2", "..", "1.0|", "!", "x..!2"])
def test_invalid_ranges_are_refused(bad: str) -> None:
    if bad == "..":  # ".." alone means any version, as in 0install
        assert VersionRange.parse(bad).contains(Version.parse("1"))
        return
    with pytest.raises(ValueError):
        VersionRange.parse(bad)


dotted = st.lists(st.integers(0, 30), min_size=1, max_size=4).map(lambda xs: ".".join(map(str, xs)))
modifier = st.sampled_from(["", "-pre", "-rc", "-post", "-"])
version_text = st.builds(lambda a, m, b: a + (m + b if m else ""), dotted, modifier, dotted)


@given(version_text, version_text)
def test_order_is_total_and_antisymmetric(a: str, b: str) -> None:
    va, vb = Version.parse(a), Version.parse(b)
    assert (va < vb) + (va == vb) + (va > vb) == 1
