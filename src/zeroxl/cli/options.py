"""Options several commands share."""

from __future__ import annotations

import argparse

from zeroxl.cli import argtypes


def add_wait_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--wait",
        type=argtypes.seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another 0xl command on the service to finish (default: fail at once)",
    )
