"""The commands on services, trust and disks: add, run, stop, destroy, list, status, config, logs;
trust …; disk …. Parse, call the core (app.*) with keyword arguments, render the result. No logic beyond
that; errors propagate to `cli.main`, which maps them to exit statuses. The core is imported inside the
command that needs it: the parser is built for every command, and one command needs little of it.
"""

from __future__ import annotations

import argparse

from zeroxl.cli import argtypes, jsonout
from zeroxl.cli.options import add_wait_option

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Handler = Callable[[argparse.Namespace], int]


# -- services -------------------------------------------------------------------------------------------


def cmd_add(a: argparse.Namespace) -> int:
    from zeroxl.app.add import add
    from zeroxl.cli import render
    from zeroxl.cli.context import context

    with context() as ctx:
        svc = add(
            ctx,
            a.name,
            a.feed,
            trust_key=a.trust_key,
            args=a.arg,
            disks=a.disk,
            channel=a.channel,
            versions=a.version,
            backend=a.backend,
            memory=a.memory,
            networks=a.net,
            macs=a.mac,
            restart=a.restart,
            user=a.user,
        )
    if a.json:
        render.print_json(jsonout.service(svc))
        return 0
    version = svc.current.version if svc.current else "?"
    disks = "".join(f", disk {d.name} ({d.location})" for d in svc.disks)
    user = f", as user {svc.user}" if svc.user else ""
    print(f"added {svc.name}: {svc.feed} version {version} for {svc.target} ({svc.backend}){disks}{user}")
    return 0


def cmd_run(a: argparse.Namespace) -> int:
    from zeroxl.app.lifecycle import run
    from zeroxl.cli import render
    from zeroxl.cli.context import context

    with context() as ctx:
        svc, started = run(ctx, a.name, wait=a.wait)
    if a.json:
        render.print_json({**jsonout.service(svc), "started": started})
        return 0
    version = svc.current.version if svc.current else "?"
    print(f"{svc.name} {'started' if started else 'is already running'} (version {version})")
    return 0


def cmd_stop(a: argparse.Namespace) -> int:
    from zeroxl.app.lifecycle import stop
    from zeroxl.cli import render
    from zeroxl.cli.context import context

    with context() as ctx:
        svc, was_running = stop(ctx, a.name, timeout=a.timeout, wait=a.wait)
    if a.json:
        render.print_json({**jsonout.service(svc), "was_running": was_running})
        return 0
    print(f"{svc.name} {'stopped' if was_running else 'was not running'}")
    return 0


def cmd_destroy(a: argparse.Namespace) -> int:
    from zeroxl.app.lifecycle import destroy
    from zeroxl.cli import render
    from zeroxl.cli.context import context, selected_host
    from zeroxl.state.hosts import LOCAL

    with context() as ctx:
        result = destroy(ctx, a.name, delete_disks=a.delete_disks, wait=a.wait)
    if a.json:
        render.print_json(
            {
                "name": result.name,
                "deleted_disks": [d.to_json() for d in result.deleted_disks],
                "kept_disks": [d.to_json() for d in result.kept_disks],
                "domain_gone": result.domain_gone,
            }
        )
        return 0
    if result.domain_gone:
        print(f"destroyed {result.name}: its domain was gone from the host already; its record is removed")
    else:
        print(f"destroyed {result.name}")
    for disk in result.deleted_disks:
        print(f"deleted disk {disk.name} ({disk.location})")
    host = selected_host()
    on_host = "" if host == LOCAL else f" --host {host}"  # the disk is that host's: `disk` must go there too
    for disk in result.kept_disks:
        print(
            f"kept disk {disk.name} ({disk.location}); delete it with: "
            f"0xl disk delete {result.name} {disk.name}{on_host}"
        )
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    from zeroxl.cli.listing import list_services

    return list_services(json=a.json, trunc=not a.no_trunc)


def cmd_status(a: argparse.Namespace) -> int:
    from zeroxl.app import views
    from zeroxl.cli import render, usage
    from zeroxl.cli.context import context
    from zeroxl.host.paths import HostHome, default_home
    from zeroxl.host.units import format_size

    with context(quiet=True) as ctx:
        if isinstance(ctx.home, HostHome):  # another host (docs/fleet.md): its records, reached at its URI
            d = views.status(ctx.home.root, a.name, config=ctx.config, main=ctx.home.main)
        else:
            d = views.status(default_home(), a.name)
    if a.json:
        render.print_json(d)
        return _status_exit(d)
    if d.get("hint"):  # its record is damaged: nothing else is known
        render.fields([("name", d["name"]), ("state", f"{d['state']} ({d['detail']})"), ("hint", d["hint"])])
        return _status_exit(d)
    pairs = [
        ("name", d["name"]),
        ("state", d["state"] + (f" ({d['detail']})" if d["detail"] else "")),
        ("version", d["version"] or "-"),
        ("channel", d["channel"] + (f", versions {d['versions']}" if d["versions"] else "")),
        ("feed", d["feed"]),
    ]
    signature = d.get("feed_signature")
    if signature and signature["signed"] is not None:  # how old: a feed that stops changing may be held back
        pairs.append(("signed", render.signed(signature["signed"], signature["expires"])))
    pairs.append(("backend", f"{d['backend']} ({d['target']})"))
    if d["latest"]:
        pairs.append(("latest", f"{d['latest'].get('version')} (newest since {render.when(d['latest'].get('since'))})"))
    if d.get("transition"):
        t = d["transition"]
        change = f"{t['action']} {t['from']} -> {t['to']}"
        pairs.append(
            (
                "changing",
                f"{change}, in progress (pid {t['pid']})"
                if t["live"]
                else f"{change}, interrupted: the next 0xl command on {d['name']} finishes it (or 0xl doctor)",
            )
        )
    if d["pid"]:
        pairs.append(("pid", str(d["pid"])))
    if d["uptime"] is not None:
        pairs.append(("uptime", render.duration(d["uptime"])))
    pairs.append(("restarts", str(d["restarts"])))
    if d["last_exit"] is not None:
        pairs.append(("last exit", d["last_exit"]))
    boot = f"start order {d['start_order']}" if d["enabled"] else "disabled (0xl boot does not start it)"
    pairs.append(("restart", f"{d['restart']}; at boot: {boot}"))
    if d["user"]:
        pairs.append(("user", d["user"]))
    pairs.extend(usage.fields(d))
    for key, value in sorted((d.get("runtime") or {}).items()):
        if not (d.get("resources") and key in usage.SHOWN):
            pairs.append((key, str(value)))
    for disk in d["disks"]:
        where = f"{format_size(disk['size'])} {disk['kind']} {disk['location']}"
        pairs.append((f"disk {disk['name']}", where + usage.disk_used(disk)))
    for net in d["networks"]:
        pairs.append((f"network {net['name']}", f"bridge {net['bridge']}, mac {net['mac']}"))
    for key, value in sorted(d["args"].items()):
        pairs.append((f"arg {key}", value))
    render.fields(pairs)
    if signature and signature["warning"]:
        import sys

        sys.stderr.write(f"0xl: warning: {d['name']}: {signature['warning']}\n")
    return _status_exit(d)


def _status_exit(d: dict[str, Any]) -> int:
    """As `systemctl status` does, 0 only for a service that runs (docs/exit-status.md): NOT_RUNNING for
    one stopped or failed, ERROR for one whose record cannot be read (its state is not known)."""
    from zeroxl.backends.states import RUNNING
    from zeroxl.errors import ExitStatus
    from zeroxl.state.schema import DAMAGED

    if d["state"] == RUNNING:
        return ExitStatus.OK
    return ExitStatus.ERROR if d["state"] == DAMAGED else ExitStatus.NOT_RUNNING


def cmd_config(a: argparse.Namespace) -> int:
    from zeroxl.app.lifecycle import vm_config
    from zeroxl.cli import render
    from zeroxl.cli.context import context

    with context() as ctx:
        text = vm_config(ctx, a.name)
    if a.json:
        render.print_json({"name": a.name, "config": text})
        return 0
    print(text, end="")
    return 0


def cmd_logs(a: argparse.Namespace) -> int:
    from zeroxl.app.lifecycle import log_path
    from zeroxl.cli.context import context
    from zeroxl.cli.logs import show

    with context() as ctx:
        path = log_path(ctx, a.name)
    if a.json:
        from zeroxl.cli import render
        from zeroxl.cli.logs import as_json
        from zeroxl.errors import UsageError

        if a.follow:
            raise UsageError("--json shows the last lines of the log, it does not follow it", hint="drop --follow")
        render.print_json({"name": a.name, **as_json(path, lines=a.lines, since=a.since)})
        return 0
    return show(path, lines=a.lines, follow=a.follow, timestamps=a.timestamps, since=a.since)


# -- trust ------------------------------------------------------------------------------------------------


def cmd_trust_add(a: argparse.Namespace) -> int:
    from zeroxl.app.trust_admin import trust_add
    from zeroxl.cli.context import context

    with context() as ctx:
        fpr, domain = trust_add(ctx, a.fingerprint, a.domain)
    if a.json:
        from zeroxl.cli import render

        render.print_json({"fingerprint": fpr, "domain": domain})
        return 0
    print(f"trusted {fpr} for {domain}")
    return 0


def cmd_trust_list(a: argparse.Namespace) -> int:
    from zeroxl.app.trust_admin import trust_list
    from zeroxl.cli import render
    from zeroxl.cli.context import context

    with context() as ctx:
        entries = trust_list(ctx)
    if a.json:
        render.print_json([{"fingerprint": f, "domains": ds} for f, ds in entries])
        return 0
    render.table(["FINGERPRINT", "DOMAINS"], [[f, " ".join(ds)] for f, ds in entries])
    return 0


def cmd_trust_remove(a: argparse.Namespace) -> int:
    from zeroxl.app.trust_admin import trust_remove
    from zeroxl.cli.context import context

    with context() as ctx:
        fpr = trust_remove(ctx, a.fingerprint, a.domain)
    if a.json:
        from zeroxl.cli import render

        render.print_json({"fingerprint": fpr, "domain": a.domain})
        return 0
    print(f"no longer trusting {fpr}" + (f" for {a.domain}" if a.domain else ""))
    return 0


def cmd_trust_forget_feed(a: argparse.Namespace) -> int:
    import time

    from zeroxl.app.trust_admin import feed_copy, forget_feed
    from zeroxl.cli import interact, render
    from zeroxl.cli.context import context
    from zeroxl.errors import UsageError
    from zeroxl.safetext import line

    with context() as ctx:
        copy = feed_copy(ctx, a.url)
        when = render.signed(copy.signed, copy.expires)
        if not a.yes:
            if not interact.on_terminal():
                raise UsageError(
                    f"forgetting the copy of {a.url}, signed {when}, needs a confirmation",
                    hint=f"confirm with: 0xl trust forget-feed {a.url} --yes",
                )
            future = " That date is in the future." if copy.signed > time.time() else ""
            question = (
                f"0xl has a copy of the feed {line(a.url)}, signed {when} by {copy.fingerprint}.{future}\n"
                "Forgotten, the next copy fetched is accepted whatever its date (it is verified as a first one), "
                "and replay protection starts again from it.\nForget it?"
            )
            if not interact.ask(question):
                interact.info("0xl: nothing was forgotten")
                if a.json:
                    render.print_json({"feed": a.url, "forgotten": False, "signed": copy.signed})
                return 0
        forget_feed(ctx, a.url)
    if a.json:
        render.print_json({"feed": a.url, "forgotten": True, "signed": copy.signed})
        return 0
    print(f"forgot the copy of {a.url}, signed {when}; the next copy fetched starts replay protection again")
    return 0


# -- disks ------------------------------------------------------------------------------------------------


def cmd_disk_list(a: argparse.Namespace) -> int:
    from zeroxl.app.disk_admin import list_disks
    from zeroxl.cli import render
    from zeroxl.cli.context import context
    from zeroxl.host.units import format_size

    with context() as ctx:
        rows = list_disks(ctx)
    if a.json:
        render.print_json([{"service": r.service, "in_use": r.in_use, **r.disk.to_json()} for r in rows])
        return 0
    render.table(
        ["SERVICE", "DISK", "SIZE", "KIND", "IN USE", "LOCATION"],
        [
            [
                r.service,
                r.disk.name,
                format_size(r.disk.size),
                r.disk.kind,
                "yes" if r.in_use else "no (kept)",
                r.disk.location,
            ]
            for r in rows
        ],
    )
    return 0


def cmd_disk_delete(a: argparse.Namespace) -> int:
    from zeroxl.app.disk_admin import delete_disk
    from zeroxl.cli.context import context

    with context() as ctx:
        disk = delete_disk(ctx, a.service, a.disk)
    if a.json:
        from zeroxl.cli import render

        render.print_json({"service": a.service, **disk.to_json()})
        return 0
    print(f"deleted disk {disk.name} of {a.service} ({disk.location})")
    return 0


# -- the parser ---------------------------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the commands on services, trust and disks to SUB, the subparsers of `0xl` (cli.parser)."""

    def command(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(handler=handler)
        return sp

    sp = command("add", cmd_add, "fetch, verify and record a service from a feed")
    sp.add_argument("name")
    sp.add_argument("feed", metavar="FEED-URL")
    sp.add_argument("--trust-key", metavar="FPR", help="trust this key (fingerprint) for the feed's domain")
    sp.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE", help="an argument for the service")
    sp.add_argument(
        "--disk", action="append", default=[], metavar="[NAME=]SIZE", help="a disk for the service, e.g. 256M"
    )
    sp.add_argument("--channel", default="stable", choices=["stable", "testing"])
    sp.add_argument(
        "--version",
        metavar="RANGE",
        help="the versions to accept, a range such as 2.0..!3 or 1.4 (feed add --version is one version)",
    )
    sp.add_argument(
        "--backend", metavar="NAME", help="unix, xen or libvirt (default: chosen from the feed and the host)"
    )
    sp.add_argument(
        "--memory", type=argtypes.count, metavar="MIB", help="memory for a VM, in MiB (refused for a process)"
    )
    sp.add_argument("--net", action="append", default=[], metavar="BRIDGE", help="a bridge for the VM's next network")
    sp.add_argument(
        "--mac",
        action="append",
        default=[],
        metavar="NET=MAC",
        help="the MAC of a VM's network, named or numbered from 0 (default: derived for this host; docs/xen.md)",
    )
    sp.add_argument(
        "--restart",
        choices=["always", "on-failure", "never", "no"],
        help="restart it whenever it ends (always), when it fails (on-failure, the default) or never "
        "(never, or no); see docs/restart.md",
    )

    sp.add_argument(
        "--user",
        metavar="USER",
        help="run a unix service as this existing user (when 0xl runs as root; default: a user of its own, "
        "0xl-NAME); see docs/unix-backend.md",
    )
    jsonout.add_option(sp)

    sp = command("run", cmd_run, "start a service")
    sp.add_argument("name")
    add_wait_option(sp)
    jsonout.add_option(sp)
    sp = command("stop", cmd_stop, "stop a service (gracefully, then by force)")
    sp.add_argument("name")
    sp.add_argument(
        "--timeout", type=argtypes.seconds, metavar="SECONDS", help="grace period before the service is killed"
    )
    add_wait_option(sp)
    jsonout.add_option(sp)
    sp = command("destroy", cmd_destroy, "stop and remove a service (its disks are kept unless --delete-disks)")
    sp.add_argument("name")
    sp.add_argument("--delete-disks", action="store_true", help="delete the service's disks too")
    add_wait_option(sp)
    jsonout.add_option(sp)
    sp = command("list", cmd_list, "list services")
    jsonout.add_option(sp)
    sp.add_argument(
        "--no-trunc",
        action="store_true",
        help="show every column whole on a terminal too (piped, nothing is cut)",
    )
    sp = command(
        "status",
        cmd_status,
        "show a service's state; exits 0 if it runs, 12 if it is stopped or failed (docs/exit-status.md)",
    )
    sp.add_argument("name")
    jsonout.add_option(sp)
    sp = command("config", cmd_config, "print the VM config (xl.cfg) that starting a service would write")
    sp.add_argument("name")
    jsonout.add_option(sp)
    sp = command("logs", cmd_logs, "show a service's output")
    sp.add_argument("name")
    sp.add_argument("-f", "--follow", action="store_true", help="keep printing new output")
    sp.add_argument(
        "-n",
        "--lines",
        type=argtypes.count,
        metavar="N",
        help="how many lines to show (default 100; with --since, every line since then)",
    )
    sp.add_argument(
        "-t", "--timestamps", action="store_true", help="show the time (UTC) each line was received (unix services)"
    )
    sp.add_argument(
        "--since",
        type=argtypes.since,
        metavar="WHEN",
        help="only lines received since WHEN: how long ago (10m, 2h) or a date and time (2026-12-06T14:00)",
    )
    jsonout.add_option(sp)

    trust = command("trust", lambda _a: 0, "manage the keys trusted to sign feeds")
    tsub = trust.add_subparsers(dest="trust_command", required=True, metavar="ACTION")
    tp = tsub.add_parser("add", help="trust a key for a domain")
    tp.add_argument("fingerprint", metavar="FPR")
    tp.add_argument("--domain", required=True, metavar="HOST[:PORT]")
    jsonout.add_option(tp)
    tp.set_defaults(handler=cmd_trust_add)
    tp = tsub.add_parser("list", help="list trusted keys")
    jsonout.add_option(tp)
    tp.set_defaults(handler=cmd_trust_list)
    tp = tsub.add_parser("remove", help="stop trusting a key (for one domain, or everywhere)")
    tp.add_argument("fingerprint", metavar="FPR")
    tp.add_argument("--domain", metavar="HOST[:PORT]")
    jsonout.add_option(tp)
    tp.set_defaults(handler=cmd_trust_remove)
    tp = tsub.add_parser(
        "forget-feed",
        help="forget the copy of a feed replay protection compares with (one dated in the future, say)",
        description="Forget the copy of FEED-URL that 0xl verified last, and with it the signature date a new "
        "copy must not be older than: the way out when 0xl holds a copy dated in the future (taken before "
        "0xl refused such dates) and every real update of the feed is refused as a replay. Asks first; "
        "--yes does not. See docs/updates.md.",
    )
    tp.add_argument("url", metavar="FEED-URL")
    tp.add_argument("--yes", action="store_true", help="do not ask for a confirmation")
    jsonout.add_option(tp)
    tp.set_defaults(handler=cmd_trust_forget_feed)

    disk = command("disk", lambda _a: 0, "list and delete disks, including those kept after destroy")
    dsub = disk.add_subparsers(dest="disk_command", required=True, metavar="ACTION")
    dp = dsub.add_parser("list", help="list disks")
    jsonout.add_option(dp)
    dp.set_defaults(handler=cmd_disk_list)
    dp = dsub.add_parser("delete", help="delete a kept disk")
    dp.add_argument("service")
    dp.add_argument("disk")
    jsonout.add_option(dp)
    dp.set_defaults(handler=cmd_disk_delete)
