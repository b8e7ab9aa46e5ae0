"""The hosts of this operator's machine (state.hosts) and what each says about itself, asked concurrently:
a host that does not answer within the timeout is reported as such and holds up no other (docs/fleet.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from zeroxl.app.context import Context, Ui
from zeroxl.errors import ZeroxlError
from zeroxl.host.paths import Home, HostHome
from zeroxl.state.hosts import LOCAL, Host, Hosts

DEFAULT_TIMEOUT = 10.0
T = TypeVar("T")


@dataclass
class HostReport:
    name: str
    uri: str
    default: bool
    reachable: bool
    error: str = ""
    hypervisor: str = ""
    free_memory_bytes: int | None = None
    memory_bytes: int | None = None
    services: list[str] | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "uri": self.uri,
            "default": self.default,
            "reachable": self.reachable,
            "error": self.error or None,
            "hypervisor": self.hypervisor or None,
            "memory_bytes": self.memory_bytes,
            "free_memory_bytes": self.free_memory_bytes,
            "services": self.services,
        }


def context_of(main: Home, host: Host, ui: Ui | None = None) -> Context:
    """The Context of a command on HOST: local is MAIN (this machine's ZEROXL_HOME) as ever; another host
    keeps its records under ZEROXL_HOME/hosts/NAME and is reached at its libvirt URI, within its policy."""
    if host.name == LOCAL:
        return Context(main, ui)
    return Context(HostHome(main.root, host.name), ui, libvirt_uri=host.uri, pool=host.pool)


def host_context(main: Path, name: str, ui: Ui | None = None) -> Context:
    """The Context of the host NAME of the ZEROXL_HOME at MAIN (context_of, by name)."""
    return context_of(Home(main), Hosts(main).get(name), ui)


def _uri(ctx: Context, host: Host) -> str | None:
    """The libvirt URI of HOST; None for the host local without a [libvirt] section (its records say)."""
    if host.name != LOCAL:
        return host.uri
    return ctx.config.libvirt.uri if ctx.config.libvirt.configured else None


def _ask(ctx: Context, host: Host, default: bool) -> HostReport:
    uri = _uri(ctx, host)
    report = HostReport(host.name, uri or "", default, reachable=True)
    if uri is None:
        report.services = sorted(ctx.records.names())
        return report
    from zeroxl.backends.libvirt.facts import probe

    try:
        facts = probe(uri)
    except ZeroxlError as e:
        report.reachable, report.error = False, e.message
        return report
    report.hypervisor = facts.hypervisor
    report.memory_bytes, report.free_memory_bytes = facts.memory_bytes, facts.free_memory_bytes
    report.services = facts.services
    return report


def concurrently(hosts: list[Host], work: Callable[[Host], T], timeout: float) -> dict[str, T | BaseException]:
    """WORK(host) for every host in threads of their own; what each returned or raised, by host name. One
    that has not finished after TIMEOUT seconds is missing. Daemon threads: none can keep 0xl from exiting."""
    results: dict[str, T | BaseException] = {}
    lock = threading.Lock()

    def run(host: Host) -> None:
        try:
            result: T | BaseException = work(host)
        except Exception as e:  # a host's failure is reported in its place, never raised
            result = e
        with lock:
            results[host.name] = result

    threads = [threading.Thread(target=run, args=(h,), daemon=True) for h in hosts]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return dict(results)


def _unanswered(got: object, timeout: float) -> str:
    """What to say of a host whose work raised GOT, or had not finished (None) after TIMEOUT seconds."""
    return f"no answer within {timeout:g} s" if got is None else str(got)


def list_all_hosts(
    ctx: Context, *, timeout: float = DEFAULT_TIMEOUT, only: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The services of every host (or of the host ONLY) as `0xl list --json` shows them, each with its
    "host", asked in parallel; and, by host name, why a host's services are missing (it did not answer
    within TIMEOUT seconds). A remote host's 0xl domains that this machine has no record of are listed
    too, "adopted": false (docs/fleet.md, "Reconciling with the hosts")."""
    from zeroxl.app import views

    def services(host: Host) -> list[dict[str, Any]]:
        if host.name == LOCAL:
            listed = views.list_services(ctx.home.root)
        else:
            hctx = context_of(ctx.home, host)
            listed = views.list_services(hctx.home.root, hctx.config)
            listed = [{**d, "adopted": True} for d in listed] + _not_adopted(hctx, host, {d["name"] for d in listed})
            listed.sort(key=lambda d: str(d["name"]))
        return [{"host": host.name, **d} for d in listed]

    hosts = Hosts(ctx.home.root).all() if only is None else [Hosts(ctx.home.root).get(only)]
    results = concurrently(hosts, services, timeout)
    rows: list[dict[str, Any]] = []
    missing: dict[str, str] = {}
    for host in hosts:
        got = results.get(host.name)
        if got is None or isinstance(got, BaseException):
            missing[host.name] = _unanswered(got, timeout)
        else:
            rows.extend(got)
    return rows, missing


def _not_adopted(hctx: Context, host: Host, recorded: set[str]) -> list[dict[str, Any]]:
    """The 0xl domains on HOST that this machine has no record of, as rows of `list --json`."""
    from zeroxl.backends.libvirt.facts import domains
    from zeroxl.backends.states import RUNNING, STOPPED

    try:
        found = domains(hctx.config.libvirt.uri)
    except ZeroxlError:
        return []  # the records' rows say already that the host cannot be reached
    return [
        {
            "name": d.name,
            "state": RUNNING if d.active else STOPPED,
            "version": d.meta.version or None,
            "backend": "libvirt",
            "feed": d.meta.feed,
            "uptime": None,
            "adopted": False,
            "owner": d.meta.owner or None,
            "detail": f"not adopted by this machine: 0xl host adopt {d.name} --host {host.name}",
        }
        for d in found
        if d.name not in recorded
    ]


def list_hosts(ctx: Context, *, timeout: float = DEFAULT_TIMEOUT) -> list[HostReport]:
    """Every host with what it says, asked in parallel; one that has not answered after TIMEOUT seconds is
    reported unreachable. Its thread is a daemon's: it cannot keep 0xl from exiting."""
    registry = Hosts(ctx.home.root)
    hosts, default = registry.all(), registry.default()
    results = concurrently(hosts, lambda h: _ask(ctx, h, h.name == default), timeout)
    reports = []
    for h in hosts:
        got = results.get(h.name)
        if isinstance(got, HostReport):
            reports.append(got)
        else:
            error = _unanswered(got, timeout)
            reports.append(HostReport(h.name, h.uri, h.name == default, reachable=False, error=error))
    return reports
