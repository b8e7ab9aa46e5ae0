"""0xl's manual page, in roff (man(7) macros), written from the parser (cli.commandtree) by `0xl man`:
every command with its usage, description, operands and options."""

from __future__ import annotations

from zeroxl import __version__
from zeroxl.cli import commandtree
from zeroxl.cli.commandtree import Command
from zeroxl.errors import ExitStatus

DATE = "2026-12"


def _roff(text: str) -> str:
    """TEXT safe in a roff line: backslashes and hyphens escaped, no line starting as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def manual(tree: Command) -> str:
    out = [
        f'.TH 0XL 1 "{DATE}" "0xl {__version__}" "User Commands"',
        ".SH NAME",
        "0xl \\- deploy services published as signed 0install feeds",
        ".SH SYNOPSIS",
        ".B 0xl",
        "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGUMENTS\\fR]",
        ".SH DESCRIPTION",
        _roff(
            "0xl deploys services published as signed 0install feeds (MirageOS unikernels above all) onto "
            "hosts it manages: Xen dom0s, and plain Linux hosts where a service runs as a supervised process. "
            "Nothing unverified is used: feeds are signed and trusted per site, archives checked against "
            "their manifest digests. Each command's --help says more."
        ),
        ".SH OPTIONS",
    ]
    out += _options(tree)
    out.append(".SH COMMANDS")
    for c in commandtree.walk(tree):
        if not c.path:
            continue
        out.append(f'.SS "0xl {_roff(c.words)}"')
        out.append(".nf")
        out += [_roff(line) for line in c.usage.splitlines()]
        out.append(".fi")
        out.append(".PP")
        out.append(_roff(c.description or c.help))
        if c.subcommands:
            out.append(".PP")
            out.append(_roff("Commands: " + ", ".join(f"{c.words} {s.path[-1]}" for s in c.subcommands) + "."))
        for op in c.operands:
            if op.help or op.choices:
                out.append(".TP")
                out.append(f"\\fI{_roff(op.name)}\\fR")
                out.append(_roff(op.help or "one of " + ", ".join(op.choices)))
        out += _options(c)
    out += [
        ".SH EXIT STATUS",
        _roff("Every failure prints one message (0xl: error: ...) and often a hint, and exits with:"),
    ]
    for name, value in sorted(
        ((k, v) for k, v in vars(ExitStatus).items() if k.isupper() and isinstance(v, int)), key=lambda kv: kv[1]
    ):
        out += [".TP", f"\\fB{value}\\fR", name.replace("_", " ").lower()]
    out += [
        ".PP",
        _roff("docs/exit-status.md in the source lists what gives each."),
        ".SH ENVIRONMENT",
        ".TP",
        ".B ZEROXL_HOME",
        _roff("where 0xl keeps its state: /var/lib/0xl as root, ~/.local/share/0xl otherwise."),
        ".TP",
        ".B https_proxy, http_proxy, all_proxy, no_proxy",
        _roff("the HTTP proxy for feeds, keys and archives, unless config.toml sets [fetch] proxy."),
        ".TP",
        ".B NO_COLOR",
        _roff("no colours on a terminal."),
        ".SH FILES",
        ".TP",
        ".I $ZEROXL_HOME/config.toml",
        _roff("the host's settings and policy."),
        ".SH SEE ALSO",
        _roff("0install(1), xl(1); the README and docs/ of 0xl."),
        "",
    ]
    return "\n".join(out)


def _options(c: Command) -> list[str]:
    out: list[str] = []
    for o in c.options:
        flags = ", ".join(f"\\fB{_roff(f)}\\fR" for f in o.flags)
        value = f" \\fI{_roff(o.metavar)}\\fR" if o.takes_value else ""
        out += [".TP", flags + value, _roff(o.help or ("one of " + ", ".join(o.choices) if o.choices else ""))]
    return out
