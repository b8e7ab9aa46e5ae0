"""The commands about versions: update, rollback, history, set, gc, doctor. Parse, call the core,
render; errors go to `cli.main`. See docs/updates.md. As in cli.service_cmds, the core is imported inside
the command that needs it."""

from __future__ import annotations

import argparse
import sys

from zeroxl.cli import argtypes, jsonout
from zeroxl.cli.options import add_wait_option

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from zeroxl.app.update import Outcome
    from zeroxl.errors import ZeroxlError
    from zeroxl.state.service import Readiness


def _readiness(a: argparse.Namespace) -> Callable[[Readiness], Readiness]:
    """The readiness options of this command over each service's own settings (checked now, once)."""
    from zeroxl.app import health
    from zeroxl.state.service import Readiness

    options = {"settle": a.settle, "log": a.ready_log, "tcp": a.ready_tcp, "timeout": a.ready_timeout}
    health.readiness(Readiness(), **options)
    return lambda base: health.readiness(base, **options)


def _error_json(e: ZeroxlError | None) -> dict[str, Any] | None:
    return None if e is None else jsonout.error_json(e)


# -- update -------------------------------------------------------------------------------------------------


def _line(o: Outcome, *, check: bool) -> str:
    from zeroxl.app import update as updates
    from zeroxl.cli import render
    from zeroxl.safetext import line

    if o.state == updates.UPDATED:
        return f"{o.name}: updated {o.version} -> {o.to} ({line(o.message)})"
    # A check says how old each feed's signature is: a feed that never changes may be a frozen one.
    age = f"; feed signed {render.age(o.signed)}" if check and o.signed is not None else ""
    if o.state == updates.AVAILABLE:
        return f"{o.name}: {o.version} -> {o.to} available" + (age if check else " (run 0xl update again)")
    if o.state == updates.CURRENT:
        return f"{o.name}: {o.version} is current" + (f" ({line(o.message)})" if o.message else "") + age
    if o.state == updates.ROLLED_BACK:
        return f"{o.name}: {o.to} failed its health check; rolled back to {o.version}"
    return f"{o.name}: not updated" + (f", still {o.version}" if o.version else "")


def cmd_update(a: argparse.Namespace) -> int:
    from zeroxl.app.update import update
    from zeroxl.cli import render
    from zeroxl.cli.context import context
    from zeroxl.errors import SomeFailed, UsageError

    if bool(a.names) == a.all:
        raise UsageError("name the services to update, or give --all", hint="e.g. 0xl update web, 0xl update --all")
    ready = _readiness(a)
    with context() as ctx:
        outcomes = update(ctx, a.names, everything=a.all, check=a.check, retry=a.retry, ready=ready, wait=a.wait)
    # A check says what to warn about each feed's signature (feeds.trust.signature_warning).
    warnings = {o.name: o.warning for o in outcomes if o.warning is not None} if a.check else {}
    if a.json:
        render.print_json(
            [
                {
                    "name": o.name,
                    "state": o.state,
                    "version": o.version,
                    "to": o.to,
                    "latest": o.latest,
                    "message": _message(o),
                    "error": _error_json(o.error),
                    "feed_signed": o.signed,
                    "feed_signature_expires": o.expires,
                    "warning": warnings.get(o.name),
                }
                for o in outcomes
            ]
        )
    else:
        for o in outcomes:
            print(_line(o, check=a.check))
        if not outcomes:
            print("no services to update")
        for name, warning in warnings.items():
            sys.stderr.write(f"0xl: warning: {name}: {warning}\n")
    failures = [o for o in outcomes if o.error is not None]
    if not failures:
        return 0
    if len(outcomes) == 1 and failures[0].error is not None:
        raise failures[0].error
    if not a.json:  # the JSON says it for each service
        for o in failures:
            _report_one(o.name, o.error)
    names = ", ".join(o.name for o in failures)
    raise SomeFailed(
        f"{len(failures)} of {len(outcomes)} services were not updated: {names}",
        tuple(o.error for o in failures if o.error is not None),
        hint=None
        if a.json
        else "see the error of each above" + ("; the others were" if len(failures) < len(outcomes) else ""),
    )


def _message(o: Outcome) -> str:
    """O's message; an error's (which a failed outcome carries, unless its record could not be read) as the
    CLI words it."""
    from zeroxl.cli.messages import worded

    return worded(o.error)[0] if o.error is not None and o.message else o.message


def _report_one(name: str, e: ZeroxlError | None) -> None:
    from zeroxl.cli.messages import print_error, worded

    if e is None:
        return
    message, hint = worded(e)
    print_error(message if message.startswith(f"{name}:") else f"{name}: {message}", hint)


# -- rollback, history ----------------------------------------------------------------------------------------


def cmd_rollback(a: argparse.Namespace) -> int:
    from zeroxl.app.rollback import rollback
    from zeroxl.cli.context import context

    ready = _readiness(a)
    with context() as ctx:
        result = rollback(ctx, a.name, to=a.to, ready=ready, wait=a.wait)
    if a.json:
        from zeroxl.cli import render

        render.print_json(
            {
                "name": a.name,
                "changed": result.changed,
                "from": result.from_version,
                "to": result.to_version,
                "message": result.message,
            }
        )
        return 0
    if not result.changed:
        print(f"{a.name} already runs {result.to_version}")
    else:
        print(f"{a.name}: rolled back {result.from_version} -> {result.to_version} ({result.message})")
    return 0


def cmd_history(a: argparse.Namespace) -> int:
    from zeroxl.app import views
    from zeroxl.cli import render
    from zeroxl.cli.context import context

    with context(quiet=True) as ctx:  # the records of the host of --host, not always the host local's
        entries = views.history(ctx.home.root, a.name)
    if a.json:
        render.print_json([views.entry_json(e) for e in entries])
        return 0
    render.table(
        ["TIME", "ACTION", "FROM", "TO", "OUTCOME", "MESSAGE"],
        [
            [
                render.when(e.time),
                e.action,
                e.from_.version if e.from_ else "-",
                e.to.version if e.to else "-",
                e.outcome,
                e.message,
            ]
            for e in entries
        ],
    )
    return 0


# -- set ------------------------------------------------------------------------------------------------------


def cmd_set(a: argparse.Namespace) -> int:
    from zeroxl.app.update_settings import change_settings
    from zeroxl.cli.context import context

    with context() as ctx:
        svc = change_settings(
            ctx,
            a.name,
            channel=a.channel,
            versions="" if a.any_version else a.version,
            settle=a.settle,
            ready_log="" if a.no_ready_log else a.ready_log,
            ready_tcp="" if a.no_ready_tcp else a.ready_tcp,
            ready_timeout=a.ready_timeout,
            restart=a.restart,
            start_order=a.start_order,
            wait=a.wait,
        )
    r = svc.ready
    if a.json:
        from dataclasses import asdict

        from zeroxl.cli import render

        render.print_json({**jsonout.service(svc), "ready": asdict(r)})
        return 0
    checks = [f"it stays up {r.settle:g} s"]
    if r.log:
        checks.insert(0, f"log matches {r.log!r}")
    if r.tcp:
        checks.insert(0, f"{r.tcp} answers")
    print(
        f"{svc.name}: channel {svc.channel}, versions {svc.versions or 'any'}; healthy when "
        f"{' and '.join(checks)} (ready within {r.timeout:g} s)"
    )
    if a.channel is not None or a.version is not None or a.any_version:
        print(f"run 0xl update {svc.name} to apply it")
    if a.restart is not None or a.start_order is not None:
        print(f"{svc.name}: restart {svc.restart}, start order {svc.start_order}")
    if a.restart is not None:
        print(f"the restart policy applies from the next start (0xl restart {svc.name})")
    return 0


# -- gc, doctor -------------------------------------------------------------------------------------------------


def cmd_gc(a: argparse.Namespace) -> int:
    from zeroxl.app.store_gc import gc
    from zeroxl.cli import render
    from zeroxl.cli.context import context
    from zeroxl.host.units import human_size

    with context() as ctx:
        result = gc(ctx, wait=a.wait, dry_run=a.dry_run)
    if a.json:
        render.print_json(
            {
                "removed": [{"digest": r.digest, "size": r.size} for r in result.removed],
                "kept": result.kept,
                "dry_run": a.dry_run,
            }
        )
        return 0
    verb = "would remove" if a.dry_run else "removed"
    for r in result.removed:
        print(f"{verb} {r.digest} ({human_size(r.size)})")
    total = sum(r.size for r in result.removed)
    done = (
        f"{verb} {len(result.removed)} implementation(s), {human_size(total)}"
        if result.removed
        else "nothing to remove"
    )
    print(f"{done}; kept {result.kept} that services need")
    return 0


def cmd_doctor(a: argparse.Namespace) -> int:
    from zeroxl.app.doctor import doctor
    from zeroxl.cli.context import context
    from zeroxl.errors import SomeFailed

    with context(quiet=True) as ctx:  # what recovering a service did is in doctor's own report
        done, failed = doctor(ctx, wait=a.wait)
    if a.json:
        from zeroxl.cli import render

        render.print_json({"done": done, "failed": [{"name": n, **jsonout.error_json(e)} for n, e in failed]})
    for line in done if not a.json else ():
        print(line)
    if not done and not failed and not a.json:
        print("nothing to do: no change was left half done")
    if failed:
        for name, e in failed if not a.json else ():
            _report_one(name, e)
        raise SomeFailed(f"{len(failed)} service(s) could not be checked", tuple(e for _, e in failed))
    return 0


# -- the parser ------------------------------------------------------------------------------------------------


def _readiness_options(sp: argparse.ArgumentParser, *, removable: bool = False) -> None:
    g = sp.add_argument_group("health check (after a running service is replaced)")
    g.add_argument(
        "--settle", type=argtypes.seconds, metavar="SECONDS", help="how long it must stay up once ready (default 3)"
    )
    g.add_argument("--ready-log", metavar="REGEX", help="ready once a line of its output matches REGEX")
    g.add_argument("--ready-tcp", metavar="HOST:PORT", help="ready once HOST:PORT accepts a TCP connection")
    g.add_argument(
        "--ready-timeout",
        type=argtypes.seconds,
        metavar="SECONDS",
        help="how long it may take to become ready (default 30)",
    )
    if removable:
        g.add_argument("--no-ready-log", action="store_true", help="forget --ready-log")
        g.add_argument("--no-ready-tcp", action="store_true", help="forget --ready-tcp")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the commands to SUB, the subparsers of `0xl` (cli.parser)."""

    def command(name: str, handler: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        sp: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(handler=handler)
        return sp

    sp = command("update", cmd_update, "update services to the newest version on their channel, safely")
    sp.add_argument("names", nargs="*", metavar="NAME")
    sp.add_argument("--all", action="store_true", help="update every service")
    sp.add_argument("--check", action="store_true", help="only find out what would change")
    sp.add_argument("--retry", action="store_true", help="also take versions a service was rolled back from")
    jsonout.add_option(sp)
    _readiness_options(sp)
    add_wait_option(sp)

    sp = command("rollback", cmd_rollback, "go back to the previous version, or to one from the history")
    sp.add_argument("name")
    sp.add_argument("--to", metavar="VERSION", help="the version to go back to (default: the one before)")
    _readiness_options(sp)
    add_wait_option(sp)
    jsonout.add_option(sp)

    sp = command("history", cmd_history, "show every change of a service's version")
    sp.add_argument("name")
    jsonout.add_option(sp)

    sp = command("set", cmd_set, "change a service's channel, version range or health check")
    sp.add_argument("name")
    sp.add_argument("--channel", choices=["stable", "testing"], help="which stabilities updates may take")
    versions = sp.add_mutually_exclusive_group()
    versions.add_argument("--version", metavar="RANGE", help="versions updates may take, e.g. 2.0..!3")
    versions.add_argument("--any-version", action="store_true", help="forget --version")
    _readiness_options(sp, removable=True)
    sp.add_argument(
        "--restart",
        choices=["always", "on-failure", "never", "no"],
        help="restart it whenever it ends, when it fails, or never (docs/restart.md)",
    )
    sp.add_argument(
        "--start-order", type=argtypes.count, metavar="N", help="its place in 0xl boot's order: lower starts first"
    )
    add_wait_option(sp)
    jsonout.add_option(sp)

    sp = command("gc", cmd_gc, "remove implementations from the store that no service needs")
    sp.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    jsonout.add_option(sp)
    add_wait_option(sp)

    sp = command("doctor", cmd_doctor, "finish or undo changes a killed 0xl left half done")
    add_wait_option(sp)
    jsonout.add_option(sp)
