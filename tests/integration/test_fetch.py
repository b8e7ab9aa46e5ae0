"""The fetcher's limits against a real server on 127.0.0.1: redirects, timeouts, sizes."""

from __future__ import annotations

import gzip
import io

import pytest

from tests.support.http import StaticServer
from zeroxl.errors import DownloadError, VerificationError
from zeroxl.feeds.fetch import FetchConfig, Fetcher


def test_redirects_are_followed_up_to_the_limit(server: StaticServer) -> None:
    (server.root / "feed.xml").write_bytes(b"<x/>")
    for i in range(5):
        server.redirects[f"/r{i}"] = f"/r{i + 1}" if i < 4 else "/feed.xml"
    with Fetcher() as f:
        assert f.fetch(f"{server.url}/r0", max_bytes=100, what="feed").data == b"<x/>"
        server.redirects["/loop"] = "/loop"
        with pytest.raises(DownloadError, match="more than 5 redirects"):
            f.fetch(f"{server.url}/loop", max_bytes=100, what="feed")


def test_a_server_that_does_not_answer_times_out(server: StaticServer) -> None:
    (server.root / "feed.xml").write_bytes(b"<x/>")
    server.stall = 3
    with Fetcher(FetchConfig(read_timeout=0.5)) as f, pytest.raises(DownloadError, match="did not answer in time"):
        f.fetch(f"{server.url}/feed.xml", max_bytes=100, what="feed")


def test_a_feed_trickling_in_is_given_up_at_its_deadline(server: StaticServer) -> None:
    (server.root / "feed.xml").write_bytes(b"<x/>" * 50)  # 200 bytes, one every 50 ms: 10 s
    server.drips["/feed.xml"] = 0.05
    config = FetchConfig(read_timeout=5, document_timeout=1)
    with Fetcher(config) as f, pytest.raises(DownloadError, match="did not arrive whole within 1 s"):
        f.fetch(f"{server.url}/feed.xml", max_bytes=4096, what="feed")


def test_a_download_slower_than_the_minimum_speed_is_given_up(server: StaticServer) -> None:
    (server.root / "a.tgz").write_bytes(b"y" * 200)
    server.drips["/a.tgz"] = 0.05  # 20 bytes/s, each byte well within the read timeout
    config = FetchConfig(read_timeout=5, min_speed=100, speed_time=0.5)
    with Fetcher(config) as f, pytest.raises(DownloadError, match="slower than 100 bytes/s for 0.5 s"):
        f.download(f"{server.url}/a.tgz", io.BytesIO(), size=200, what="archive")


def test_a_slow_download_above_the_minimum_speed_completes(server: StaticServer) -> None:
    (server.root / "a.tgz").write_bytes(b"y" * 40)
    server.drips["/a.tgz"] = 0.02  # 50 bytes/s for 0.8 s
    out = io.BytesIO()
    with Fetcher(FetchConfig(min_speed=20, speed_time=0.3)) as f:
        f.download(f"{server.url}/a.tgz", out, size=40, what="archive")
    assert out.getvalue() == b"y" * 40


def test_documents_over_their_limit_are_refused_while_reading(server: StaticServer) -> None:
    (server.root / "big").write_bytes(b"x" * 5000)
    with Fetcher() as f, pytest.raises(DownloadError, match="larger than the limit of 4096 bytes"):
        f.fetch(f"{server.url}/big", max_bytes=4096, what="feed")


def test_downloads_must_have_exactly_the_declared_size(server: StaticServer) -> None:
    (server.root / "a.tgz").write_bytes(b"y" * 1000)
    with Fetcher() as f:
        out = io.BytesIO()
        f.download(f"{server.url}/a.tgz", out, size=1000, what="archive")
        assert out.getvalue() == b"y" * 1000
        for size in (999, 1001):
            with pytest.raises(VerificationError, match="1000 bytes"):
                f.download(f"{server.url}/a.tgz", io.BytesIO(), size=size, what="archive")


def test_archive_labelled_content_encoding_gzip_is_saved_as_stored(server: StaticServer) -> None:
    # Apache's `AddEncoding x-gzip .gz` labels a .tar.gz so; the feed's size is the stored file's.
    stored = gzip.compress(b"\0" * 10240)
    (server.root / "a.tar.gz").write_bytes(stored)
    server.encodings["/a.tar.gz"] = "gzip"
    with Fetcher() as f:
        out = io.BytesIO()
        f.download(f"{server.url}/a.tar.gz", out, size=len(stored), what="archive")
    assert out.getvalue() == stored
    assert server.request_headers[-1]["Accept-Encoding"] == "identity"


def test_feed_sent_with_content_encoding_anyway_is_decoded(server: StaticServer) -> None:
    # A server that compresses although asked not to: the feed is the decoded document.
    (server.root / "feed.xml").write_bytes(gzip.compress(b"<x/>"))
    server.encodings["/feed.xml"] = "gzip"
    with Fetcher() as f:
        assert f.fetch(f"{server.url}/feed.xml", max_bytes=100, what="feed").data == b"<x/>"
    assert server.request_headers[-1]["Accept-Encoding"] == "identity"
