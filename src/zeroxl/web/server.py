"""Running the web application: where it listens, with which token and TLS settings, until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from zeroxl.web import auth
from zeroxl.web.adapter import Source
from zeroxl.web.app import Settings, make_app


class ServeError(Exception):
    """Why the server cannot start; `kind` is "usage" (a wrong option) or "conflict" (address in use)."""

    def __init__(self, message: str, *, hint: str | None = None, kind: str = "usage") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.kind = kind


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def url(self, scheme: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/"


def parse_listen(text: str) -> Listen:
    """HOST:PORT, [V6-ADDRESS]:PORT, or :PORT (every address)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise ServeError(f"--listen {text!r} is not HOST:PORT", hint="e.g. 127.0.0.1:9180, [::1]:9180 or 0.0.0.0:9180")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return Listen(host or "0.0.0.0", int(port))  # noqa: S104 - only with a token (check below)


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise ServeError(f"cannot use the TLS certificate {cert} and key {key}: {e}") from e
    return context


def serve(
    listen: Listen,
    *,
    token_file: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    refresh: float,
    home: str | None = None,
) -> None:
    if (tls_cert is None) != (tls_key is None):
        raise ServeError("--tls-cert and --tls-key go together")
    token = None
    if token_file is not None:
        try:
            token = auth.read_token(token_file)
        except auth.TokenError as e:
            raise ServeError(str(e), hint="make one with: umask 077; openssl rand -hex 32 > FILE") from e
    if token is None and not auth.is_loopback(listen.host):
        raise ServeError(
            f"listening on {listen.host}, beyond this machine, needs a token",
            hint="give --token-file FILE (made with: umask 077; openssl rand -hex 32 > FILE); see docs/web.md",
        )
    context = tls_context(tls_cert, tls_key) if tls_cert is not None and tls_key is not None else None
    settings = Settings(
        host=socket.gethostname(),
        token=token,
        hosts=frozenset({"localhost", "127.0.0.1", "::1", listen.host}),
        secure_cookie=context is not None,
        refresh=refresh,
    )
    app = make_app(Source(home), settings)
    asyncio.run(_run(app, listen, context))


async def _run(app: web.Application, listen: Listen, context: ssl.SSLContext | None) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, listen.host, listen.port, ssl_context=context, reuse_address=True)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise ServeError(
            f"cannot listen on {listen.host}:{listen.port}: {os.strerror(e.errno) if e.errno else e}",
            hint="is another server using that port? choose another with --listen",
            kind="conflict",
        ) from e
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stderr.write(
        f"0xl: serving {listen.url('https' if context else 'http')} (read-only; stop with Ctrl-C or SIGTERM)\n"
    )
    sys.stderr.flush()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
