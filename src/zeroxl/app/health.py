"""Deciding that a freshly started version is healthy: it becomes ready, then stays up.

Works for every backend through the Backend protocol: it reads only `status()` (is it running, and is
it still the same run: same pid, start time, restart count) and `log_path()` (the process log or the
domain console). Readiness, when configured, is a log line matching a regular expression
(`--ready-log`) and/or a TCP port accepting a connection (`--ready-tcp`), within `--ready-timeout`
seconds; after that the service must stay up for `--settle` seconds more. A service that exits or
restarts at any time during the check is unhealthy at once.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from zeroxl.backends.base import RuntimeStatus
from zeroxl.backends.states import RUNNING
from zeroxl.errors import READY_LOG, READY_TCP, READY_TIMEOUT, SETTLE, SettingError
from zeroxl.host import logstamp
from zeroxl.host.units import whole_number
from zeroxl.state.service import Readiness, Service

POLL = 0.05
# What 0xl's own supervisor writes into a unix service's log: never evidence that the service is ready.
_OWN_LINE = b"[0xl "
_MAX_LINE = 64 << 10


class Watched(Protocol):
    """What the check reads of a backend (backends.base.Backend has it)."""

    def status(self, svc: Service) -> RuntimeStatus: ...

    def log_path(self, svc: Service) -> Path: ...


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str  # why not, or how it was found ready
    elapsed: float


def parse_tcp(text: str) -> tuple[str, int]:
    """HOST:PORT (or [IPV6]:PORT) as a (host, port) pair; SettingError if it is not one."""
    host, sep, port_text = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    port = whole_number(port_text)
    if not sep or not host or port is None or not 0 < port < 65536:
        raise SettingError(
            ["invalid ", READY_TCP, f" {text!r}"], hint=["write HOST:PORT, e.g. ", READY_TCP, " 127.0.0.1:8080"]
        )
    return host, port


def readiness(
    base: Readiness,
    *,
    settle: float | None = None,
    log: str | None = None,
    tcp: str | None = None,
    timeout: float | None = None,
) -> Readiness:
    """BASE with the options given on the command line (None: keep; "" for log or tcp: remove), checked."""
    ready = replace(
        base,
        settle=base.settle if settle is None else settle,
        log=base.log if log is None else (log or None),
        tcp=base.tcp if tcp is None else (tcp or None),
        timeout=base.timeout if timeout is None else timeout,
    )
    if not 0 <= ready.settle <= 3600:
        raise SettingError(["invalid ", SETTLE, f" {ready.settle:g}: give 0 to 3600 seconds"])
    if not 0 < ready.timeout <= 3600:
        raise SettingError(
            ["invalid ", READY_TIMEOUT, f" {ready.timeout:g}: give more than 0 and at most 3600 seconds"]
        )
    if ready.log is not None:
        try:
            re.compile(ready.log.encode())
        except re.error as e:
            raise SettingError(
                ["invalid ", READY_LOG, f" {ready.log!r}: {e}"], hint="it is a Python regular expression"
            ) from e
    if ready.tcp is not None:
        parse_tcp(ready.tcp)
    return ready


def log_mark(path: Path) -> tuple[int, int | None]:
    """Where the next output of a service will start in its log (0 if there is none yet), and which file
    that is (its inode; None if there is none): a check then knows a log rotated from one not yet caught up."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return 0, None
    return st.st_size, st.st_ino


class _LogWatch:
    """Reads what a service writes to its log after OFFSET and looks for a line matching PATTERN.

    The log's path is asked of the backend at every look: on a host other than local it is a copy of the
    console that asking brings up to date (backends/libvirt), not a file that grows by itself."""

    def __init__(self, where: Callable[[], Path], offset: int, pattern: str, inode: int | None = None) -> None:
        self.where = where
        self.offset = offset
        self.inode = inode  # the file OFFSET is in, if known
        self.pattern = re.compile(pattern.encode())
        self.partial = b""

    def matched(self) -> bool:
        try:
            with self.where().open("rb") as f:
                inode = os.fstat(f.fileno()).st_ino
                size = f.seek(0, 2)
                if self.inode is not None and inode != self.inode:
                    self.offset = 0  # another file: rotated (what came after OFFSET went to the old one)
                elif size < self.offset:
                    if self.inode is None:
                        self.offset = 0  # which file OFFSET was in is not known: taken as rotated
                    else:
                        # The same file, not yet as long as where this run begins: a copy of a remote
                        # console whose pull failed. Nothing of this run is in it yet, and all of it is
                        # earlier runs'.
                        return False
                self.inode = inode
                f.seek(self.offset)
                data = f.read()
                self.offset = f.tell()
        except FileNotFoundError:
            return False
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()[-_MAX_LINE:]
        # The time a line came is no part of it, nor the CR a serial console ends it with (CRLF): a pattern
        # ending in `$` must match a console's line as it matches a process's.
        lines = [logstamp.parse(line)[1].removesuffix(b"\r") for line in lines]
        return any(not line.startswith(_OWN_LINE) and self.pattern.search(line) for line in lines)


def _tcp_answers(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _same_run(first: RuntimeStatus, now: RuntimeStatus) -> bool:
    return now.state == RUNNING and (now.pid, now.started, now.restarts, now.last_exit) == (
        first.pid,
        first.started,
        first.restarts,
        first.last_exit,
    )


def _describe_exit(status: RuntimeStatus) -> str:
    if status.state != RUNNING or status.last_exit is not None or status.pid is None:
        detail = status.detail or (f"exited with {status.last_exit}" if status.last_exit else status.state)
        return f"it did not stay up ({detail})"
    return "it restarted"


def check(
    backend: Watched,
    svc: Service,
    ready: Readiness,
    *,
    log_offset: int,
    log_inode: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Health:
    """Watch SVC, just started by BACKEND, until it is healthy or clearly not."""
    start = clock()
    first = backend.status(svc)
    # A fresh run that has already exited (it may be restarting already) is not going to get better.
    if first.state != RUNNING or first.last_exit is not None:
        return Health(False, _describe_exit(first), clock() - start)
    # Where the run began, as the backend noted it when it started the run, else as the caller found the
    # log before the start (LOG_OFFSET in the file LOG_INODE).
    offset = first.log_start if first.log_start is not None else log_offset
    log = _LogWatch(lambda: backend.log_path(svc), offset, ready.log, log_inode) if ready.log else None
    tcp = parse_tcp(ready.tcp) if ready.tcp else None
    log_seen, tcp_seen = log is None, tcp is None
    ready_at: float | None = None
    while True:
        now = clock()
        status = backend.status(svc)
        if not _same_run(first, status):
            return Health(False, _describe_exit(status), now - start)
        if not log_seen and log is not None:
            log_seen = log.matched()
        if not tcp_seen and tcp is not None:
            tcp_seen = _tcp_answers(*tcp, timeout=min(1.0, max(POLL, start + ready.timeout - now)))
        if ready_at is None and log_seen and tcp_seen:
            ready_at = clock()
        if ready_at is None and clock() - start > ready.timeout:
            missing = []
            if not log_seen:
                missing.append(f"no log line matched {ready.log!r}")
            if not tcp_seen:
                missing.append(f"nothing answered on {ready.tcp}")
            return Health(False, f"it was not ready within {ready.timeout:g} s: {' and '.join(missing)}", now - start)
        if ready_at is not None and clock() - ready_at >= ready.settle:
            return Health(True, f"healthy after {clock() - start:.1f} s", clock() - start)
        sleep(POLL)
