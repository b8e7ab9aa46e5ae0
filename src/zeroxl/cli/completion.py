"""`0xl completion bash|zsh|fish` prints a completion script, and `0xl man` the manual page (cli.manpage),
both written from the parser itself (cli.commandtree): a command or option added to the parser is in
them without anyone editing them.

Each script knows every command path, the options of each (and which take a value, with their choices),
and completes service names from `0xl list` where an operand names a service.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from zeroxl.cli import commandtree
from zeroxl.cli.commandtree import Command, Option

TYPE_CHECKING = False
if TYPE_CHECKING:
    from zeroxl.cli.feed_cmds import SubParsers

SHELLS = ("bash", "zsh", "fish")
# Service names, one a line, from `0xl list` (its first column, after the header).
LIST_SERVICES = "0xl list 2>/dev/null | tail -n +2 | cut -d ' ' -f 1"


def register(sub: SubParsers[argparse.ArgumentParser], *, root: argparse.ArgumentParser) -> None:
    """Add `completion` and `man` to SUB; both describe ROOT as it is when they run."""
    help = "print a completion script for bash, zsh or fish"
    sp = sub.add_parser(
        "completion",
        help=help,
        description=help + ". bash: 0xl completion bash > ~/.local/share/bash-completion/completions/0xl; "
        "zsh: 0xl completion zsh > DIR/_0xl with DIR in $fpath; "
        "fish: 0xl completion fish > ~/.config/fish/completions/0xl.fish",
    )
    sp.add_argument("shell", choices=SHELLS)
    sp.set_defaults(handler=lambda a: _print(script(a.shell, root)))

    help = "print 0xl's manual page (roff): read it with 0xl man | man -l -"
    sp = sub.add_parser("man", help=help, description=help)
    sp.set_defaults(handler=lambda a: _print(_manual(root)))


def _manual(root: argparse.ArgumentParser) -> str:
    from zeroxl.cli.manpage import manual

    return manual(commandtree.read(root))


def _print(text: str) -> int:
    sys.stdout.write(text)
    return 0


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    tree = commandtree.read(parser)
    return {"bash": bash, "zsh": zsh, "fish": fish}[shell](tree)


def _valued(command: Command) -> list[str]:
    return [flag for o in command.options if o.takes_value for flag in o.flags]


# -- bash -------------------------------------------------------------------------------------------


def bash(tree: Command) -> str:
    """A bash script: `_0xl` walks the words typed so far to the command they name (skipping option
    values), then offers that command's subcommands, options, an option's choices, or service names."""
    q = shlex.quote
    lines = [
        "# bash completion for 0xl, written by `0xl completion bash` from its parser.",
        "_0xl() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" path="" skip="" w i',
        '    ((COMP_CWORD > 1)) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        w="${COMP_WORDS[i]}"',
        '        if [[ -n $skip ]]; then skip=""; continue; fi',
        '        case "$path|$w" in',
    ]
    commands = list(commandtree.walk(tree))
    for c in commands:
        for s in c.subcommands:
            lines.append(f"            {q(c.words + '|' + s.path[-1])}) path={q(s.words)} ;;")
        valued = _valued(c)
        if valued:
            lines.append(f"            {'|'.join(q(c.words + '|' + f) for f in valued)}) skip=1 ;;")
    lines += ["        esac", "    done", '    local words="" service=""', '    case "$path|$prev" in']
    for c in commands:
        for o in c.options:
            if not o.takes_value:
                continue
            pattern = "|".join(q(c.words + "|" + f) for f in o.flags)
            if o.choices:
                offered = q(" ".join(o.choices))
                lines.append(f'        {pattern}) COMPREPLY=($(compgen -W {offered} -- "$cur")); return ;;')
            else:  # a value: files with -o default (bash's own completion), nothing from here
                lines.append(f"        {pattern}) COMPREPLY=(); return ;;")
    lines += ["    esac", '    case "$path" in']
    for c in commands:
        words = [s.path[-1] for s in c.subcommands]
        if words:
            lines.append(f"        {q(c.words)}) words={q(' '.join(words))} ;;")
        else:
            choices = [x for op in c.operands for x in op.choices]
            service = any(op.service for op in c.operands)
            lines.append(f"        {q(c.words)}) words={q(' '.join(choices))}; service={'1' if service else ''} ;;")
    lines += [
        "    esac",
        "    if [[ $cur == -* ]]; then",
        '        case "$path" in',
    ]
    for c in commands:
        flags = [f for o in c.options for f in o.flags]
        lines.append(f"            {q(c.words)}) words={q(' '.join(flags))} ;;")
    lines += [
        "        esac",
        "    elif [[ -n $service ]]; then",
        f'        words="$words $({LIST_SERVICES})"',
        "    fi",
        '    COMPREPLY=($(compgen -W "$words" -- "$cur"))',
        "}",
        "complete -o default -F _0xl 0xl",
        "",
    ]
    return "\n".join(lines)


# -- zsh --------------------------------------------------------------------------------------------


def _zsh_escape(text: str) -> str:
    """TEXT inside a single-quoted _arguments spec's [description]."""
    for ch in "\\[]:":
        text = text.replace(ch, "\\" + ch)
    return text.replace("'", "'\\''")


def _zsh_function(c: Command) -> str:
    return "_0xl" + "".join("_" + w.replace("-", "_") for w in c.path)


def _zsh_option(o: Option) -> str:
    help = _zsh_escape(o.help or o.metavar)
    if len(o.flags) > 1:
        exclusive = "(" + " ".join(o.flags) + ")"
        names = "{" + ",".join(o.flags) + "}"
        head = f"'{exclusive}'{names}'"
    else:
        head = f"'{o.flags[0]}"
    if not o.takes_value:
        return f"{head}[{help}]'"
    metavar = _zsh_escape(o.metavar)
    action = "(" + " ".join(o.choices) + ")" if o.choices else ("_files" if o.files else " ")
    return f"{head}[{help}]:{metavar}:{action}'"


def zsh(tree: Command) -> str:
    """A zsh script (#compdef): one function per command, each an `_arguments` call; a command with
    subcommands offers them, then hands the rest of the line to the subcommand's function."""
    out = [
        "#compdef 0xl",
        "# zsh completion for 0xl, written by `0xl completion zsh` from its parser.",
        "",
        "_0xl_services() {",
        "    local -a services",
        f'    services=(${{(f)"$({LIST_SERVICES})"}})',
        "    _describe service services",
        "}",
        "",
    ]
    for c in commandtree.walk(tree):
        specs = [_zsh_option(o) for o in c.options]
        out.append(f"{_zsh_function(c)}() {{")
        if c.subcommands:
            out.append("    local curcontext=$curcontext state line")
            out.append("    local -a commands")
            described = [f"{s.path[-1]}:" + s.help.replace("\\", "\\\\").replace(":", "\\:") for s in c.subcommands]
            out.append("    commands=(" + " ".join(shlex.quote(d) for d in described) + ")")
            specs += ["': :->command'", "'*:: :->argument'"]
            out.append("    _arguments -C " + " ".join(specs))
            out.append("    case $state in")
            out.append("        command) _describe command commands ;;")
            out.append("        argument)")
            out.append("            case $words[1] in")
            for s in c.subcommands:
                out.append(f"                {s.path[-1]}) {_zsh_function(s)} ;;")
            out.append("            esac ;;")
            out.append("    esac")
        else:
            for op in c.operands:
                position = "'*" if op.many else "'"
                optional = ":" if op.optional and not op.many else ""
                if op.choices:
                    action = "(" + " ".join(op.choices) + ")"
                elif op.service:
                    action = "_0xl_services"
                else:
                    action = "_files"
                specs.append(f"{position}:{optional}{_zsh_escape(op.name)}:{action}'")
            out.append("    _arguments -s " + " ".join(specs))
        out.append("}")
        out.append("")
    out += ['_0xl "$@"', ""]
    return "\n".join(out)


# -- fish -------------------------------------------------------------------------------------------


def fish(tree: Command) -> str:
    """A fish script: `__0xl_path` walks the command line to the command it names (skipping option
    values), and each completion applies where that path is its command."""
    q = shlex.quote
    commands = list(commandtree.walk(tree))
    out = [
        "# fish completion for 0xl, written by `0xl completion fish` from its parser.",
        "function __0xl_path",
        "    set -l path ''",
        "    set -l skip 0",
        "    for w in (commandline -opc)[2..-1]",
        "        if test $skip = 1",
        "            set skip 0",
        "            continue",
        "        end",
        '        switch "$path|$w"',
    ]
    for c in commands:
        for s in c.subcommands:
            out.append(f"            case {q(c.words + '|' + s.path[-1])}")
            out.append(f"                set path {q(s.words)}")
        valued = _valued(c)
        if valued:
            out.append("            case " + " ".join(q(c.words + "|" + f) for f in valued))
            out.append("                set skip 1")
    out += ["        end", "    end", '    echo "$path"', "end", "", "complete -c 0xl -f"]
    for c in commands:
        where = f"-n {q('test (__0xl_path) = ' + q(c.words))}"
        for s in c.subcommands:
            out.append(f"complete -c 0xl {where} -a {q(s.path[-1])} -d {q(s.help)}")
        for o in c.options:
            parts = ["complete -c 0xl", where]
            for flag in o.flags:
                parts.append(f"-l {q(flag[2:])}" if flag.startswith("--") else f"-s {q(flag[1:])}")
            if o.takes_value:
                parts.append(f"-x -a {q(' '.join(o.choices))}" if o.choices else ("-r -F" if o.files else "-x"))
            if o.help:
                parts.append(f"-d {q(o.help)}")
            out.append(" ".join(parts))
        for op in c.operands:
            if op.choices:
                out.append(f"complete -c 0xl {where} -a {q(' '.join(op.choices))}")
            elif op.service:
                out.append(f"complete -c 0xl {where} -a {q('(' + LIST_SERVICES + ')')} -d service")
            else:
                out.append(f"complete -c 0xl {where} -F")
    out.append("")
    return "\n".join(out)
