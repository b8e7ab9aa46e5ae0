"""The one place the CLI makes the core's Context: ZEROXL_HOME from the environment, and the terminal as
the way the core asks and tells (confirming an unknown key, showing download progress)."""

from __future__ import annotations

from zeroxl.app.context import Context, Ui
from zeroxl.cli import interact
from zeroxl.host.paths import Home
from zeroxl.state.hosts import LOCAL, Hosts

_selected: list[str] = []  # the host of a service command (--host, ZEROXL_HOST, the default), set by cli.main


def select_host(name: str | None) -> None:
    _selected[:] = [name] if name else []


def selected_host() -> str:
    """The host of this service command."""
    return _selected[0] if _selected else LOCAL


def context(*, quiet: bool = False) -> Context:
    """The Context of this command; QUIET: the core tells nothing on its own (the command reports)."""
    host = _selected[0] if _selected else LOCAL
    if host != LOCAL:
        return host_context(host, quiet=quiet)
    return Context(Home.from_env(), Ui() if quiet else terminal_ui())


def terminal_ui() -> Ui:
    terminal = interact.on_terminal()
    return Ui(
        confirm_key=interact.confirm_key if terminal else None,
        progress=interact.progress if terminal else None,
        info=interact.info,
    )


def host_context(name: str, *, quiet: bool = False) -> Context:
    """The Context of a command on the host NAME: local is this machine's ZEROXL_HOME as ever; another
    host keeps its records under ZEROXL_HOME/hosts/NAME and is reached at its libvirt URI."""
    from zeroxl.app.hosts import context_of
    from zeroxl.state.hosts import check_name

    main = Home.from_env()
    return context_of(main, Hosts(main.root).get(check_name(name)), Ui() if quiet else terminal_ui())
