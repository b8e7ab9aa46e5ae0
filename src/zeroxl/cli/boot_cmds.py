"""The commands about a host's start and a service's restarts: boot, enable, disable, restart. Parse, call
the core (app.boot, app.lifecycle), render the result; errors propagate to `cli.main`."""

from __future__ import annotations

import argparse

from zeroxl.cli import argtypes
from zeroxl.cli.options import add_wait_option

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from zeroxl.app.boot import BootResult

    Handler = Callable[[argparse.Namespace], int]


def _describe(r: BootResult) -> str:
    from zeroxl.app import boot

    return {
        boot.STARTED: "started",
        boot.RUNNING_ALREADY: "already running",
        boot.LEFT_STOPPED: "left stopped (stopped by hand)",
        boot.DISABLED: "not started (disabled; 0xl enable lets boot start it)",
        boot.FAILED: "failed to start",
    }[r.outcome]


def cmd_boot(a: argparse.Namespace) -> int:
    from zeroxl.app.boot import boot
    from zeroxl.cli import render
    from zeroxl.cli.context import context
    from zeroxl.cli.messages import print_error, worded
    from zeroxl.errors import SomeFailed

    with context(quiet=True) as ctx:
        report = boot(ctx, wait=a.wait)
    if a.json:
        render.print_json(
            {
                "recovered": list(report.recovered),
                "services": [
                    {
                        "name": r.name,
                        "outcome": r.outcome,
                        "start_order": r.start_order,
                        "backend": r.backend,
                        "error": worded(r.error)[0] if r.error else None,
                        "hint": worded(r.error)[1] if r.error else None,
                    }
                    for r in report.services
                ],
            }
        )
    else:
        for line in report.recovered:
            print(line)
        for r in report.services:
            print(f"{r.name}: {_describe(r)}")
        if not report.services:
            print("no services")
    if report.failures:
        if not a.json:
            for r, e in ((r, r.error) for r in report.failures):
                if e is None:
                    continue
                message, hint = worded(e)
                print_error(message if message.startswith(f"{r.name}") else f"{r.name}: {message}", hint)
        raise SomeFailed(
            f"{len(report.failures)} service(s) did not start", tuple(r.error for r in report.failures if r.error)
        )
    return 0


def _cmd_enabled(a: argparse.Namespace, *, enabled: bool) -> int:
    from zeroxl.app.boot import set_enabled
    from zeroxl.cli import render
    from zeroxl.cli.context import context

    with context() as ctx:
        svc, changed = set_enabled(ctx, a.name, enabled=enabled, wait=a.wait)
    if a.json:
        render.print_json({"name": svc.name, "enabled": svc.enabled, "changed": changed})
        return 0
    word = "enabled" if enabled else "disabled"
    does = "starts it" if enabled else "leaves it stopped"
    print(f"{svc.name} {word if changed else 'was already ' + word}: 0xl boot {does}")
    return 0


def cmd_enable(a: argparse.Namespace) -> int:
    return _cmd_enabled(a, enabled=True)


def cmd_disable(a: argparse.Namespace) -> int:
    return _cmd_enabled(a, enabled=False)


def cmd_restart(a: argparse.Namespace) -> int:
    from zeroxl.app.lifecycle import restart
    from zeroxl.cli import render
    from zeroxl.cli.context import context

    with context() as ctx:
        svc, was_running = restart(ctx, a.name, timeout=a.timeout, wait=a.wait)
    version = svc.current.version if svc.current else None
    if a.json:
        render.print_json({"name": svc.name, "version": version, "was_running": was_running})
        return 0
    print(f"{svc.name} {'restarted' if was_running else 'started (it was not running)'} (version {version or '?'})")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the commands to SUB, the subparsers of `0xl` (cli.parser)."""

    def command(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(handler=handler)
        return sp

    sp = command(
        "boot",
        cmd_boot,
        "after the host started: finish interrupted changes, then start every enabled service that should run, "
        "in start order (0xl.service runs it)",
    )
    sp.add_argument("--json", action="store_true")
    add_wait_option(sp)
    sp = command("enable", cmd_enable, "let 0xl boot start a service (the default)")
    sp.add_argument("name")
    sp.add_argument("--json", action="store_true")
    add_wait_option(sp)
    sp = command("disable", cmd_disable, "keep 0xl boot from starting a service (what runs now is left alone)")
    sp.add_argument("name")
    sp.add_argument("--json", action="store_true")
    add_wait_option(sp)
    sp = command("restart", cmd_restart, "stop a service (gracefully, then by force) and start it again")
    sp.add_argument("name")
    sp.add_argument(
        "--timeout", type=argtypes.seconds, metavar="SECONDS", help="grace period before the service is killed"
    )
    sp.add_argument("--json", action="store_true")
    add_wait_option(sp)
