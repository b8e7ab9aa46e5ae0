"""A service's history as a timeline of versions: the geometry the service page draws in SVG.

One step per history entry, evenly spaced (an update and its automatic rollback come seconds apart,
months may pass between two updates: real time would crowd the one and stretch the other). Between two
steps, a band labelled with the version that ran; at each step a mark for what happened: an update, a
rollback, a failed update, an automatic rollback, an interrupted change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STEP = 120  # pixels between two entries
LEFT = 20
HEIGHT = 96


@dataclass(frozen=True)
class Band:
    x: float
    width: float
    version: str
    colour: int  # one of a few colours, the same for one version across the drawing


@dataclass(frozen=True)
class Mark:
    x: float
    kind: str  # add, update, rollback, failed, auto-rollback, interrupted: a CSS class
    label: str  # what the mark's tooltip says
    caption: str  # what is written under it
    when: float


@dataclass(frozen=True)
class Timeline:
    width: float
    height: float
    bands: tuple[Band, ...]
    marks: tuple[Mark, ...]


def kind(entry: dict[str, Any]) -> str:
    if entry["outcome"] == "failed":
        return "failed"
    if entry["outcome"] == "interrupted":
        return "interrupted"
    return str(entry["action"])


def version_after(entry: dict[str, Any], before: str | None) -> str | None:
    """The version that ran after ENTRY: the new one if the change succeeded, else the one before."""
    to = (entry.get("to") or {}).get("version")
    frm = (entry.get("from") or {}).get("version")
    if entry["outcome"] == "ok":
        return to or before
    return frm or before


def layout(history: list[dict[str, Any]], current: str | None) -> Timeline:
    """HISTORY (as `0xl history --json` prints it) laid out; CURRENT is the version that runs now, shown
    after the last entry."""
    colours: dict[str, int] = {}
    bands, marks = [], []
    version: str | None = None
    for i, entry in enumerate(history):
        x = LEFT + i * STEP
        frm = (entry.get("from") or {}).get("version") or "-"
        to = (entry.get("to") or {}).get("version") or "-"
        label = f"{entry['action']} {frm} -> {to}: {entry['outcome']}"
        if entry.get("message"):
            label += f" ({entry['message']})"
        what = kind(entry)
        marks.append(Mark(x=x, kind=what, label=label, caption=_caption(what, to), when=float(entry["time"])))
        version = version_after(entry, version)
        last = i == len(history) - 1
        shown = (current or version) if last else version
        if shown:
            colour = colours.setdefault(shown, len(colours) % 6)
            bands.append(Band(x=x, width=STEP, version=shown, colour=colour))
    width = LEFT * 2 + max(len(history), 1) * STEP
    return Timeline(width=width, height=HEIGHT, bands=tuple(bands), marks=tuple(marks))


def _caption(what: str, to: str) -> str:
    if what in ("failed", "interrupted"):
        return f"{to} {what}"
    return f"{what} {to}" if what == "add" else f"{what} → {to}"
