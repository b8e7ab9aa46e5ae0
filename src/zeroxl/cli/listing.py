"""`0xl list`: every service, as a table or as JSON. Scripts and monitoring poll `0xl list --json`, so
`cli.main` runs it without the argument parser, and it imports only the read path (app.views)."""

from __future__ import annotations

import sys

from zeroxl.app import views
from zeroxl.cli import render
from zeroxl.host.paths import home_dir


def list_services(*, json: bool, trunc: bool = True) -> int:
    """Every service; on a terminal, a table cut to its width unless not TRUNC (`--no-trunc`)."""
    listed = views.list_services(home_dir())
    if json:
        render.print_json(listed)
        return 0
    rows = []
    for d in listed:
        row = [d["name"], d["state"], d["version"], d["backend"], render.duration(d["uptime"]), d["feed"]]
        rows.append([cell or "-" for cell in row])
    render.table(["NAME", "STATE", "VERSION", "BACKEND", "UPTIME", "FEED"], rows, trunc=trunc)
    for d in listed:
        if d.get("hint"):  # a damaged record: what is wrong is in `0xl status NAME`
            sys.stderr.write(f"0xl: hint: {d['name']}: its record is {d['state']}; {d['hint']}\n")
    return 0
