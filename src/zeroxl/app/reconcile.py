"""The host is the truth about what runs (docs/fleet.md, "Reconciling with the hosts"): before a command
changes a service on a host other than local, the service's domain there must still be this operator
machine's. One that another machine has adopted since is refused (ConflictError, exit 7, with the hint
`0xl host adopt`), before anything changes: this machine's record of it is out of date.

The host local is not asked: its records are the only 0xl there, and `0xl list` must not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable

from zeroxl.app.context import Context
from zeroxl.errors import ConflictError, NotFoundError
from zeroxl.state.service import Service


def owned(ctx: Context, name: str) -> Service:
    """NAME's record, checked against its host (check_owned). On a remote host without a record of NAME
    whose domain 0xl defined there, ConflictError: it is 0xl's, another machine's or lost records'."""
    try:
        svc = ctx.records.load(name)
    except NotFoundError:
        if ctx.libvirt_uri is not None:
            _not_adopted(ctx, name)
        raise
    check_owned(ctx, svc)
    return svc


def _not_adopted(ctx: Context, name: str) -> None:
    from zeroxl.backends.libvirt.facts import domains
    from zeroxl.errors import ZeroxlError

    try:
        found = [d for d in domains(ctx.config.libvirt.uri) if d.name == name]
    except ZeroxlError:
        return  # the host cannot be asked: "no service named NAME" stays the answer
    if found:
        host = ctx.home.root.name
        owner = found[0].meta.owner[:12] or "an older 0xl"
        raise ConflictError(
            f"{name} on {host} is a service 0xl deployed that this machine has no record of (its owner: {owner})",
            hint=f"take it over: 0xl host adopt {name} --host {host}",
        )


def note(ctx: Context, svc: Service) -> None:
    """Tell SVC's domain what its record says now (its backend's `note`: libvirt's metadata), after a
    change that does not define the domain again; a host that cannot be told is warned of, not an error:
    the record is changed already, and the next start defines the domain from it."""
    from zeroxl.errors import ZeroxlError

    write: Callable[[Service], None] | None = getattr(ctx.backend(svc.backend), "note", None)
    if write is None:
        return
    try:
        write(svc)
    except ZeroxlError as e:
        ctx.ui.info(f"0xl: warning: {svc.name}: its domain still says what it said before this change: {e.message}")


def check_owned(ctx: Context, svc: Service) -> None:
    """ConflictError if SVC's domain on its (remote) host is owned by another operator's machine."""
    if ctx.libvirt_uri is None:
        return
    check: Callable[[Service], None] | None = getattr(ctx.backend(svc.backend), "check_owner", None)
    if check is not None:
        check(svc)
