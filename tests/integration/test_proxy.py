"""Feeds, keys and archives through a real HTTP proxy on 127.0.0.1: from the environment
(`http_proxy`, `https_proxy`, `all_proxy`, `no_proxy`) or from `[fetch] proxy` in config.toml. A proxy
carries bytes and is trusted with nothing: what it changes is refused, as from any server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl, forged_same_size
from tests.support.http import StaticServer
from tests.support.proxy import Proxy
from tests.support.zx import snapshot
from zeroxl.errors import ConfigError, DownloadError
from zeroxl.feeds.fetch import Fetcher
from zeroxl.host.proxies import Proxies, from_environment


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    p = Proxy()
    try:
        yield p
    finally:
        p.stop()


def _dead_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_feed_key_and_archive_go_through_the_proxy_in_the_environment(
    site: FeedSite, zxi, proxy: Proxy, server: StaticServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = site.publish("web", [Impl("1.0")])
    monkeypatch.setenv("http_proxy", proxy.url)
    r = zxi("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 0, r
    seen = [line.split(server.url)[-1] for line in proxy.requests]
    assert "/web.xml" in seen
    assert f"/{site.publisher.keyid}.gpg" in seen
    assert any(p.startswith("/archives/web-1.0-") for p in seen), seen
    # Everything the server was asked for came through the proxy.
    assert len(server.requests) == len(proxy.requests)
    assert all(line.startswith(f"GET {server.url}/") for line in proxy.requests)


def test_no_proxy_sends_the_host_directly(
    site: FeedSite, zxi, proxy: Proxy, server: StaticServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = site.publish("web", [Impl("1.0")])
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.setenv("no_proxy", f"example.org,127.0.0.1:{server.port}")
    r = zxi("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 0, r
    assert proxy.requests == []
    assert server.requests


def test_all_proxy_is_used_when_no_scheme_has_its_own(
    site: FeedSite, proxy: Proxy, server: StaticServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = site.publish("web", [Impl("1.0")])
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    with Fetcher() as f:
        assert f.fetch(url, max_bytes=1 << 20, what="feed").data
    assert proxy.requests == [f"GET {url}"]


def test_config_proxy_is_used_and_the_environment_ignored(
    site: FeedSite, zxi, zhome: Path, proxy: Proxy, *, server: StaticServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = site.publish("web", [Impl("1.0")])
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{_dead_port()}")
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text(f'[fetch]\nproxy = "{proxy.url}"\n')
    r = zxi("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 0, r
    assert len(proxy.requests) == len(server.requests) == 3


def test_config_proxy_empty_means_direct_whatever_the_environment_says(
    site: FeedSite, zxi, zhome: Path, server: StaticServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = site.publish("web", [Impl("1.0")])
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{_dead_port()}")
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text('[fetch]\nproxy = ""\n')
    assert zxi("add", "web", url, "--trust-key", site.publisher.fingerprint).rc == 0


def test_a_proxy_that_changes_the_feed_is_refused(
    site: FeedSite, zxi, zhome: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = site.publish("web", [Impl("1.0")])
    tampering = Proxy(tamper=lambda path, body: body.replace(b"web test service", b"web evil service"))
    try:
        monkeypatch.setenv("http_proxy", tampering.url)
        before = snapshot(zhome)
        r = zxi("add", "web", url, "--trust-key", site.publisher.fingerprint)
        assert any(line.endswith("/web.xml") for line in tampering.requests)
    finally:
        tampering.stop()
    assert r.rc == 4, r
    assert "modified after signing" in r.err, r
    assert snapshot(zhome) == before


def test_a_proxy_that_changes_the_archive_is_refused(
    site: FeedSite, zxi, zhome: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = site.publish("web", [Impl("1.0")])

    def forge(path: str, body: bytes) -> bytes:
        return forged_same_size(body) if path.startswith("/archives/") else body

    tampering = Proxy(tamper=forge)
    try:
        monkeypatch.setenv("http_proxy", tampering.url)
        before = snapshot(zhome)
        r = zxi("add", "web", url, "--trust-key", site.publisher.fingerprint)
        assert any("/archives/" in line for line in tampering.requests)
    finally:
        tampering.stop()
    assert r.rc == 4, r
    assert "digest" in r.err, r
    assert snapshot(zhome) == before


def test_a_dead_proxy_is_a_download_error_that_names_it(
    site: FeedSite, zxi, zhome: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = site.publish("web", [Impl("1.0")])
    dead = f"http://user:secret@127.0.0.1:{_dead_port()}"
    monkeypatch.setenv("http_proxy", dead)
    r = zxi("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert r.rc == 5, r
    assert "through the proxy http://…@127.0.0.1:" in r.err, r
    assert "secret" not in r.err
    assert "0xl: hint: the proxy comes from https_proxy, http_proxy or all_proxy in the environment" in r.err, r


def test_https_goes_through_a_connect_tunnel_and_tls_is_still_checked(
    tmp_path: Path, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A TLS server whose certificate no CA signed: through the tunnel, 0xl speaks TLS with the server
    # itself, so the proxy sees only CONNECT and the certificate is checked as without a proxy.
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    (tmp_path / "www").mkdir()
    tls = StaticServer(tmp_path / "www")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    tls.httpd.socket = context.wrap_socket(tls.httpd.socket, server_side=True)
    try:
        monkeypatch.setenv("https_proxy", proxy.url)
        with Fetcher() as f, pytest.raises(DownloadError, match="through the proxy") as e:
            f.fetch(f"https://127.0.0.1:{tls.port}/feed.xml", max_bytes=100, what="feed")
    finally:
        tls.stop()
    assert proxy.requests == [f"CONNECT 127.0.0.1:{tls.port}"]
    assert "CERTIFICATE_VERIFY_FAILED" in str(e.value) or "certificate" in str(e.value).lower()


# -- the rules (host.proxies) -----------------------------------------------------------------------


def test_environment_rules_follow_curl() -> None:
    env = {
        "http_proxy": "proxy.lan:3128",
        "HTTPS_PROXY": "http://secure.lan:3128",
        "no_proxy": ".internal.example, 10.0.0.0/8, [::1], mirror.lan:8080",
    }
    p = from_environment(env)
    assert p.for_url("http://example.org/f.xml") == "http://proxy.lan:3128"
    assert p.for_url("https://example.org/f.xml") == "http://secure.lan:3128"
    assert p.for_url("https://internal.example/f.xml") is None
    assert p.for_url("https://a.internal.example/f.xml") is None
    assert p.for_url("https://notinternal.example/f.xml") == "http://secure.lan:3128"
    assert p.for_url("http://10.1.2.3/f.xml") is None
    assert p.for_url("http://[::1]:8000/f.xml") is None
    assert p.for_url("http://mirror.lan:8080/f.xml") is None
    assert p.for_url("http://mirror.lan/f.xml") == "http://proxy.lan:3128"
    # HTTP_PROXY in upper case can come from a web client's "Proxy:" header in a CGI (httpoxy): ignored.
    assert from_environment({"HTTP_PROXY": "http://evil:1"}).for_url("http://example.org/") is None
    assert from_environment({"http_proxy": "http://p:1", "no_proxy": "*"}).for_url("http://example.org/") is None
    assert Proxies().for_url("https://example.org/") is None


def test_socks_proxy_is_refused_not_bypassed(site: FeedSite, zxi, zhome: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = site.publish("web", [Impl("1.0")])
    monkeypatch.setenv("all_proxy", "socks5://127.0.0.1:1080")
    before = snapshot(zhome)
    r = zxi("add", "web", url, "--trust-key", site.publisher.fingerprint)
    assert isinstance(r.error, ConfigError) and r.rc == ConfigError.exit_status, r
    assert "0xl: error: all_proxy in the environment is 'socks5://127.0.0.1:1080', not an http proxy URL" in r.err
    assert snapshot(zhome) == before


def test_bad_config_proxy_is_a_config_error(zxi, zhome: Path) -> None:
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text('[fetch]\nproxy = "ftp://proxy.lan"\n')
    r = zxi("add", "web", "http://127.0.0.1:9/web.xml")
    assert isinstance(r.error, ConfigError) and r.rc == ConfigError.exit_status, r
    assert "config.toml: [fetch] proxy is 'ftp://proxy.lan', not an http proxy URL" in r.err, r


def test_config_no_proxy_without_a_proxy_is_a_config_error(zxi, zhome: Path) -> None:
    # It would do nothing (the environment decides then): a typo-like mistake, said at once.
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text('[fetch]\nno_proxy = ["mirror.lan"]\n')
    r = zxi("add", "web", "http://127.0.0.1:9/web.xml")
    assert isinstance(r.error, ConfigError) and r.rc == ConfigError.exit_status, r
    assert "[fetch] no_proxy is set without [fetch] proxy" in r.err, r


def test_config_no_proxy_sends_its_hosts_directly(
    site: FeedSite, zxi, zhome: Path, proxy: Proxy, server: StaticServer
) -> None:
    url = site.publish("web", [Impl("1.0")])
    zhome.mkdir(parents=True, exist_ok=True)
    (zhome / "config.toml").write_text(f'[fetch]\nproxy = "{proxy.url}"\nno_proxy = ["127.0.0.0/8"]\n')
    assert zxi("add", "web", url, "--trust-key", site.publisher.fingerprint).rc == 0
    assert proxy.requests == [] and server.requests
