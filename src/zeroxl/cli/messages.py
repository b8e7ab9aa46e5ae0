"""How an error looks: `0xl: error: …` and `0xl: hint: …`, each one line whatever text from outside it
carries (a server's, a feed's, a key's: zeroxl.safetext), and the settings it names called by the options
that set them (--arg, --net, --settle). Kept light: `0xl list` may report one."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from zeroxl.errors import ZeroxlError


def option(key: str) -> str:
    """The option that sets the setting KEY (errors.SETTINGS): arg -> --arg, ready_log -> --ready-log."""
    return "--" + key.replace("_", "-")


def worded(e: ZeroxlError) -> tuple[str, str | None]:
    """E's message and hint as the CLI says them."""
    return e.worded(option)


def print_error(message: str, hint: str | None) -> None:
    from zeroxl.safetext import line

    sys.stderr.write(f"0xl: error: {line(message)}\n")
    if hint:
        sys.stderr.write(f"0xl: hint: {line(hint)}\n")
