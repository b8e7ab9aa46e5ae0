"""A real HTTP proxy on 127.0.0.1 for tests: forwards `GET http://…` requests (the absolute form clients
send to a proxy) and tunnels `CONNECT host:port`, as squid or tinyproxy do. It records every request,
and can change the body of the answers it forwards (a tampering proxy)."""

from __future__ import annotations

import http.client
import http.server
import select
import socket
import threading
from collections.abc import Callable
from urllib.parse import urlsplit


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        pass


class Proxy:
    """`requests` lists each request as `"GET http://host:port/path"` or `"CONNECT host:port"`;
    `tamper(path, body)` returns the body to send on instead of the one the server sent."""

    def __init__(self, tamper: Callable[[str, bytes], bytes] | None = None) -> None:
        self.requests: list[str] = []
        self.tamper = tamper
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(f"GET {self.path}")
                url = urlsplit(self.path)
                if url.scheme != "http" or not url.hostname:
                    self.send_error(400, "a proxy wants an absolute http URL")
                    return
                upstream = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
                try:
                    path = url.path + (f"?{url.query}" if url.query else "")
                    skip = {"host", "proxy-connection", "connection"}
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                    upstream.request("GET", path, headers=headers)
                    answer = upstream.getresponse()
                    body = answer.read()
                finally:
                    upstream.close()
                if outer.tamper is not None:
                    body = outer.tamper(url.path, body)
                self.send_response(answer.status, answer.reason)
                for k, v in answer.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_CONNECT(self) -> None:
                outer.requests.append(f"CONNECT {self.path}")
                host, _, port = self.path.rpartition(":")
                try:
                    upstream = socket.create_connection((host, int(port)), timeout=30)
                except OSError:
                    self.send_error(502)
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                with upstream:
                    _relay(self.connection, upstream)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def _relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    peers = {a: b, b: a}
    while True:
        readable, _, _ = select.select(list(peers), [], [], 30)
        if not readable:
            return
        for s in readable:
            data = s.recv(65536)
            if not data:
                return
            peers[s].sendall(data)
