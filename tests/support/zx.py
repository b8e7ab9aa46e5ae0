"""Running 0xl as its users do (a subprocess) and in-process (fast, for error paths), and checking
that a failed command left ZEROXL_HOME as it was."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from zeroxl.cli import main as cli_main
from zeroxl.cli.main import main
from zeroxl.errors import ZeroxlError

# What "changes nothing" covers: everything but the keyring (gpg may import a key it fetched before the
# trust decision, as 0install does), locks and scratch space.
WATCHED = ("store", "trustdb.xml", "services", "feeds", "disks", "host-id")


@dataclass
class Result:
    rc: int
    out: str
    err: str
    # The error the command failed with, for in-process runs: tests tell refusals apart by its type and
    # `reason` as well as by the words printed.
    error: ZeroxlError | None = None

    def __str__(self) -> str:
        return f"exit {self.rc}\n--- stdout\n{self.out}--- stderr\n{self.err}"


def zx_process(
    *args: str, home: Path, input: str | None = None, timeout: float = 60, env: dict[str, str] | None = None
) -> Result:
    """`0xl ARGS` as a separate process (stdin is not a terminal), with ENV added to the environment."""
    env = dict(os.environ, ZEROXL_HOME=str(home), **(env or {}))
    p = subprocess.run(
        [sys.executable, "-m", "zeroxl", *args],
        env=env,
        input=input or "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(p.returncode, p.stdout, p.stderr)


def zx_inprocess(*args: str, home: Path) -> Result:
    """`0xl ARGS` called through `main()` in this process; ZEROXL_HOME must be set in os.environ."""
    assert os.environ.get("ZEROXL_HOME") == str(home)
    out, err = io.StringIO(), io.StringIO()
    errors: list[ZeroxlError] = []
    report = cli_main._report

    def spy(e: ZeroxlError, *, debug: bool, json: bool = False) -> int:
        errors.append(e)
        return report(e, debug=debug, json=json)

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), mock.patch.object(cli_main, "_report", spy):
        rc = main(list(args))
    return Result(rc, out.getvalue(), err.getvalue(), errors[-1] if errors else None)


def snapshot(home: Path) -> dict[str, str]:
    """A digest of every watched file and directory under HOME."""
    snap: dict[str, str] = {}
    for top in WATCHED:
        base = home / top
        if not base.exists():
            continue
        paths = [base, *base.rglob("*")] if base.is_dir() else [base]
        for p in paths:
            rel = str(p.relative_to(home))
            if p.is_symlink():
                snap[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                if any(p.iterdir()):
                    snap[rel] = "dir"
            else:
                snap[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return snap


def open_to_services(home: Path) -> None:
    """Under root, let others enter the directories above HOME (search permission only), as /var/lib lets
    them above /var/lib/0xl: the unix services' own users (zeroxl.host.users) run their program from the
    store in HOME, and pytest makes a test's directories root's alone."""
    if os.geteuid() != 0:
        return
    for d in home.parents:
        mode = d.stat().st_mode & 0o7777
        if mode & 0o011 != 0o011:
            d.chmod(mode | 0o011)


def stop_everything(home: Path) -> None:
    """Kill every supervisor and service process a test left running under HOME, and remove the system
    users 0xl made for its services (zeroxl.host.users), which would otherwise outlive the test."""
    for state in (home / "services").glob("*/unix/state.json"):
        with contextlib.suppress(Exception):
            d = json.loads(state.read_text())
            for pid in (d.get("supervisor", {}).get("pid"), d.get("pid")):
                if pid:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(pid), signal.SIGKILL)
            if d.get("pid"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(d["pid"]), signal.SIGKILL)
    remove_users(home)


def remove_users(home: Path) -> None:
    """Remove the system users 0xl made for the services of HOME (by the tag in their comment)."""
    import pwd

    from zeroxl.host import users

    for entry in pwd.getpwall():
        if entry.pw_name.startswith(users.PREFIX) and entry.pw_gecos.startswith("0xl service "):
            service = entry.pw_gecos.split()[2]
            if entry.pw_gecos == users.tag(service, str(home)):
                subprocess.run(["userdel", "--force", "--", entry.pw_name], check=False, capture_output=True)


def remove_stale_users() -> None:
    """Remove the users 0xl made for services of test homes that no process runs as: left by a test
    session that was killed before its teardown (a timeout, a Ctrl-C). Every test names its service
    `web` or the like, and 0xl rightly refuses to lend a user it made for another home, so one stale
    `0xl-web` would fail every later session's unix tests on this machine."""
    import pwd

    from zeroxl.host import users

    running = set()
    for pid in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            if pid.isdigit():
                running.add(os.stat(f"/proc/{pid}").st_uid)
    for entry in pwd.getpwall():
        if (
            entry.pw_name.startswith(users.PREFIX)
            and entry.pw_gecos.startswith("0xl service ")
            and entry.pw_uid not in running
        ):
            subprocess.run(["userdel", "--force", "--", entry.pw_name], check=False, capture_output=True)


def wait_for(predicate: object, timeout: float = 15.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return False


def http_get(port: int, timeout: float = 2.0) -> str | None:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as r:
            return r.read().decode()
    except OSError:
        return None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
