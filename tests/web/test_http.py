"""`0xl serve` over HTTP on 127.0.0.1, against a real ZEROXL_HOME with running unix services: the JSON API
answers what `--json` prints, /metrics parses with Prometheus's own parser, a hostile feed name is
escaped, the token is required beyond loopback and compared right, and the server reads only."""

from __future__ import annotations

import json
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.feeds import FeedSite
from tests.support.web import HOSTILE, Served, get, serving, start_services
from tests.support.zx import free_port, snapshot

TOKEN = "0123456789abcdef0123456789abcdef"  # noqa: S105 - the tests' own


@pytest.fixture
def services(site: FeedSite, zx, zhome: Path) -> dict[str, int]:
    return start_services(site, zx)


@pytest.fixture
def served_at(zhome: Path, services: dict[str, int]) -> Iterator[Served]:
    port = free_port()
    with serving(zhome, "--listen", f"127.0.0.1:{port}", port=port) as s:
        yield s


def _volatile(views: list[dict]) -> list[dict]:
    """VIEWS without what changes from one reading to the next (uptime, CPU time, memory, ages)."""
    out = [{k: v for k, v in d.items() if k not in ("uptime", "resources")} for d in views]
    for d in out:
        if d.get("feed_signature"):
            d["feed_signature"] = {k: v for k, v in d["feed_signature"].items() if k != "age"}
    return out


def test_api_answers_what_list_and_status_json_print(served_at: Served, zx) -> None:
    status, headers, body = get(f"{served_at.url}/api/services")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert _volatile(json.loads(body)) == _volatile(json.loads(zx("list", "--json").out))
    status, _, body = get(f"{served_at.url}/api/services/web")
    api, cli = json.loads(body), json.loads(zx("status", "web", "--json").out)
    assert status == 200 and _volatile([api]) == _volatile([cli])
    assert api["state"] == "running" and api["version"] == "2.0" and api["resources"]["memory_bytes"] > 0
    status, _, body = get(f"{served_at.url}/api/services/web/history")
    assert status == 200 and json.loads(body) == json.loads(zx("history", "web", "--json").out)
    status, _, body = get(f"{served_at.url}/api/services/web/log?lines=5")
    assert status == 200 and b"listening on" in body
    for path in ("/api/services/nosuch", "/api/services/Bad..Name", "/services/nosuch", "/api/services/nosuch/log"):
        assert get(served_at.url + path)[0] == 404, path


def test_metrics_parse_with_prometheus_parser(served_at: Served, services: dict[str, int]) -> None:
    status, headers, body = get(f"{served_at.url}/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}

    samples = [s for f in families.values() for s in f.samples]

    def value(name: str, **labels: str) -> float:
        found = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
        assert len(found) == 1, (name, labels, [s for s in samples if s.name == name])
        return found[0]

    assert value("zeroxl_service_up", service="web") == 1
    assert value("zeroxl_service_up", service="idle") == 0
    assert value("zeroxl_service_state", service="idle", state="stopped") == 1
    assert families["zeroxl_service_restarts"].type == "counter"
    assert value("zeroxl_service_restarts_total", service="web") == 0
    assert families["zeroxl_service_cpu_seconds"].type == "counter"
    assert value("zeroxl_service_cpu_seconds_total", service="web") > 0
    assert value("zeroxl_service_memory_bytes", service="web") > 1 << 20  # a Python process
    assert value("zeroxl_service_info", service="web", version="2.0", backend="unix", channel="stable") == 1
    assert value("zeroxl_service_info", service="evil", version="1.0") == 1
    assert value("zeroxl_service_last_update_outcome", service="web", outcome="ok") == 1
    assert value("zeroxl_service_last_update_timestamp_seconds", service="web") > 1.7e9
    assert 0 <= value("zeroxl_service_feed_signature_age_seconds", service="web") < 600
    assert value("zeroxl_service_disk_size_bytes", service="web", disk="data") == 64 << 20
    assert 0 <= value("zeroxl_service_disk_used_bytes", service="web", disk="data") < 64 << 20
    assert value("zeroxl_service_start_time_seconds", service="web") > 1.7e9
    assert not [s for s in samples if s.name == "zeroxl_service_start_time_seconds" and s.labels["service"] == "idle"]


def test_hostile_feed_name_is_escaped_in_every_page(served_at: Served) -> None:
    for path in ("/", "/fragments/services", "/services/evil", "/fragments/services/evil"):
        status, headers, body = get(served_at.url + path)
        page = body.decode()
        assert status == 200 and headers["Content-Type"].startswith("text/html"), path
        assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page, path
        assert HOSTILE not in page and "<img src=x" not in page and "&lt;img src=x onerror" in page, path
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_server_reads_only(served_at: Served, zhome: Path) -> None:
    before = snapshot(zhome)
    for path in ("/", "/services/web", "/metrics", "/api/services", "/api/services/web", "/api/services/web/log"):
        assert get(served_at.url + path)[0] == 200
    req_status = _post(f"{served_at.url}/api/services/web", b"{}")
    assert req_status == 405
    assert snapshot(zhome) == before


def test_a_page_that_rebinds_its_name_to_loopback_reads_nothing(served_at: Served) -> None:
    # DNS rebinding: a site elsewhere makes its own name resolve to 127.0.0.1 and reads the page from a
    # browser there; the browser sends that site's name as the Host.
    port = served_at.url.rsplit(":", 1)[1]
    for path in ("/", "/api/services", "/metrics"):
        status, _, body = get(served_at.url + path, headers={"Host": f"attacker.example:{port}"})
        assert status == 403 and b"web" not in body, path
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert get(served_at.url + "/api/services", headers={"Host": host})[0] == 200, host


def _post(url: str, data: bytes, headers: dict[str, str] | None = None) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {}), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


# -- beyond loopback: the token -----------------------------------------------------------------------------


def _token_file(tmp_path: Path, token: str = TOKEN) -> Path:
    path = tmp_path / "token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def test_listening_beyond_loopback_without_a_token_is_refused(zx, zhome: Path) -> None:
    r = zx("serve", "--listen", f"0.0.0.0:{free_port()}", timeout=30)
    assert r.rc == 2, r
    assert "needs a token" in r.err and "--token-file" in r.err
    r = zx("serve", "--listen", f"[::]:{free_port()}", timeout=30)
    assert r.rc == 2 and "needs a token" in r.err, r


def test_token_file_others_may_read_is_refused(zx, tmp_path: Path) -> None:
    path = _token_file(tmp_path)
    path.chmod(0o644)
    r = zx("serve", "--listen", f"0.0.0.0:{free_port()}", "--token-file", str(path), timeout=30)
    assert r.rc == 2 and "may be read by others" in r.err, r
    path.chmod(0o600)
    path.write_text("short\n")
    r = zx("serve", "--listen", f"0.0.0.0:{free_port()}", "--token-file", str(path), timeout=30)
    assert r.rc == 2 and "at least 16" in r.err, r


def test_beyond_loopback_only_the_right_token_is_let_in(zhome: Path, services: dict[str, int], tmp_path: Path) -> None:
    token = TOKEN
    port = free_port()
    # Every address: requests still go to 127.0.0.1 only.
    with serving(
        zhome, "--listen", f"0.0.0.0:{port}", "--token-file", str(_token_file(tmp_path, token)), port=port
    ) as s:
        for path in ("/api/services", "/metrics", "/", "/services/web", "/fragments/services"):
            status, headers, body = get(s.url + path)
            assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer"), path
            assert b"web" not in body.replace(b"/static/", b""), path  # nothing about the services
            status, _, body = get(s.url + path, headers={"Authorization": "Bearer " + token[:-1] + "0"})
            assert status == 403, path
            status, _, body = get(s.url + path, headers={"Authorization": f"Bearer {token}"})
            assert status == 200, path
        # A browser: the login form sets a cookie that lets it in.
        assert _post(f"{s.url}/login", b"token=wrong-token-wrong-token") == 403
        opener = _cookie_opener()
        with opener.open(f"{s.url}/login", data=f"token={token}".encode(), timeout=10) as r:
            assert r.status == 200 and b"evil" in r.read()  # redirected to the list
        with opener.open(f"{s.url}/api/services", timeout=10) as r:
            assert {d["name"] for d in json.loads(r.read())} == {"web", "evil", "idle"}


def _cookie_opener() -> Any:
    import http.cookiejar
    import urllib.request

    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def test_tls_with_the_given_certificate(zhome: Path, services: dict[str, int], tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    token = TOKEN
    port = free_port()
    args = ("--token-file", str(_token_file(tmp_path, token)), "--tls-cert", str(cert), "--tls-key", str(key))
    with serving(zhome, "--listen", f"0.0.0.0:{port}", *args, port=port, scheme="https") as s:
        context = ssl.create_default_context(cafile=str(cert))
        status, _, body = get(f"{s.url}/api/services", headers={"Authorization": f"Bearer {token}"}, context=context)
        assert status == 200 and len(json.loads(body)) == 3
        assert get(f"{s.url}/api/services", context=context)[0] == 401
        # Plain HTTP on the TLS port gets no answer from the services.
        with pytest.raises(OSError):
            get(f"http://127.0.0.1:{port}/api/services")


def test_port_in_use_is_a_conflict(zx, served_at: Served) -> None:
    port = int(served_at.url.rsplit(":", 1)[1])
    r = zx("serve", "--listen", f"127.0.0.1:{port}", timeout=30)
    assert r.rc == 7 and "cannot listen" in r.err, r
