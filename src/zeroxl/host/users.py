"""The system users unix services run as when 0xl runs as root (docs/unix-backend.md, "Users").

Each service gets one of its own, `0xl-NAME`, made at `0xl add` with useradd (a system user and group,
no home, no login shell) and removed at `0xl destroy` unless it still owns kept disks; or runs as a user
the operator names (`--user`), which 0xl never makes or removes. A user 0xl made is told from one
that merely has the name by its comment (the GECOS field), which names the service and the
ZEROXL_HOME: 0xl never removes, nor lends to a service, a user it did not make for that service.
"""

from __future__ import annotations

import hashlib
import os
import pwd
from dataclasses import dataclass

from zeroxl import proc
from zeroxl.errors import ConflictError, NotFoundError, SettingError

PREFIX = "0xl-"
LONGEST = 32  # useradd's limit on a user name
USERADD = "useradd"
USERDEL = "userdel"
# A name useradd and every tool after it take as it is (no option, no '/', ':' or blank).
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int


def runs_as_root() -> bool:
    return os.geteuid() == 0


def own_name(service: str) -> str:
    """The user 0xl makes for SERVICE: 0xl-SERVICE, shortened with a digest past useradd's limit."""
    name = PREFIX + service
    if len(name) <= LONGEST:
        return name
    digest = hashlib.sha256(service.encode()).hexdigest()[:8]
    return f"{PREFIX}{service[: LONGEST - len(PREFIX) - 9]}-{digest}"


def tag(service: str, home: str) -> str:
    """The comment 0xl gives the user it makes for SERVICE of HOME (no ',' or ':': GECOS separators)."""
    return f"0xl service {service} home {hashlib.sha256(home.encode()).hexdigest()[:16]}"


def check_name(user: str) -> str:
    if not user or len(user) > LONGEST or user[0] == "-" or not set(user) <= _NAME_CHARS:
        raise SettingError(f"invalid user {user!r}", hint="name an existing user: letters, digits, '_' and '-'")
    return user


def lookup(user: str) -> Account | None:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def existing(user: str) -> Account:
    """USER, who must exist (NotFoundError)."""
    account = lookup(check_name(user))
    if account is None:
        raise NotFoundError(
            f"there is no user {user} on this host", hint="create it first (useradd), or leave out --user"
        )
    return account


def is_own(user: str, service: str, home: str) -> bool:
    """Whether USER is the one 0xl made for SERVICE of HOME."""
    try:
        return pwd.getpwnam(user).pw_gecos == tag(service, home)
    except KeyError:
        return False


def ensure_own(service: str, home: str) -> tuple[Account, bool]:
    """SERVICE's own user, made now if it does not exist; returns it and whether it was made. A user of
    that name that 0xl did not make for this service is a ConflictError."""
    user = own_name(service)
    account = lookup(user)
    if account is not None:
        if not is_own(user, service, home):
            raise ConflictError(
                f"the user {user} exists, and 0xl did not make it for {service} of this ZEROXL_HOME",
                hint="name the user the service is to run as with --user, or remove that user",
            )
        return account, False
    proc.run(
        [
            USERADD,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            tag(service, home),
            "--",
            user,
        ],
        timeout=60,
    )
    made = lookup(user)
    if made is None:
        raise NotFoundError(f"useradd made no user {user}")
    return made, True


def remove_own(service: str, home: str) -> bool:
    """Remove SERVICE's own user (and its group), if 0xl made it; whether it did."""
    user = own_name(service)
    if not is_own(user, service, home):
        return False
    proc.run([USERDEL, "--", user], timeout=60)
    return True
