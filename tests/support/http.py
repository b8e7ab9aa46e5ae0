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
    requests_seen: list[str]


class StaticServer:
    """Serves ROOT at http://127.0.0.1:PORT/ in a thread. `requests` lists the paths asked for;
    `redirects` maps a path to the Location a 302 answer sends instead; `stall` makes every answer
    wait that many seconds first (a server that accepts connections but does not answer)."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self.root = root
        outer = self

        class Handler(_Handler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                if outer.stall:
                    time.sleep(outer.stall)
                if self.path in outer.redirects:
                    self.send_response(302)
                    self.send_header("Location", outer.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                super().do_GET()

        self.requests: list[str] = []
        self.redirects: dict[str, str] = {}
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
