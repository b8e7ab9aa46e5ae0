"""The commands about a host's start and a service's restarts: boot, enable, disable, restart, systemd
install. Parse, call the core (app.boot, app.lifecycle, app.systemd_units), render the result; errors
propagate to `cli.main`."""

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


def this_command() -> list[str]:
    """How systemd is to run this 0xl: the `0xl` script it was started as (a pipx or venv install puts
    its absolute path in argv[0]), or this Python with `-m zeroxl`."""
    import os
    import sys

    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "0xl" and os.access(argv0, os.X_OK):  # noqa: PTH119
        return [os.path.abspath(argv0)]  # noqa: PTH100 - not resolved: a pipx link stays valid across upgrades
    return [os.path.abspath(sys.executable), "-m", "zeroxl"]  # noqa: PTH100


def cmd_systemd_install(a: argparse.Namespace) -> int:
    from zeroxl.app.systemd_units import install
    from zeroxl.cli import render
    from zeroxl.host.paths import home_dir

    done = install(this_command(), home_dir(), root=a.root, web=a.web, dry_run=a.dry_run)
    if a.json:
        render.print_json(
            {
                "unit_dir": done.unit_dir,
                "written": list(done.written),
                "enabled": list(done.enabled),
                "not_enabled": done.not_enabled,
                "units": done.texts if a.dry_run else None,
            }
        )
        return 0
    if a.dry_run:
        for name, text in done.texts.items():
            print(f"# {done.unit_dir}/{name}\n{text}")
        return 0
    for name in done.written:
        print(f"wrote {done.unit_dir}/{name}")
    if done.enabled:
        print(f"enabled {' '.join(done.enabled)}")
    else:
        print(f"enabled nothing: {done.not_enabled}; enable them with: systemctl enable {' '.join(done.written[:1])}")
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
    systemd = command("systemd", lambda _a: 0, "install 0xl's systemd units")
    ssub = systemd.add_subparsers(dest="systemd_command", required=True, metavar="ACTION")
    sp = ssub.add_parser(
        "install",
        help="write 0xl's units with this 0xl's path and ZEROXL_HOME, and enable them",
        description="Write 0xl.service (0xl boot at the host's start), 0xl-update.service and .timer (daily "
        "updates) and 0xl-web.service (the status page) into /etc/systemd/system, with the absolute path of this "
        "0xl and its ZEROXL_HOME, then enable 0xl.service and the timer (and the status page with --web).",
    )
    sp.add_argument("--root", metavar="DIR", help="install into DIR/etc/systemd/system (systemctl --root)")
    sp.add_argument("--web", action="store_true", help="enable the status page too (0xl serve on 127.0.0.1:9180)")
    sp.add_argument("--dry-run", action="store_true", help="print the units; write and enable nothing")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(handler=cmd_systemd_install)
    sp = command("restart", cmd_restart, "stop a service (gracefully, then by force) and start it again")
    sp.add_argument("name")
    sp.add_argument(
        "--timeout", type=argtypes.seconds, metavar="SECONDS", help="grace period before the service is killed"
    )
    sp.add_argument("--json", action="store_true")
    add_wait_option(sp)
