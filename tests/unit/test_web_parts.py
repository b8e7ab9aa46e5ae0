"""The pure parts of `0xl serve` and `0xl top`: where it may listen without a token, the timeline's layout,
CPU rates, and /metrics read back by Prometheus's own parser, label values that need escaping included."""

# ruff: noqa: S104, S105 - addresses and tokens of the tests' own
from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from zeroxl.app.cpurate import CpuRates
from zeroxl.web import auth, metrics
from zeroxl.web.server import ServeError, parse_listen
from zeroxl.web.timeline import layout


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.1", False),
        ("localhost.example.org", False),  # a name may resolve anywhere
        ("", False),
    ],
)
def test_loopback_is_only_loopback(host: str, loopback: bool) -> None:
    assert auth.is_loopback(host) is loopback


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:9180").host == "127.0.0.1"
    assert parse_listen("[::1]:80").host == "::1" and parse_listen("[::1]:80").url("http") == "http://[::1]:80/"
    assert parse_listen(":9180").host == "0.0.0.0"  # every address: a token is then required
    for bad in ("9180", "host:", "host:0", "host:65536", "host:9l80", "host:٩١٨٠"):
        with pytest.raises(ServeError):
            parse_listen(bad)


def test_tokens_are_compared_whole() -> None:
    token = "0123456789abcdef"
    assert auth.matches(token, token)
    assert not auth.matches(token[:-1], token) and not auth.matches(token + "0", token)
    assert not auth.matches(None, token) and not auth.matches("", token)
    assert not auth.matches("0123456789abcdeé", token)  # not ASCII: no error, no match
    assert auth.bearer("Bearer abc") == "abc" and auth.bearer("bearer  abc ") == "abc"
    assert auth.bearer("Basic abc") is None and auth.bearer(None) is None


def _entry(action: str, frm: str | None, to: str, outcome: str = "ok", t: float = 1.0) -> dict:
    return {
        "time": t,
        "action": action,
        "from": {"version": frm} if frm else None,
        "to": {"version": to},
        "outcome": outcome,
        "message": "",
    }


def test_timeline_shows_the_version_that_ran_after_each_change() -> None:
    history = [
        _entry("add", None, "1.0"),
        _entry("update", "1.0", "2.0"),
        _entry("update", "2.0", "3.0", "failed"),
        _entry("auto-rollback", "3.0", "2.0"),
        _entry("update", "2.0", "4.0", "interrupted"),
        _entry("rollback", "2.0", "1.0"),
    ]
    t = layout(history, "1.0")
    assert [m.kind for m in t.marks] == ["add", "update", "failed", "auto-rollback", "interrupted", "rollback"]
    assert [b.version for b in t.bands] == ["1.0", "2.0", "2.0", "2.0", "2.0", "1.0"]
    assert [m.caption for m in t.marks][2:4] == ["3.0 failed", "auto-rollback → 2.0"]
    assert t.bands[0].colour == t.bands[-1].colour != t.bands[1].colour  # one colour per version
    assert [m.x for m in t.marks] == sorted(m.x for m in t.marks) and t.width > t.marks[-1].x


def test_cpu_rate_is_the_growth_between_readings() -> None:
    rates = CpuRates(min_interval=1.0)
    # First reading: the average since it started (2 s of CPU over 10 s up).
    assert rates.percent("a", started=100.0, cpu_seconds=2.0, now=1000.0, uptime=10.0) == pytest.approx(20.0)
    # Too soon for a new rate: the last one stands.
    assert rates.percent("a", started=100.0, cpu_seconds=2.1, now=1000.5, uptime=10.5) == pytest.approx(20.0)
    # 1 s of CPU over the 2 s since the first reading.
    assert rates.percent("a", started=100.0, cpu_seconds=3.0, now=1002.0, uptime=12.0) == pytest.approx(50.0)
    # Started again: a new counter, read as a first reading.
    assert rates.percent("a", started=200.0, cpu_seconds=0.5, now=1003.0, uptime=1.0) == pytest.approx(50.0)
    rates.keep_only(set())
    assert rates.percent("a", started=200.0, cpu_seconds=0.5, now=1004.0, uptime=None) is None


def test_metrics_escape_label_values_and_parse_back() -> None:
    hostile = 'http://example.org/a"b\\c\nd.xml'
    row = {
        "name": "web",
        "state": "running",
        "backend": "unix",
        "version": "1.0",
        "channel": "stable",
        "feed": hostile,
        "restarts": 3,
        "started": 1_700_000_000.5,
        "resources": {"cpu_seconds": 1.25, "memory_bytes": 1 << 20, "net_rx_bytes": 1500, "net_tx_bytes": 98},
        "last_update": {"time": 1_700_000_100.0, "outcome": "interrupted"},
        "feed_signature": {"signed": 1_700_000_000, "expires": 1_800_000_000},
        "disks": [{"name": "data", "size": 1 << 30, "used": None}],
    }
    damaged = {"name": "bad", "state": "damaged", "backend": None}
    text = metrics.exposition([row, damaged]).decode()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    by = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}
    info = [s for s in samples if s.name == "zeroxl_service_info"]
    assert [s.labels["feed"] for s in info] == [hostile]
    assert by[("zeroxl_service_restarts_total", (("service", "web"),))] == 3
    assert by[("zeroxl_service_cpu_seconds_total", (("service", "web"),))] == 1.25
    assert by[("zeroxl_service_network_receive_bytes_total", (("service", "web"),))] == 1500
    assert by[("zeroxl_service_network_transmit_bytes_total", (("service", "web"),))] == 98
    assert by[("zeroxl_service_last_update_outcome", (("outcome", "interrupted"), ("service", "web")))] == 1
    assert by[("zeroxl_service_feed_signature_expiry_timestamp_seconds", (("service", "web"),))] == 1_800_000_000
    assert by[("zeroxl_service_state", (("service", "bad"), ("state", "damaged")))] == 1
    assert not [s for s in samples if s.name == "zeroxl_service_disk_used_bytes"]  # unknown is absent, not 0
    known = {s.name for s in samples if s.labels.get("service") == "bad"}
    assert known == {"zeroxl_service_up", "zeroxl_service_state"}  # of a damaged record, nothing else is known
