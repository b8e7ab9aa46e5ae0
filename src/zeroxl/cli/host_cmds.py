"""`0xl host add|list|remove`, and `--host NAME` (or ZEROXL_HOST) on the service commands: which host a
command works on (docs/fleet.md). The host `local` is this machine: without `--host`, nothing changes."""

from __future__ import annotations

import argparse

# The commands that work on one host's services, and take --host.
SERVICE_COMMANDS = (
    "add", "run", "stop", "restart", "destroy", "status", "config", "logs", "update", "rollback", "history", "set",
    "move",
)  # fmt: skip


def cmd_host_add(a: argparse.Namespace) -> int:
    from zeroxl.host.paths import Home
    from zeroxl.state.hosts import Hosts

    host = Hosts(Home.from_env().root).add(a.name, a.uri, pool=a.pool, default=a.default)
    if a.json:
        from zeroxl.cli import render

        render.print_json({"name": host.name, "uri": host.uri, "pool": a.pool, "default": bool(a.default)})
        return 0
    print(f"added host {host.name}: {host.uri}{' (the default host)' if a.default else ''}")
    return 0


def cmd_host_remove(a: argparse.Namespace) -> int:
    from zeroxl.host.paths import Home, HostHome
    from zeroxl.state.hosts import Hosts
    from zeroxl.state.service import Records

    main = Home.from_env()
    records = Records(HostHome(main.root, a.name).services)
    if records.names():
        from zeroxl.errors import ConflictError

        raise ConflictError(
            f"0xl has services on the host {a.name}: {', '.join(records.names())}",
            hint=f"destroy them first (0xl destroy --host {a.name} NAME)",
        )
    from zeroxl.host import config

    if a.name in config.load(main.config_file).host_policies:
        from zeroxl.errors import ConflictError

        # Removed from the registry, the host's table would name no host: every command would refuse it.
        raise ConflictError(
            f"config.toml has a policy for the host {a.name}",
            hint=f"remove its table [hosts.{a.name}.policy] from config.toml first",
        )
    host = Hosts(main.root).remove(a.name)
    if a.json:
        from zeroxl.cli import render

        render.print_json({"name": host.name, "uri": host.uri, "removed": True})
        return 0
    print(f"removed host {host.name} ({host.uri})")
    return 0


def cmd_host_adopt(a: argparse.Namespace) -> int:
    """`0xl host adopt NAME --host H` (or --all): take over what 0xl deployed there (docs/fleet.md)."""
    import os

    from zeroxl.app.adopt import adopt, unadopted
    from zeroxl.cli import render
    from zeroxl.cli.context import host_context
    from zeroxl.errors import SomeFailed, UsageError, ZeroxlError
    from zeroxl.host.paths import Home
    from zeroxl.state.hosts import ENV, LOCAL, Hosts

    host = a.host or os.environ.get(ENV) or Hosts(Home.from_env().root).default()
    if host == LOCAL:
        raise UsageError("0xl host adopt takes over services on a host other than local", hint="give --host NAME")
    if bool(a.all) == bool(a.name):
        raise UsageError("give a service NAME or --all", hint=f"0xl list --host {host} shows what is not adopted")
    failed: list[tuple[str, ZeroxlError]] = []
    with host_context(host) as ctx:
        if not a.all:
            done = [adopt(ctx, host, a.name, trust_key=a.trust_key)]
        else:  # each on its own: one refused does not keep the others from being adopted
            done = []
            for name in unadopted(ctx):
                try:
                    done.append(adopt(ctx, host, name, trust_key=a.trust_key))
                except ZeroxlError as e:
                    failed.append((name, e))
    if a.json:
        render.print_json(
            [
                {
                    "name": d.service.name,
                    "host": d.host,
                    "version": d.service.current.version if d.service.current else None,
                    "previous_owner": d.previous_owner or None,
                    "adopted": d.changed,
                }
                for d in done
            ]
        )
        return 0
    for d in done:
        version = d.service.current.version if d.service.current else "?"
        if not d.changed:
            print(f"{d.service.name} on {d.host} is this machine's already ({version})")
        else:
            print(f"adopted {d.service.name} {version} on {d.host}: this machine owns it now")
    if a.all and not done and not failed:
        print(f"nothing to adopt on {host}")
    if failed:
        from zeroxl.cli.messages import print_error, worded

        for name, error in failed:
            message, hint = worded(error)
            print_error(f"{name}: {message}", hint)
        raise SomeFailed(f"{len(failed)} service(s) were not adopted", tuple(error for _, error in failed))
    return 0


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value >> 20} MiB"


def cmd_host_list(a: argparse.Namespace) -> int:
    from zeroxl.app.context import Context
    from zeroxl.app.hosts import list_hosts
    from zeroxl.cli import render
    from zeroxl.host.paths import Home

    with Context(Home.from_env()) as ctx:  # this machine's: the registry and the host local
        reports = list_hosts(ctx, timeout=a.timeout)
    if a.json:
        render.print_json([r.as_json() for r in reports])
        return 0
    rows = [
        [
            r.name + (" *" if r.default else ""),
            "yes" if r.reachable else "no",
            r.hypervisor or "-",
            _mib(r.free_memory_bytes),
            ",".join(r.services) if r.services else ("-" if r.services is not None else "?"),
            r.uri or "(this machine)" if r.reachable else r.error,
        ]
        for r in reports
    ]
    render.table(["HOST", "REACHABLE", "HYPERVISOR", "FREE", "SERVICES", "URI"], rows)
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    """`0xl list`, and with --all-hosts the services of every host, asked in parallel."""
    if not a.all_hosts and not a.host:
        return int(a.list_one_host(a))
    import sys

    from zeroxl.app.context import Context
    from zeroxl.app.hosts import list_all_hosts
    from zeroxl.cli import render
    from zeroxl.host.paths import Home

    with Context(Home.from_env()) as ctx:
        listed, missing = list_all_hosts(ctx, timeout=a.timeout, only=a.host)
    if a.json:
        render.print_json(listed)
    else:
        rows = [
            [
                d["host"],
                d["name"],
                d["state"] + ("" if d.get("adopted", True) else " (not adopted)"),
                d["version"],
                d["backend"],
                render.duration(d["uptime"]),
                d["feed"],
            ]
            for d in listed
        ]
        render.table(
            ["HOST", "NAME", "STATE", "VERSION", "BACKEND", "UPTIME", "FEED"], [[c or "-" for c in r] for r in rows]
        )
    for host, why in missing.items():
        sys.stderr.write(f"0xl: warning: host {host} is not listed: {why}\n")
    return 0


def cmd_move(a: argparse.Namespace) -> int:
    """`0xl move NAME --to HOST`: from the host of --host (or ZEROXL_HOST, or the default) to HOST."""
    from zeroxl.app.move import move
    from zeroxl.cli import render
    from zeroxl.cli.context import selected_host, terminal_ui
    from zeroxl.host.paths import Home
    from zeroxl.state.hosts import check_name

    moved = move(
        Home.from_env().root,
        a.name,
        selected_host(),
        check_name(a.to),
        with_data=a.with_data,
        delete_disks=a.delete_disks,
        ui=terminal_ui(),
        wait=a.wait,
    )
    if a.json:
        render.print_json(
            {
                "name": moved.name,
                "from": moved.source,
                "to": moved.target,
                "disks": [d.to_json() for d in moved.disks],
                "copied": moved.copied,
                "kept_disks": [d.to_json() for d in moved.kept],
                "deleted_disks": [d.to_json() for d in moved.deleted],
                "running": moved.running,
            }
        )
        return 0
    how = "with its data" if a.with_data else "with new empty disks"
    print(f"moved {moved.name} from {moved.source} to {moved.target} {how}")
    for disk in moved.disks:
        copied = f": copied, SHA-256 {moved.copied[disk.name]}" if disk.name in moved.copied else ""
        print(f"disk {disk.name} on {moved.target} ({disk.location}){copied}")
    for disk in moved.kept:
        print(f"kept disk {disk.name} on {moved.source} ({disk.location})")
    for disk in moved.deleted:
        print(f"deleted disk {disk.name} on {moved.source} ({disk.location})")
    if moved.running:
        print(f"{moved.name} runs on {moved.target}")
    return 0


def _register_move(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from zeroxl.cli import jsonout
    from zeroxl.cli.options import add_wait_option

    sp = sub.add_parser(
        "move",
        help="move a libvirt service to another host (its data only with --with-data)",
        description="Move a libvirt service from its host (--host) to another (--to): defined there with new "
        "empty disks, or with copies of its disks (--with-data; it is stopped meanwhile); then destroyed on "
        "its old host, whose volumes are kept unless --delete-disks (docs/fleet.md).",
    )
    sp.add_argument("name")
    sp.add_argument("--to", required=True, metavar="HOST", help="the host to move it to")
    sp.add_argument("--with-data", action="store_true", help="copy its disks' contents (checked by SHA-256)")
    sp.add_argument("--delete-disks", action="store_true", help="delete its volumes on the old host once moved")
    add_wait_option(sp)
    jsonout.add_option(sp)
    sp.set_defaults(handler=cmd_move)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`0xl host …`, and --host on the service commands registered before it."""
    from zeroxl.cli import argtypes, jsonout

    _register_move(sub)
    host_help = "the host to work on (default: $ZEROXL_HOST, else the default host)"
    for name in SERVICE_COMMANDS:
        if name in sub.choices:
            sub.choices[name].add_argument(
                "--host",
                metavar="NAME",
                help=host_help + ("; auto: the one with room for it (docs/fleet.md)" if name == "add" else ""),
            )
    if "disk" in sub.choices:  # `disk list|delete --host`: the volumes a destroy or a move kept on a host
        for action in sub.choices["disk"]._actions:  # argparse keeps its subparsers there
            if isinstance(action, argparse._SubParsersAction):
                for parser in action.choices.values():
                    parser.add_argument("--host", metavar="NAME", help=host_help)
    if "list" in sub.choices:
        lp = sub.choices["list"]
        lp.add_argument("--all-hosts", action="store_true", help="the services of every host (0xl host list)")
        lp.add_argument("--host", metavar="NAME", help="the services of one host, and what 0xl there is not adopted")
        lp.add_argument(
            "--timeout", type=argtypes.seconds, default=10.0, metavar="SECONDS", help="per host, with --all-hosts"
        )
        lp.set_defaults(handler=cmd_list, list_one_host=lp.get_default("handler"))
    from zeroxl.cli import fleet_cmds

    fleet_cmds.register(sub)
    hp = sub.add_parser("host", help="the hosts 0xl manages from here", description="the hosts 0xl manages from here")
    hsub = hp.add_subparsers(dest="host_command", required=True, metavar="COMMAND")
    sp = hsub.add_parser("add", help="add a host reached at a libvirt URI")
    sp.add_argument("name")
    sp.add_argument("uri", metavar="URI", help="e.g. qemu+ssh://root@kvm1/system")
    sp.add_argument("--pool", metavar="POOL", help="the host's storage pool for disks and kernels (default: 0xl's own)")
    sp.add_argument("--default", action="store_true", help="make it the host of commands without --host")
    jsonout.add_option(sp)
    sp.set_defaults(handler=cmd_host_add)
    sp = hsub.add_parser("list", help="every host: reachable?, hypervisor, free memory, 0xl's services there")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--timeout", type=argtypes.seconds, default=10.0, metavar="SECONDS", help="per host (default 10)")
    sp.set_defaults(handler=cmd_host_list)
    sp = hsub.add_parser(
        "adopt",
        help="take over a service 0xl deployed on a host (from another operator's machine, or lost records)",
        description="take over a service 0xl deployed on a host, from its domain's metadata, verified here "
        "(docs/fleet.md)",
    )
    sp.add_argument("name", nargs="?", help="the service (its domain's name)")
    sp.add_argument("--host", metavar="NAME", help="the host (default: $ZEROXL_HOST, else the default host)")
    sp.add_argument("--all", action="store_true", help="every 0xl domain on the host that is not this machine's")
    sp.add_argument("--trust-key", metavar="FINGERPRINT", help="trust this key for the feed's site, as add does")
    jsonout.add_option(sp)
    sp.set_defaults(handler=cmd_host_adopt)
    sp = hsub.add_parser("remove", help="forget a host (0xl must have no services on it)")
    sp.add_argument("name")
    jsonout.add_option(sp)
    sp.set_defaults(handler=cmd_host_remove)
