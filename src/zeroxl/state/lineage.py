"""What a service's history says about its versions: which ran, which it was rolled back from, and
which the store must keep. Pure functions of the history entries (oldest first)."""

from __future__ import annotations

from collections.abc import Sequence

from zeroxl.state.history import Entry
from zeroxl.state.selected import Selected
from zeroxl.state.service import Service


def ran(entries: Sequence[Entry]) -> list[Selected]:
    """The versions the service ran, in order: each change that succeeded, repeats in a row dropped."""
    out: list[Selected] = []
    for e in entries:
        if e.outcome == "ok" and e.to is not None and (not out or out[-1].digest != e.to.digest):
            out.append(e.to)
    return out


def previous(entries: Sequence[Entry], current: Selected) -> Selected | None:
    """The version that ran before CURRENT (what a plain `0xl rollback` goes back to)."""
    return next((s for s in reversed(ran(entries)) if s.digest != current.digest), None)


def named(entries: Sequence[Entry], version: str) -> Selected | None:
    """The most recent implementation of VERSION the service ran."""
    return next((s for s in reversed(ran(entries)) if s.version == version), None)


def rolled_back_from(entries: Sequence[Entry]) -> dict[str, Entry]:
    """Implementations the service was rolled back from (by its health check or by the operator) and
    has not run successfully since, by digest, with the rollback entry: an update does not take them
    again unless asked to."""
    left: dict[str, Entry] = {}
    for e in entries:
        # An automatic rollback leaves a version that failed its health check, whether or not the old
        # one then started; the operator's rollback counts once it happened.
        if e.from_ is not None and (e.action == "auto-rollback" or (e.action == "rollback" and e.outcome == "ok")):
            left[e.from_.digest] = e
        if e.outcome == "ok" and e.to is not None:
            left.pop(e.to.digest, None)
    return left


def kept(svc: Service, entries: Sequence[Entry], keep: int) -> set[str]:
    """The store entries SVC needs: its current version, any change under way, and the versions it
    ran most recently, KEEP in all (the current one included), for rollback."""
    digests: list[str] = []
    if svc.current is not None:
        digests.append(svc.current.digest)
    for s in reversed(ran(entries)):
        if len(digests) >= keep:
            break
        if s.digest not in digests:
            digests.append(s.digest)
    needed = set(digests)
    if svc.transition is not None:
        needed |= {svc.transition.from_.digest, svc.transition.to.digest}
    return needed
