"""`0xl serve`: the read-only web page, JSON API and Prometheus metrics (zeroxl.web, docs/web.md).

zeroxl.web (aiohttp, Jinja2, prometheus_client) is imported only when the command runs.
"""

from __future__ import annotations

import argparse

from zeroxl.cli import argtypes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from zeroxl.cli.feed_cmds import SubParsers

DEFAULT_LISTEN = "127.0.0.1:9180"


def cmd_serve(a: argparse.Namespace) -> int:
    from zeroxl.errors import ConflictError, UsageError

    try:
        from zeroxl.web import server
    except ImportError as e:
        raise UsageError(
            f"0xl serve needs the web extra, which is not installed ({e})",
            hint="install it with: pip install 'zeroxl[web]'",
        ) from e
    if not 0.5 <= a.refresh <= 3600:
        raise UsageError(f"--refresh {a.refresh:g}: give 0.5 to 3600 seconds")
    try:
        server.serve(
            server.parse_listen(a.listen),
            token_file=a.token_file,
            tls_cert=a.tls_cert,
            tls_key=a.tls_key,
            refresh=a.refresh,
        )
    except server.ServeError as e:
        error = ConflictError if e.kind == "conflict" else UsageError
        raise error(e.message, hint=e.hint) from e
    return 0


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    """Add `serve` and `top` to the commands in SUB."""
    from pathlib import Path

    from zeroxl.cli.top import cmd_top

    help = "serve a read-only web page of the services, a JSON API and Prometheus metrics"
    sp = sub.add_parser("serve", help=help, description=help + " (docs/web.md)")
    sp.set_defaults(handler=cmd_serve)
    sp.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"where to listen (default {DEFAULT_LISTEN}); beyond loopback a token is required",
    )
    sp.add_argument(
        "--token-file", type=Path, metavar="FILE", help="clients must show the token in FILE (one line, private)"
    )
    sp.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this certificate chain (PEM)")
    sp.add_argument("--tls-key", type=Path, metavar="FILE", help="the private key of --tls-cert (PEM)")
    sp.add_argument(
        "--refresh", type=argtypes.seconds, default=2.0, metavar="SECONDS", help="how often pages refresh (default 2)"
    )

    help = "show the services' CPU, memory and state, refreshed like xentop"
    sp = sub.add_parser("top", help=help, description=help)
    sp.set_defaults(handler=cmd_top)
    sp.add_argument(
        "-d",
        "--delay",
        type=argtypes.seconds,
        default=2.0,
        metavar="SECONDS",
        help="seconds between refreshes (default 2)",
    )
    sp.add_argument(
        "-n", "--iterations", type=argtypes.count, metavar="N", help="stop after N refreshes (default: until Ctrl-C)"
    )
    sp.add_argument(
        "-b", "--batch", action="store_true", help="print each refresh after the last (default when not on a terminal)"
    )
