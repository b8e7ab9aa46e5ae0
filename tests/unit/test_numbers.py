"""Numbers and nesting from a hostile publisher, template, config or command line: only ASCII digits are
numbers (Python's int() reads `19٦` as 196, and `"²".isdigit()` is true while int("²") raises), and
`<group>`s may nest only so deep (a thousand overflowed the parser's recursion). Issue 10, point 6."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.words import refused
from zeroxl.app import health
from zeroxl.app.fits import parse_disk_specs
from zeroxl.errors import ConfigError, UsageError
from zeroxl.feeds.parse import MAX_GROUP_DEPTH, FeedFormatError, parse_feed
from zeroxl.host import config
from zeroxl.host.units import parse_size, whole_number
from zeroxl.publish import mirage, pack

URL = "http://example.org/web.xml"
DIGEST = "A" * 52


def feed(body: str) -> bytes:
    return (
        '<?xml version="1.0"?>\n<interface xmlns="http://zero-install.sourceforge.net/2004/injector/interface" '
        f'xmlns:s="urn:x-0xl:service:1" uri="{URL}"><name>web</name><summary>s</summary>{body}</interface>'
    ).encode()


def impl(inner: str = "", *, size: str = "10", archive: str = "") -> str:
    return (
        f'<implementation id="sha256new_{DIGEST}" version="1.0"><manifest-digest sha256new="{DIGEST}"/>'
        f'<archive href="http://example.org/a.tgz" size="{size}" {archive}/>{inner}</implementation>'
    )


@pytest.mark.parametrize(("text", "number"), [("0", 0), ("007", 7), ("123456789012345678", 123456789012345678)])
def test_whole_numbers_are_ascii_digits(text: str, number: int) -> None:
    assert whole_number(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\u00b2",
        "1\u00b2",
        "19\u0666",
        "\uff11",
        "1_000",
        " 1",
        "+1",
        "-1",
        "1.0",
        "1234567890123456789",
        "9" * 5000,
    ],
)
def test_anything_else_is_no_whole_number(text: str) -> None:
    assert whole_number(text) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (impl(size="1\u00b2"), "size='1²' is not a whole number in ASCII digits"),
        (impl(size="19\u0666"), "size='19٦' is not a whole number"),  # int() reads 196
        (impl(size="9" * 5000), "is not a whole number"),  # int() refuses over 4300 digits
        (impl(archive='start-offset="\u0661"'), "start-offset='.' is not a whole number"),
        (impl('<s:needs memory="\u00b2"/>'), "memory='²' is not a number of MiB"),
        (impl('<s:needs memory-min="\u0666\u0664"/>'), "memory-min='٦٤' is not a number of MiB"),
        (impl('<s:needs><s:block name="data" min-size="1\u212a"/></s:needs>'), "invalid min-size"),  # Kelvin sign
        (impl('<s:needs><s:block name="data" min-size="\u0661M"/></s:needs>'), "invalid min-size"),
    ],
)
def test_numbers_in_other_digits_are_refused_in_feeds(body: str, message: str) -> None:
    with pytest.raises(FeedFormatError, match=message):
        parse_feed(feed(body), url=URL)


def test_groups_nested_deeper_than_the_limit_are_refused() -> None:
    deep = "<group>" * 1200 + impl() + "</group>" * 1200
    with pytest.raises(FeedFormatError, match=f"<group>s nested more than {MAX_GROUP_DEPTH} deep"):
        parse_feed(feed(deep), url=URL)
    nested = "<group>" * MAX_GROUP_DEPTH + impl() + "</group>" * MAX_GROUP_DEPTH
    assert len(parse_feed(feed(nested), url=URL).implementations) == 1


@pytest.mark.parametrize("text", ["1\u212a", "1K\u0131B", "\u0661M", "1\u00b2", "\u00a01M"])
def test_sizes_in_other_letters_or_digits_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="invalid"):
        parse_size(text)
    with pytest.raises(UsageError, match="invalid disk size"):
        parse_disk_specs([text])


def test_ready_tcp_port_is_ascii_digits() -> None:
    assert health.parse_tcp("127.0.0.1:8080") == ("127.0.0.1", 8080)
    for bad in ("127.0.0.1:\u0668\u0660", "127.0.0.1:8\u00b2", "127.0.0.1:" + "9" * 5000):
        with refused(UsageError, "invalid --ready-tcp"):
            health.parse_tcp(bad)


def test_numbers_in_a_mirage_template_are_ascii_digits_of_bounded_length(tmp_path: Path) -> None:
    template = tmp_path / "mail.xl.in"
    template.write_text("name = '@NAME@'\nkernel = '@KERNEL@'\nmemory = " + "9" * 5000 + "\n")
    with pytest.raises(UsageError, match="more than 18 digits"):
        mirage.read_template(template)
    template.write_text("name = '@NAME@'\nkernel = '@KERNEL@'\nmemory = \u0666\u0664\n")
    with pytest.raises(UsageError, match="cannot read line 3"):
        mirage.read_template(template)


def test_source_date_epoch_is_ascii_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert pack.default_mtime() == 1700000000
    for bad in ("17\u00b2", "\u0661\u0667"):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", bad)
        with pytest.raises(UsageError, match="not a number of seconds in ASCII digits"):
            pack.default_mtime()


def test_config_sizes_are_ascii(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[policy]\nmax_disk_size = "1\u212a"\n')  # the Kelvin sign once raised KeyError
    with pytest.raises(ConfigError, match="invalid \\[policy\\] max_disk_size"):
        config.load(path)


def test_log_stamps_round_trip_and_mark_each_line_once() -> None:
    from zeroxl.host import logstamp

    assert logstamp.stamp(1796566164.5) == b"2026-12-06T14:09:24.500000Z "
    assert logstamp.parse(b"2026-12-06T14:09:24.500000Z hello\n") == (1796566164.5, b"hello\n")
    for unstamped in (b"hello", b"2026-12-06 14:09:24 hello", b"2026-12-06T14:09:24.5Z hi", b""):
        assert logstamp.parse(unstamped) == (None, unstamped)
    s = logstamp.Stamper()
    out = s.feed(b"par", 1.0) + s.feed(b"tial\nnext\n", 2.0) + s.feed(b"open", 3.0) + s.line(b"[0xl] own\n", 4.0)
    assert out == (
        b"1970-01-01T00:00:01.000000Z partial\n"
        b"1970-01-01T00:00:02.000000Z next\n"
        b"1970-01-01T00:00:03.000000Z open\n"
        b"1970-01-01T00:00:04.000000Z [0xl] own\n"
    )
    assert logstamp.strip(out) == b"partial\nnext\nopen\n[0xl] own\n"
