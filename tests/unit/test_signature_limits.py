"""The host's limits on signature dates, as config.toml says them: [trust] max_clock_skew,
max_signature_age, warn_signature_age (durations like 5m or 30d, or whole seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zeroxl.errors import ConfigError, UsageError
from zeroxl.host import config
from zeroxl.host.units import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("5m", 300), ("12h", 43200), ("30d", 2592000), ("2w", 1209600), (" 1d ", 86400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5", "5x", "-5m", "1.5d", "0d", "d", "5 m", "1e3s", "٣d"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="invalid duration|greater than zero"):
        parse_duration(bad)


def test_ages_read_as_people_say_them() -> None:
    assert [format_duration(s) for s in (40, 300, 3 * 3600, 12 * 86400, -90)] == [
        "40 s",
        "5 min",
        "3 h",
        "12 days",
        "90 s",
    ]


def test_defaults_allow_five_minutes_ahead_no_oldest_signature_and_warn_after_90_days(tmp_path: Path) -> None:
    limits = config.load(tmp_path / "config.toml").signatures
    assert (limits.max_clock_skew, limits.max_age, limits.warn_age) == (300, None, 90 * 86400)


def test_limits_are_read_from_the_trust_table(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[trust]\nmax_clock_skew = "1m"\nmax_signature_age = "30d"\nwarn_signature_age = 600\n')
    limits = config.load(path).signatures
    assert (limits.max_clock_skew, limits.max_age, limits.warn_age) == (60, 30 * 86400, 600)
    path.write_text("[trust]\nmax_clock_skew = 0\nmax_signature_age = 0\nwarn_signature_age = 0\n")
    limits = config.load(path).signatures
    assert (limits.max_clock_skew, limits.max_age, limits.warn_age) == (0, None, 0)  # 0: none, no warning


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[trust]\nmax_clock_skew = "soon"\n', r"invalid \[trust\] max_clock_skew 'soon'"),
        ("[trust]\nmax_signature_age = -1\n", r"\[trust\] max_signature_age must not be negative"),
        ("[trust]\nwarn_signature_age = 1.5\n", r"\[trust\] warn_signature_age has the wrong type"),
        ("[trust]\nmax_clock_skew = true\n", r"\[trust\] max_clock_skew has the wrong type"),
    ],
)
def test_bad_limits_are_refused_naming_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message) as e:
        config.load(path)
    assert e.value.exit_status == 11  # config.toml's own status
