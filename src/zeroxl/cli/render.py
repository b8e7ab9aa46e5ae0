"""Turning results into text for people and JSON for programs. No logic beyond presentation."""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


def print_json(obj: Any) -> None:
    # Indented for a person at a terminal; compact for programs (and much faster: json's C encoder
    # does not do indentation, and state.fastjson uses it without importing the json package).
    if sys.stdout.isatty():
        import json

        sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    else:
        from zeroxl.state import fastjson

        sys.stdout.write(fastjson.dumps(obj) + "\n")


def duration(seconds: float | None) -> str:
    from zeroxl.host.units import compact_duration

    return compact_duration(seconds)


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def when_utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def age(ts: float) -> str:
    """How long ago TS was: '3 days ago', or '5 min in the future'."""
    from zeroxl.host.units import format_duration

    ago = time.time() - ts
    return f"{format_duration(ago)} {'ago' if ago >= 0 else 'in the future'}"


def signed(at: int, expires: int | None) -> str:
    """When a feed was signed, how long ago, and when its signature expires, if it does."""
    return f"{when_utc(at)} ({age(at)})" + (f", expires {when_utc(expires)}" if expires is not None else "")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, trunc: bool = True) -> None:
    """Columns: a rich table on a terminal, which fits its width by cutting cells; plain aligned text,
    every cell whole, otherwise (pipes, scripts, tests) and when not TRUNC (`--no-trunc`)."""
    from zeroxl.safetext import line, raw

    # Each cell is one line of text, whatever a feed, key or service put in it (and no rich markup).
    rows = [[line(cell) for cell in row] for row in rows]
    if trunc and sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        t = Table(box=None, header_style="bold", pad_edge=False)
        for h in headers:
            t.add_column(h)
        for row in rows:
            t.add_row(*(Text(cell) for cell in row))
        Console(file=raw(sys.stdout)).print(t)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    for row in [list(headers), *rows]:
        sys.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")


def fields(pairs: Sequence[tuple[str, str]]) -> None:
    from zeroxl.safetext import line

    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        sys.stdout.write(f"{key + ':':<{width + 1}} {line(value)}\n")
