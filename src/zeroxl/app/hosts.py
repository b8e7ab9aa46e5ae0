"""The hosts of this operator's machine (state.hosts) and what each says about itself, asked concurrently:
a host that does not answer within the timeout is reported as such and holds up no other (docs/fleet.md)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from zeroxl.app.context import Context
from zeroxl.errors import ZeroxlError
from zeroxl.state.hosts import LOCAL, Host, Hosts

DEFAULT_TIMEOUT = 10.0


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


def list_hosts(ctx: Context, *, timeout: float = DEFAULT_TIMEOUT) -> list[HostReport]:
    """Every host with what it says, asked in parallel; one that has not answered after TIMEOUT seconds is
    reported unreachable. Its thread is a daemon's: it cannot keep 0xl from exiting."""
    registry = Hosts(ctx.home.root)
    hosts, default = registry.all(), registry.default()
    results: dict[str, HostReport] = {}
    lock = threading.Lock()

    def work(host: Host) -> None:
        try:
            report = _ask(ctx, host, host.name == default)
        except Exception as e:
            report = HostReport(host.name, host.uri, host.name == default, reachable=False, error=str(e))
        with lock:
            results[host.name] = report

    threads = [threading.Thread(target=work, args=(h,), daemon=True) for h in hosts]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return [
            results.get(h.name)
            or HostReport(h.name, h.uri, h.name == default, reachable=False, error=f"no answer within {timeout:g} s")
            for h in hosts
        ]
