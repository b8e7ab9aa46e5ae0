"""`0xl update --all --all-hosts` and `0xl add --host auto` (docs/fleet.md): the service commands that work on
every host at once. Registered by cli.host_cmds over `update` and `add`: without those options, nothing
changes."""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from zeroxl.app.fleet import Verdict


def cmd_update(a: argparse.Namespace) -> int:
    """`update`, and with --all-hosts `update --all` on every host, concurrently."""
    if not a.all_hosts:
        return int(a.update_one_host(a))
    from zeroxl.app.context import Context
    from zeroxl.app.fleet import update_all_hosts
    from zeroxl.cli import render, update_cmds
    from zeroxl.cli.context import terminal_ui
    from zeroxl.errors import SomeFailed, UsageError
    from zeroxl.host.paths import Home

    if a.names or not a.all or a.host:
        raise UsageError("--all-hosts updates every service of every host", hint="give --all and no NAME nor --host")
    ready = update_cmds._readiness(a)
    with Context(Home.from_env(), terminal_ui()) as ctx:
        outcomes, down = update_all_hosts(
            ctx, check=a.check, retry=a.retry, ready=ready, wait=a.wait, timeout=a.timeout
        )
    warnings = {(h, o.name): o.warning for h, o in outcomes if o.warning is not None} if a.check else {}
    if a.json:
        render.print_json(
            [
                {
                    "host": h,
                    "name": o.name,
                    "state": o.state,
                    "version": o.version,
                    "to": o.to,
                    "latest": o.latest,
                    "message": update_cmds._message(o),
                    "error": update_cmds._error_json(o.error),
                    "feed_signed": o.signed,
                    "feed_signature_expires": o.expires,
                    "warning": warnings.get((h, o.name)),
                }
                for h, o in outcomes
            ]
        )
    else:
        for h, o in outcomes:
            if h not in down:
                print(f"{h}: {update_cmds._line(o, check=a.check)}")
        if not outcomes:
            print("no services to update")
        for (h, name), warning in warnings.items():
            sys.stderr.write(f"0xl: warning: {h}: {name}: {warning}\n")
    for host, e in down.items() if not a.json else ():  # the JSON says it for each of its services
        sys.stderr.write(f"0xl: warning: host {host} is not updated: {e.message}\n")
    failures = [(h, o) for h, o in outcomes if o.error is not None and h not in down]
    if not failures and not down:
        return 0
    if not a.json:
        from zeroxl.cli.messages import print_error, worded

        for h, o in failures:
            message, hint = worded(o.error) if o.error is not None else ("", None)
            print_error(f"{h}: " + (message if message.startswith(f"{o.name}:") else f"{o.name}: {message}"), hint)
    unreached = [o for h, o in outcomes if h in down]
    names = ", ".join([f"{h}/{o.name}" for h, o in failures] + [f"{h}/{o.name}" for h, o in outcomes if h in down])
    raise SomeFailed(
        f"{len(failures) + len(unreached)} of {len(outcomes)} services were not updated: {names}",
        tuple(o.error for _, o in failures if o.error is not None) + tuple(down.values()),
        hint=None
        if a.json
        else ("see the error of each above" if failures else "see the warning of each host above; 0xl host list"),
    )


def cmd_add(a: argparse.Namespace) -> int:
    """`add`, and with --host auto on the host placement chooses (app.fleet.choose)."""
    from zeroxl.state.hosts import AUTO

    if a.host != AUTO:
        return int(a.add_one_host(a))
    from zeroxl.app.context import Context
    from zeroxl.app.fleet import Request, choose, no_host, place
    from zeroxl.cli.context import select_host, terminal_ui
    from zeroxl.host.paths import Home

    request = Request(a.name, a.feed, a.trust_key, a.channel, a.version, a.memory, tuple(a.net or ()))
    with Context(Home.from_env(), terminal_ui()) as ctx:
        verdicts, a.trust_key = place(ctx, request, backend=a.backend, timeout=a.timeout)
    chosen = choose(verdicts)
    if chosen is None:
        raise no_host(request, verdicts)
    out = sys.stderr if a.json else sys.stdout  # under --json, stdout is add's JSON alone
    out.write(f"placing {a.name} on {chosen.host}: {chosen.reason}\n")
    for v in verdicts:
        if v.host != chosen.host:
            out.write(f"passed over {v.host}: {_why(v, chosen)}\n")
    out.flush()
    select_host(chosen.host)
    a.host = chosen.host
    return int(a.add_one_host(a))


def _why(v: Verdict, chosen: Verdict) -> str:
    """Why placement passed over V, which may fit too (app.fleet.choose: most free memory, ties by name)."""
    if not v.fits:
        return v.reason
    than = "less than" if v.free_bytes < chosen.free_bytes else "as much as, but after by name,"
    return f"it fits too, with {v.free_bytes >> 20} MiB of memory free, {than} {chosen.host}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """--all-hosts and --timeout on `update`, --host auto on `add` (after cli.host_cmds gave them --host)."""
    from zeroxl.cli import argtypes

    if "update" in sub.choices:
        up = sub.choices["update"]
        up.add_argument("--all-hosts", action="store_true", help="with --all: every service of every host")
        up.add_argument(
            "--timeout", type=argtypes.seconds, default=10.0, metavar="SECONDS",
            help="with --all-hosts: how long a host has to answer (default 10)",
        )  # fmt: skip
        up.set_defaults(handler=cmd_update, update_one_host=up.get_default("handler"))
    if "add" in sub.choices:
        ap = sub.choices["add"]
        ap.add_argument(
            "--timeout", type=argtypes.seconds, default=10.0, metavar="SECONDS",
            help="with --host auto: how long a host has to answer (default 10)",
        )  # fmt: skip
        ap.set_defaults(handler=cmd_add, add_one_host=ap.get_default("handler"))
