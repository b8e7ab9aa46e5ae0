"""The host is the truth about what runs (docs/fleet.md, "Reconciling with the hosts"): before a command
changes a service on a host other than local, the service's domain there must still be this operator
machine's. One that another machine has adopted since is refused (ConflictError, exit 7, with the hint
`0xl host adopt`), before anything changes: this machine's record of it is out of date.

The host local is not asked: its records are the only 0xl there, and `0xl list` must not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable

from zeroxl.app.context import Context
from zeroxl.state.service import Service


def check_owned(ctx: Context, svc: Service) -> None:
    """ConflictError if SVC's domain on its (remote) host is owned by another operator's machine."""
    if ctx.libvirt_uri is None:
        return
    check: Callable[[Service], None] | None = getattr(ctx.backend(svc.backend), "check_owner", None)
    if check is not None:
        check(svc)
