"""Talking to `xl`: the one argument builder for it, and readers of what it prints. No IO here.

Every xl command 0xl runs is built by `argv`: a known subcommand, its options, `--`, then operands that
cannot be taken for options (a domain name as 0xl names domains, or an absolute config path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zeroxl.errors import BackendError
from zeroxl.host.names import SERVICE_NAME

XL = "xl"
# The subcommands 0xl uses, and the options it may pass to each.
_OPTIONS = {
    "create": frozenset(),
    "shutdown": frozenset({"-w"}),
    "destroy": frozenset(),
    "domid": frozenset(),
    "list": frozenset({"-v"}),
}
_CONFIG = re.compile(r"/[A-Za-z0-9._+@%~:/-]{1,4095}")


class UnsafeOperand(BackendError):
    """An argument for xl that could be read as something else; a bug in 0xl if it ever happens."""


def argv(subcommand: str, *options: str, domain: str | None = None, config: str | None = None) -> list[str]:
    """`xl SUBCOMMAND OPTIONS -- OPERAND` for a domain name or a config file (absolute path)."""
    allowed = _OPTIONS.get(subcommand)
    if allowed is None:
        raise UnsafeOperand(f"xl {subcommand}: not a subcommand 0xl runs")
    for option in options:
        if option not in allowed:
            raise UnsafeOperand(f"xl {subcommand}: option {option!r} is not one 0xl passes")
    operands: list[str] = []
    if domain is not None:
        if not SERVICE_NAME.fits(domain):
            raise UnsafeOperand(f"xl {subcommand}: {domain!r} is not a domain name 0xl gives")
        operands.append(domain)
    if config is not None:
        if not _CONFIG.fullmatch(config) or "/../" in config or config.endswith("/.."):
            raise UnsafeOperand(f"xl {subcommand}: {config!r} is not a plain absolute path")
        operands.append(config)
    return [XL, subcommand, *options, "--", *operands]


_UUID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")


def start_time_argv(uuid: str) -> list[str]:
    """`xenstore-read` of the time libxl wrote when it built the domain (seconds since the epoch)."""
    if not _UUID.fullmatch(uuid):
        raise UnsafeOperand(f"xenstore-read: {uuid!r} is not a domain UUID")
    return ["xenstore-read", "--", f"/vm/{uuid}/start_time"]


@dataclass(frozen=True)
class DomainInfo:
    """One row of `xl list -v`."""

    name: str
    domid: int
    memory: int  # MiB
    vcpus: int
    state: str  # six flags, e.g. "-b----": running, blocked, paused, shutdown, crashed, dying
    cpu_seconds: float
    uuid: str

    @property
    def flags(self) -> set[str]:
        return {c for c in self.state if c != "-"}


def parse_list(text: str) -> dict[str, DomainInfo]:
    """The domains in the output of `xl list -v`, by name.

    Columns: Name ID Mem VCPUs State Time(s) UUID Reason-Code Security-Label. Domain names never hold
    blanks (xl refuses them), so splitting on blanks is exact.
    """
    domains: dict[str, DomainInfo] = {}
    lines = text.splitlines()
    if not lines or not lines[0].split()[:2] == ["Name", "ID"]:
        raise BackendError("xl list printed something 0xl does not understand", hint="run `xl list -v` and look")
    for line in lines[1:]:
        cols = line.split()
        if not cols:
            continue
        try:
            info = DomainInfo(
                name=cols[0],
                domid=int(cols[1]),
                memory=int(cols[2]),
                vcpus=int(cols[3]),
                state=cols[4],
                cpu_seconds=float(cols[5]),
                uuid=cols[6],
            )
        except (IndexError, ValueError):
            raise BackendError(f"xl list printed a line 0xl does not understand: {line!r}") from None
        domains[info.name] = info
    return domains
