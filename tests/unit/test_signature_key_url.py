"""Where a missing signing key is looked for: beside the feed, as 0install builds the URL (fetch.ml)."""

from __future__ import annotations

import pytest

from zeroxl.feeds.verify import key_url


@pytest.mark.parametrize(
    ("feed_url", "key"),
    [
        ("http://example.org/feeds/app.xml", "http://example.org/feeds/398DB73A2908A249.gpg"),
        ("https://example.org:8443/app.xml", "https://example.org:8443/398DB73A2908A249.gpg"),
        ("http://example.org/dir/", "http://example.org/dir/398DB73A2908A249.gpg"),
        # 0install cuts at the last slash of the whole URL, query included.
        ("http://example.org/get?feed=a/b.xml", "http://example.org/get?feed=a/398DB73A2908A249.gpg"),
        # A local feed at the root of the file system (found by `make mutate`: the slash at index 0 counts).
        ("/app.xml", "/398DB73A2908A249.gpg"),
    ],
)
def test_key_is_looked_for_in_the_feeds_directory_by_16_hex_key_id(feed_url: str, key: str) -> None:
    assert key_url(feed_url, "398DB73A2908A249") == key


@pytest.mark.parametrize("keyid", ["398db73a2908a249", "398DB73A", "398DB73A2908A249" * 2, "../x"])
def test_only_a_16_hex_key_id_makes_a_key_url(keyid: str) -> None:
    with pytest.raises(ValueError, match="key id"):
        key_url("http://example.org/app.xml", keyid)


def test_feed_url_without_a_slash_has_no_key_url() -> None:
    with pytest.raises(ValueError, match="no directory"):
        key_url("app.xml", "398DB73A2908A249")
