"""The argument parser of `0xl`: global options, and each module's commands (cli.service_cmds,
cli.feed_cmds, cli.update_cmds, cli.serve, cli.boot_cmds, cli.host_cmds,
cli.completion), in the order `0xl --help` lists them.

A global option is taken before the command or after it (`0xl --debug add …`, `0xl add … --debug`): every
subparser has it too, with a SUPPRESS default, so that a subparser that was not given it leaves what the
top parser found as it is."""

from __future__ import annotations

import argparse

from zeroxl import __version__
from zeroxl.cli import boot_cmds, completion, feed_cmds, host_cmds, serve, service_cmds, update_cmds

DEBUG_HELP = "log external commands and show tracebacks"


def _subparsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below P (`trust add` too), each once."""
    found: dict[int, argparse.ArgumentParser] = {}
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in action.choices.values():
                for q in (sp, *_subparsers(sp)):
                    found.setdefault(id(q), q)
    return list(found.values())


def _global_options(p: argparse.ArgumentParser) -> None:
    """The global options on every subparser of P, and each subparser named in the namespace it fills
    (`command_parser`), so that an argument none of them knows is reported with that command's usage."""
    for sp in _subparsers(p):
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
        sp.set_defaults(command_parser=sp)


def parse(argv: list[str]) -> argparse.Namespace:
    """ARGV parsed; a wrong argument exits 2 with the usage of the command it was given to."""
    p = build_parser()
    args, extra = p.parse_known_args(argv)
    if extra:
        getattr(args, "command_parser", p).error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="0xl",
        description="Deploy services published as signed 0install feeds.",
        epilog="Exit statuses: see docs/exit-status.md.",
    )
    p.add_argument("--version", action="version", version=f"0xl {__version__}")
    p.add_argument("--debug", action="store_true", help=DEBUG_HELP + " (before or after the command)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    service_cmds.register(sub)  # add, run, stop, destroy, list, status, config, logs, trust, disk
    feed_cmds.register(sub)  # feed init|add|set-stability|sign|check, mirror
    update_cmds.register(sub)  # update, rollback, history, set, gc, doctor
    serve.register(sub)  # serve, top
    boot_cmds.register(sub)  # boot, enable, disable, systemd install, restart
    host_cmds.register(sub)  # host add|list|remove, and --host on the service commands
    completion.register(sub, root=p)  # completion, man: written from this parser as it is when they run
    _global_options(p)
    return p
