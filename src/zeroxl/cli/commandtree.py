"""The commands, options and operands of `0xl` as plain data, read from the argparse parser
(cli.parser.build_parser): what the shell completions (cli.completion) and the man page (cli.manpage)
are written from, so that they follow every command and option the parser gains.

argparse has no public API to list a parser's actions: this reads `_actions` and the subparsers'
`choices`, as shtab and argparse-manpage do.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Operands that name a service 0xl has (completed from `0xl list`); `add` names a new one.
SERVICE_OPERANDS = ("name", "names", "service")


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    takes_value: bool
    metavar: str
    choices: tuple[str, ...]
    help: str
    files: bool  # the value is a path


@dataclass(frozen=True)
class Operand:
    name: str
    choices: tuple[str, ...]
    help: str
    many: bool
    optional: bool
    service: bool  # names an existing service


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]  # () for 0xl itself, ("feed", "add") for `0xl feed add`
    help: str  # one line
    description: str
    usage: str  # argparse's usage, without "usage: ", wrapped at 78 columns
    options: tuple[Option, ...]
    operands: tuple[Operand, ...]
    subcommands: tuple[Command, ...]

    @property
    def words(self) -> str:
        return " ".join(self.path)


def read(parser: argparse.ArgumentParser, path: tuple[str, ...] = (), help: str = "") -> Command:
    options: list[Option] = []
    operands: list[Operand] = []
    subcommands: list[Command] = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:  # an alias
                    continue
                seen.add(id(sub))
                subcommands.append(read(sub, (*path, name), _text(helps.get(name, ""), sub.prog)))
            continue
        choices = tuple(str(c) for c in action.choices or ())
        text = _text(action.help, parser.prog, action)
        if action.option_strings:
            takes_value = action.nargs != 0
            metavar = _metavar(action)
            files = action.type is Path or any(w in metavar for w in ("FILE", "DIR", "PATH"))
            options.append(Option(tuple(action.option_strings), takes_value, metavar, choices, text, files))
        else:
            operands.append(
                Operand(
                    _metavar(action),
                    choices,
                    text,
                    many=action.nargs in ("*", "+", argparse.REMAINDER),
                    optional=action.nargs in ("?", "*"),
                    service=action.dest in SERVICE_OPERANDS and path[-1:] != ("add",),
                )
            )
    # argparse's usage, wrapped at a fixed width: the man page must not depend on the terminal.
    formatter = parser.formatter_class(prog=parser.prog, width=78)  # type: ignore[call-arg]
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    usage = formatter.format_help().strip("\n")
    return Command(
        path=path,
        help=help,
        description=" ".join((parser.description or help).split()),
        usage=usage,
        options=tuple(options),
        operands=tuple(operands),
        subcommands=tuple(subcommands),
    )


def walk(command: Command) -> Iterator[Command]:
    """COMMAND and every command under it, parents first."""
    yield command
    for sub in command.subcommands:
        yield from walk(sub)


def _metavar(action: argparse.Action) -> str:
    if isinstance(action.metavar, str):
        return action.metavar
    if isinstance(action.metavar, tuple):
        return " ".join(action.metavar)
    if action.choices:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest.upper() if action.option_strings else action.dest


def _text(help: str | None, prog: str, action: argparse.Action | None = None) -> str:
    """HELP with argparse's %(default)s-style fields filled in, on one line."""
    if not help:
        return ""
    if action is not None and "%" in help:
        fields = {k: v for k, v in vars(action).items() if v is not argparse.SUPPRESS}
        with contextlib.suppress(KeyError, TypeError, ValueError):  # a literal %: the text as written
            help = help % dict(fields, prog=prog)
    return " ".join(help.split())
