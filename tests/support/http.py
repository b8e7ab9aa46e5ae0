"""A static HTTP server on 127.0.0.1 for tests: serves a directory, can be stopped to play dead."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from pathlib import Path


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the connections of a client that fetches many feeds at
    # once (0xl update --all), and the kernel retries them only after a second.
    request_queue_size = 128
    requests_seen: list[str]

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up mid-answer (0xl refusing an oversized feed) is expected here; the default
        # prints a traceback to sys.stderr, which may be an in-process 0xl's captured stderr just then.
        pass


class StaticServer:
    """Serves ROOT at http://127.0.0.1:PORT/ in a thread. `requests` lists the paths asked for;
    `answers` the (path, status) of each response (304 for a conditional request that matched);
    `redirects` maps a path to the Location a 302 answer sends instead; `encodings` maps a path to the
    Content-Encoding its answer claims (the file is sent as stored, as Apache's `AddEncoding` does);
    `request_headers` holds each request's headers; `drips` maps a path to the seconds between the bytes
    of its body (a server that trickles, each byte well within any read timeout); `stall` makes every answer
    wait that many seconds first (a server that accepts connections but does not answer, or one
    across a network)."""

    def __init__(self, root: Path, port: int = 0, *, keep_alive: bool = False) -> None:
        """With KEEP_ALIVE, speak HTTP/1.1 and keep connections open, as production servers do (the
        benchmarks); else HTTP/1.0, one connection per request, so that stop() leaves none behind."""
        self.root = root
        outer = self

        class Handler(_Handler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                outer.request_headers.append(dict(self.headers.items()))
                if outer.stall:
                    time.sleep(outer.stall)
                if self.path in outer.drips:
                    self._drip(outer.drips[self.path])
                    return
                if self.path in outer.redirects:
                    self.send_response(302)
                    self.send_header("Location", outer.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                super().do_GET()

            def _drip(self, pause: float) -> None:
                data = (outer.root / self.path.lstrip("/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                for byte in data:
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:  # the client gave up
                        return
                    time.sleep(pause)

            def send_response(self, code: int, message: str | None = None) -> None:
                outer.answers.append((self.path, code))
                super().send_response(code, message)

            def end_headers(self) -> None:
                if self.path in outer.encodings:
                    self.send_header("Content-Encoding", outer.encodings[self.path])
                super().end_headers()

        self.requests: list[str] = []
        self.answers: list[tuple[str, int]] = []
        self.redirects: dict[str, str] = {}
        self.encodings: dict[str, str] = {}
        self.drips: dict[str, float] = {}
        self.request_headers: list[dict[str, str]] = []
        self.stall = 0.0
        handler = functools.partial(Handler, directory=str(root))
        self.httpd = _Server(("127.0.0.1", port), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
