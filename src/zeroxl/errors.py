"""The errors 0xl shows to its users, and the exit status of each kind.

Every failure that reaches the CLI is one of these: the message says what failed and why, the hint
what to do. `cli.main` is the only place that turns them into exit statuses (see docs/exit-status.md).

A message about one of a service's settings names the setting, not the command-line option that set it:
the core does not know how its caller was asked. Such a message is given in parts, the setting as a
Setting (`["invalid ", ARG, f" {pair!r}"]`); `message` and `hint` call the settings as SETTINGS says,
`worded` as its caller says (the CLI: by the options that set them, --arg).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import ClassVar


class ExitStatus:
    """0xl's exit statuses (docs/exit-status.md). Plain ints, not an IntEnum: the enum module costs `0xl
    list`, which imports this module, a fifth of its time."""

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
    CONFIG = 11  # the host's config.toml cannot be read or holds what 0xl does not accept
    NOT_RUNNING = 12  # `0xl status`: the service exists but does not run (stopped, failed)
    INTERRUPTED = 130  # Ctrl-C


# The settings of a service that messages name, by key, as the core calls them.
SETTINGS = {
    "arg": "argument",
    "disk": "disk",
    "net": "network bridge",
    "mac": "MAC",
    "memory": "memory",
    "restart": "restart policy",
    "version": "version range",
    "settle": "settle time",
    "ready_log": "readiness pattern",
    "ready_tcp": "readiness address",
    "ready_timeout": "readiness timeout",
    "wait": "wait",
}


def setting(key: str) -> str:
    """What the core calls the setting KEY in a message."""
    return SETTINGS[key]


class Setting:
    """One of a service's settings, named in a message."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def __repr__(self) -> str:
        return f"Setting({self.key!r})"


if TYPE_CHECKING:
    Naming = Callable[[str], str]  # a setting's key ("arg") -> what to call it in a message
    Words = str | Sequence[str | Setting]  # a message, in parts where it names settings

ARG = Setting("arg")
DISK = Setting("disk")
NET = Setting("net")
MAC = Setting("mac")
MEMORY = Setting("memory")
RESTART = Setting("restart")
VERSION = Setting("version")
SETTLE = Setting("settle")
READY_LOG = Setting("ready_log")
READY_TCP = Setting("ready_tcp")
READY_TIMEOUT = Setting("ready_timeout")
WAIT = Setting("wait")


def _parts(words: Words) -> tuple[str | Setting, ...]:
    return (words,) if isinstance(words, str) else tuple(words)


def _join(parts: tuple[str | Setting, ...], name: Naming) -> str:
    return "".join(p if isinstance(p, str) else name(p.key) for p in parts)


class ZeroxlError(Exception):
    """A failure that can be shown to the user as it is."""

    exit_status: ClassVar[int] = ExitStatus.ERROR

    def __init__(self, message: Words, *, hint: Words | None = None) -> None:
        # The message and the hint in parts, for `worded` and for an error that quotes this one.
        self.parts = _parts(message)
        self.hint_parts = _parts(hint) if hint is not None else None
        self.message, self.hint = self.worded(setting)
        super().__init__(self.message)

    def worded(self, name: Naming) -> tuple[str, str | None]:
        """The message and the hint, with the settings they name called as NAME calls them."""
        return _join(self.parts, name), None if self.hint_parts is None else _join(self.hint_parts, name)


class UsageError(ZeroxlError):
    """An argument the user gave is not acceptable."""

    exit_status = ExitStatus.USAGE


class SettingError(UsageError):
    """A service's setting (an argument, a disk, a network, its memory…) is not acceptable: malformed, or
    not what the version needs or the backend can do. A wrong option at `add`; at `update` or `rollback`,
    a version that does not fit the service (app.fits.check_fits)."""


class ConfigError(ZeroxlError):
    """The host's config.toml cannot be read, or holds a key or a value 0xl does not accept."""

    exit_status = ExitStatus.CONFIG


class NotFoundError(ZeroxlError):
    """A service, version, disk or key that the user named does not exist."""

    exit_status = ExitStatus.NOT_FOUND


class VerificationError(ZeroxlError):
    """Something fetched failed a check; nothing of it was used.

    REASON, where given, names the check that refused (`bad-signature`, `gzip-checksum`, …): callers and
    tests tell refusals apart by it rather than by the words of the message, which are the user's.
    """

    exit_status = ExitStatus.REFUSED

    def __init__(self, message: Words, *, hint: Words | None = None, reason: str = "") -> None:
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

    def __init__(self, message: Words, failures: tuple[ZeroxlError, ...], *, hint: Words | None = None) -> None:
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
        import logging  # here: `0xl list` imports this module, and logging is large

        logging.getLogger("zeroxl").debug("unexpected error", exc_info=e)
        return cls(
            f"unexpected {type(e).__name__}: {e}",
            hint="this is a bug in 0xl: run the command again with --debug to see where, and report it",
        )
