"""The argument parser of `0xl`: global options, and each module's commands (cli.service_cmds,
cli.feed_cmds, cli.update_cmds, cli.serve), in the order `0xl --help` lists them."""

from __future__ import annotations

import argparse

from zeroxl import __version__
from zeroxl.cli import feed_cmds, host_cmds, serve, service_cmds, update_cmds


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="0xl",
        description="Deploy services published as signed 0install feeds.",
        epilog="Exit statuses: see docs/exit-status.md.",
    )
    p.add_argument("--version", action="version", version=f"0xl {__version__}")
    p.add_argument("--debug", action="store_true", help="log external commands and show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    service_cmds.register(sub)  # add, run, stop, destroy, list, status, config, logs, trust, disk
    feed_cmds.register(sub)  # feed init|add|set-stability|sign|check, mirror
    update_cmds.register(sub)  # update, rollback, history, set, gc, doctor
    serve.register(sub)  # serve, top
    host_cmds.register(sub)  # host add|list|remove, and --host on the service commands
    return p
