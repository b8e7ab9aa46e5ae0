"""How an error looks: `0xl: error: …` and `0xl: hint: …`, each one line whatever text from outside it
carries (a server's, a feed's, a key's: cli.safetext). Kept light: `0xl list` may report one."""

from __future__ import annotations

import sys


def print_error(message: str, hint: str | None) -> None:
    from zeroxl.cli.safetext import line

    sys.stderr.write(f"0xl: error: {line(message)}\n")
    if hint:
        sys.stderr.write(f"0xl: hint: {line(hint)}\n")
