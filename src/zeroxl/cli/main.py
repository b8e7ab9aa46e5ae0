"""The `0xl` command's entry point: the one place that turns errors into exit statuses
(docs/exit-status.md), `--debug`, and the fast path of `0xl list`.

The parser and the commands (cli.parser, cli.*_cmds) are imported only when needed: `0xl list --json` is
polled by scripts and must start fast.
"""

from __future__ import annotations

import sys

from zeroxl.errors import ExitStatus, SomeFailed, ZeroxlError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


# The commands that take --host (cli.host_cmds.SERVICE_COMMANDS: not imported here, to start fast).
_HOST_COMMANDS = frozenset(
    [
        "add",
        "run",
        "stop",
        "restart",
        "destroy",
        "status",
        "config",
        "logs",
        "update",
        "rollback",
        "history",
        "set",
        "move",
        "disk",
    ]
)


def _host(args: object) -> str:
    """The host a service command works on: --host, else ZEROXL_HOST, else the default host."""
    import os

    from zeroxl.host.paths import home_dir
    from zeroxl.state.hosts import ENV, Hosts

    given = getattr(args, "host", None) or os.environ.get(ENV)
    if given:
        return str(given)
    from pathlib import Path

    return Hosts(Path(home_dir())).default()


def _is_fast(argv: Sequence[str]) -> bool:
    """`0xl list [--json] [--no-trunc]` runs without argparse.

    Scripts and monitoring poll `0xl list --json`; importing argparse and building the full parser
    would be more than half of its time. Any other argument goes through the full parser.
    """
    return bool(argv) and argv[0] == "list" and set(argv[1:]) <= {"--json", "--no-trunc"}


def _report(e: ZeroxlError, *, debug: bool, json: bool = False) -> int:
    """Print E (under --json as a JSON object on stderr: cli.jsonout) and give its exit status."""
    if debug:
        import traceback

        traceback.print_exc()
    status = int(e.exit_status)
    if isinstance(e, SomeFailed):
        statuses = {f.exit_status for f in e.failures}
        status = int(statuses.pop() if len(statuses) == 1 else ExitStatus.ERROR)
    if json:
        from zeroxl.cli import jsonout

        jsonout.print_error(e, status)
        return status
    from zeroxl.cli.messages import print_error, worded

    print_error(*worded(e))
    return status


def _private_home(*, create: bool) -> None:
    """ZEROXL_HOME is its owner's alone: checked (and closed, if an earlier 0xl left it open) before any
    command uses it (zeroxl.state.private, docs/home.md)."""
    from zeroxl.host.paths import home_dir
    from zeroxl.state.private import secure_home

    def info(message: str) -> None:
        sys.stderr.write(message + "\n")

    secure_home(home_dir(), create=create, info=info)


def main(argv: Sequence[str] | None = None) -> int:
    from zeroxl import safetext

    # Everything 0xl prints, whoever prints it, reaches the terminal through safetext.
    saved = safetext.guard()
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    finally:
        safetext.unguard(saved)


def _main(argv: list[str]) -> int:
    # `0xl list` and the publisher's commands (`feed …`, which may run where 0xl manages no host) do not
    # make a home that is missing; every command checks one that exists.
    creates_home = False
    if _is_fast(argv):
        debug, json = False, "--json" in argv
        from zeroxl.cli.listing import list_services

        run: Callable[[], int] = lambda: list_services(json=json, trunc="--no-trunc" not in argv)  # noqa: E731
    else:
        from zeroxl.cli.parser import parse

        args = parse(argv)
        debug, json = args.debug, bool(getattr(args, "json", False))
        if debug:
            import logging

            logging.basicConfig(level=logging.DEBUG, format="0xl: %(name)s: %(message)s", stream=sys.stderr)
        if args.command in _HOST_COMMANDS or "zeroxl.cli.context" in sys.modules:
            from zeroxl.cli.context import select_host

            # Only the service commands work on another host; gc, doctor, trust… on this machine's home.
            select_host(_host(args) if args.command in _HOST_COMMANDS else "local")
        run = lambda: int(args.handler(args))  # noqa: E731
        creates_home = args.command != "feed"
    try:
        _private_home(create=creates_home)
        return run()
    except ZeroxlError as e:
        return _report(e, debug=debug, json=json)
    except KeyboardInterrupt:
        # On a terminal the cursor is where ^C was echoed (after a prompt, say): start a line of its own.
        sys.stderr.write(("\n" if sys.stderr.isatty() else "") + "0xl: interrupted\n")
        return int(ExitStatus.INTERRUPTED)
    except BrokenPipeError:
        return 0
    except Exception as e:
        if debug:
            raise
        from zeroxl.safetext import line

        sys.stderr.write(
            f"0xl: internal error: {type(e).__name__}: {line(e)}\n0xl: hint: run again with --debug for details\n"
        )
        return int(ExitStatus.ERROR)


def entry() -> None:
    sys.exit(main())
