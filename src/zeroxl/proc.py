"""The one place that runs external programs.

Every program runs from an argument list (never a shell) with `LC_ALL=C`, so that its messages and
status lines parse the same everywhere, and with a timeout. The command, its exit status and its
stderr are logged (`0xl --debug` shows them). Argument builders per tool live with their callers and
refuse dangerous operands before anything runs.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from zeroxl.errors import BackendError

log = logging.getLogger("zeroxl.proc")

DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Completed:
    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace").strip()


class CommandFailed(BackendError):
    """An external program exited non-zero, could not start, or timed out."""

    def __init__(self, message: str, *, completed: Completed | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.completed = completed


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env.pop("LANGUAGE", None)
    if extra:
        env.update(extra)
    return env


def describe(args: Sequence[str]) -> str:
    return shlex.join(args)


def run(
    args: Sequence[str],
    *,
    input: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    umask: int | None = None,
) -> Completed:
    """Run ARGS to completion and return what it printed.

    With `check` (the default) a non-zero exit raises CommandFailed whose message carries the last
    line of stderr; callers that read the exit status themselves pass `check=False`. UMASK, if given,
    is the program's (for one that makes files where only 0xl may read them).
    """
    argv = tuple(str(a) for a in args)
    cmd = describe(argv)
    try:
        proc = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            timeout=timeout,
            env=_env(env),
            cwd=cwd,
            check=False,
            stdin=None if input is not None else subprocess.DEVNULL,
            umask=-1 if umask is None else umask,
        )
    except FileNotFoundError as e:
        log.debug("%s: not found", cmd)
        raise CommandFailed(
            f"cannot run {argv[0]}: program not found", hint=f"install the package that provides {argv[0]}"
        ) from e
    except subprocess.TimeoutExpired as e:
        log.debug("%s: timed out after %ss", cmd, timeout)
        raise CommandFailed(f"{cmd} did not finish within {timeout:g} s") from e
    done = Completed(argv, proc.returncode, proc.stdout, proc.stderr)
    log.debug("%s -> exit %d%s", cmd, done.returncode, f"; stderr: {done.stderr_text()}" if proc.stderr else "")
    if check and not done.ok:
        last = done.stderr_text().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise CommandFailed(f"{cmd} failed: {last[0]}", completed=done)
    return done


def spawn(
    args: Sequence[str],
    *,
    cwd: Path,
    stdout: int,
    stderr: int,
    env: Mapping[str, str] | None = None,
    new_session: bool = True,
    pass_fds: Sequence[int] = (),
    die_with_parent: bool = False,
    user: int | None = None,
    group: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start ARGS in the background (its own session and process group) and return at once.

    Used for long-lived processes: the unix backend's supervisor and the service it supervises.
    `env` replaces the environment rather than extending it: a service gets only what 0xl gives it.
    With `die_with_parent` the kernel kills the child when the process that started it dies
    (PR_SET_PDEATHSIG), so a killed supervisor never leaves an unsupervised service behind.
    With `user` (a uid) and `group` it runs as that user, with no supplementary group; its working
    directory is entered before, so it may be one whose parents that user cannot reach.
    """
    argv = tuple(str(a) for a in args)
    try:
        child = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=dict(env) if env is not None else _env(None),
            start_new_session=new_session,
            pass_fds=tuple(pass_fds),
            close_fds=True,
            preexec_fn=_die_with_parent if die_with_parent else None,  # noqa: PLW1509 - single-threaded callers
            user=user,
            group=group,
            extra_groups=[] if user is not None else None,
        )
    except OSError as e:
        log.debug("%s: cannot start: %s", describe(argv), e)
        raise CommandFailed(f"cannot start {argv[0]}: {e.strerror or e}") from e
    log.debug("%s -> started pid %d", describe(argv), child.pid)
    return child


def _die_with_parent() -> None:
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
