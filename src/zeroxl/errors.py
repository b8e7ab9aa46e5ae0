"""The errors 0xl shows to its users, and the exit status of each kind.

Every failure that reaches the CLI is one of these: the message says what failed and why, the hint
what to do. `cli.main` is the only place that turns them into exit statuses (see docs/exit-status.md).
"""

from __future__ import annotations

import enum

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from typing import ClassVar


class ExitStatus(enum.IntEnum):
    OK = 0
    ERROR = 1  # an unexpected failure (a bug, or a state 0xl cannot read)
    USAGE = 2  # a wrong argument, name, size or option
    NOT_FOUND = 3  # no such service, version, disk or key
    REFUSED = 4  # a verification failed: signature, trust, replay, digest, size, unsafe content
    DOWNLOAD = 5  # a server could not be reached or answered with an error
    BACKEND = 6  # xl, lvcreate, the supervisor or the service itself failed
    CONFLICT = 7  # the name is taken, or another 0xl command holds the service
    UNSATISFIABLE = 8  # the feed has no implementation for this host, channel and version range
    POLICY = 9  # the request is over a limit of the host's policy
    ROLLED_BACK = 10  # an update failed its health check and the previous version runs again
    INTERRUPTED = 130  # Ctrl-C


class ZeroxlError(Exception):
    """A failure that can be shown to the user as it is."""

    exit_status: ClassVar[ExitStatus] = ExitStatus.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(ZeroxlError):
    """An argument the user gave is not acceptable."""

    exit_status = ExitStatus.USAGE


class NotFoundError(ZeroxlError):
    """A service, version, disk or key that the user named does not exist."""

    exit_status = ExitStatus.NOT_FOUND


class VerificationError(ZeroxlError):
    """Something fetched failed a check; nothing of it was used.

    REASON, where given, names the check that refused (`bad-signature`, `gzip-checksum`, …): callers and
    tests tell refusals apart by it rather than by the words of the message, which are the user's.
    """

    exit_status = ExitStatus.REFUSED

    def __init__(self, message: str, *, hint: str | None = None, reason: str = "") -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class DownloadError(ZeroxlError):
    """A feed, key or archive could not be fetched."""

    exit_status = ExitStatus.DOWNLOAD


class BackendError(ZeroxlError):
    """The backend (a supervisor, xl, LVM) could not do what was asked."""

    exit_status = ExitStatus.BACKEND


class ConflictError(ZeroxlError):
    """The name is taken or another command holds the service's lock."""

    exit_status = ExitStatus.CONFLICT


class SelectionError(ZeroxlError):
    """No implementation in the feed fits the host, the channel and the version range."""

    exit_status = ExitStatus.UNSATISFIABLE


class PolicyError(ZeroxlError):
    """The request exceeds a limit of the host's policy (config.toml)."""

    exit_status = ExitStatus.POLICY


class RolledBackError(ZeroxlError):
    """An update failed its health check; the version that ran before runs again."""

    exit_status = ExitStatus.ROLLED_BACK


class SomeFailed(ZeroxlError):
    """Some of the services one command worked on failed, each reported on its own.

    `cli.main` exits with the status of those failures when they all have the same one, else ERROR.
    """

    exit_status = ExitStatus.ERROR

    def __init__(self, message: str, failures: tuple[ZeroxlError, ...], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.failures = failures


class StateError(ZeroxlError):
    """0xl's own state under ZEROXL_HOME cannot be read or written."""

    exit_status = ExitStatus.ERROR


class UnexpectedError(ZeroxlError):
    """A failure 0xl did not foresee (a bug) in its work on one of several services: it fails that
    service alone, and the others go on (`0xl update --all`)."""

    exit_status = ExitStatus.ERROR

    @classmethod
    def of(cls, e: Exception) -> UnexpectedError:
        """E as an error of its service; with --debug its traceback is logged."""
        import logging

        logging.getLogger("zeroxl").debug("unexpected error", exc_info=e)
        return cls(
            f"unexpected {type(e).__name__}: {e}",
            hint="this is a bug in 0xl: run the command again with --debug to see where, and report it",
        )
