"""The one place the CLI makes the core's Context: ZEROXL_HOME from the environment, and the terminal as
the way the core asks and tells (confirming an unknown key, showing download progress)."""

from __future__ import annotations

from zeroxl.app.context import Context, Ui
from zeroxl.cli import interact
from zeroxl.host.paths import Home


def context(*, quiet: bool = False) -> Context:
    """The Context of this command; QUIET: the core tells nothing on its own (the command reports)."""
    if quiet:
        return Context(Home.from_env(), Ui())
    terminal = interact.on_terminal()
    ui = Ui(
        confirm_key=interact.confirm_key if terminal else None,
        progress=interact.progress if terminal else None,
        info=interact.info,
    )
    return Context(Home.from_env(), ui)
