"""`--json`: the same shape rules for every command. A command's result on stdout is one JSON value: an
object for one thing (a service, a key, a disk), an array for several (`list`, `history`, `update`),
never a bare string; keys are snake_case; what is not known is null, not absent. An error under `--json`
is one JSON object on stderr (`error_json`): status, message, hint (null without one) and kind; a command
that worked on several services adds `failures`, one such object each. Kept light: `0xl list --json`
reports its errors through it."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from zeroxl.errors import ZeroxlError
    from zeroxl.state.service import Service

HELP = "print the result as JSON on stdout (an error: a JSON object on stderr; docs/exit-status.md)"


def add_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--json", action="store_true", help=HELP)


def error_json(e: ZeroxlError) -> dict[str, Any]:
    """E as a JSON object, its settings called by the options that set them (cli.messages)."""
    from zeroxl.cli.messages import worded
    from zeroxl.errors import SomeFailed

    message, hint = worded(e)
    out: dict[str, Any] = {"status": int(e.exit_status), "message": message, "hint": hint, "kind": type(e).__name__}
    if isinstance(e, SomeFailed):
        out["failures"] = [error_json(f) for f in e.failures]
    return out


def print_error(e: ZeroxlError, status: int) -> None:
    """E on stderr as one line of JSON, with STATUS, the exit status the command ends with."""
    from zeroxl.state import fastjson

    sys.stderr.write(fastjson.dumps({**error_json(e), "status": status}) + "\n")


def service(svc: Service) -> dict[str, Any]:
    """What a command that changed a service says about it (`add`, `run`, `stop`, `set`, `rollback`)."""
    return {
        "name": svc.name,
        "feed": svc.feed,
        "version": svc.current.version if svc.current else None,
        "backend": svc.backend,
        "target": svc.target,
        "channel": svc.channel,
        "versions": svc.versions,
        "desired": svc.desired,
        "disks": [d.to_json() for d in svc.disks],
    }
