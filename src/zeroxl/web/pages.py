"""The HTML pages, rendered by Jinja2 with autoescape on: every value a feed, a service or a record
holds is HTML-escaped where it is put into the page, attributes included."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jinja2

from zeroxl.web.adapter import duration, human_size, one_line

TEMPLATES = Path(__file__).with_name("templates")


def _ago(ts: float | None) -> str:
    if ts is None:
        return "-"
    ago = time.time() - ts
    return f"{duration(abs(ago))} {'ago' if ago >= 0 else 'in the future'}"


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _short_time(ts: float) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(ts))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name: .html fragments and the SVG inside them
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = lambda s: duration(s) if s is not None else "-"
    env.filters["size"] = lambda n: human_size(n) if n is not None else "-"
    env.filters["ago"] = _ago
    env.filters["when"] = _when
    env.filters["short_time"] = _short_time
    # One line of text: a name or a message with control characters (bidi overrides) shown escaped.
    env.filters["line"] = one_line
    return env


class Pages:
    def __init__(self, *, host: str, home: str, refresh: float) -> None:
        self.env = environment()
        self.common = {"host": host, "home": home, "refresh": refresh}

    def render(self, template: str, **values: Any) -> str:
        return self.env.get_template(template).render(**self.common, **values)
