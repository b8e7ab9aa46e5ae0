"""ZEROXL_HOME belongs to its owner alone (docs/home.md).

Another local user who can open a lock file can hold `flock` on it and make every command on a service
fail as busy; one who can read the records learns each service's arguments. So the home is 0700, and
what 0xl makes in it is private on its own too (directories 0700, files 0600), so that opening the home
later for the store's sake (search permission only) exposes nothing else. The store keeps 0install's
modes (entries 0555, files 0444): it holds only what publishers made public.

Kept free of heavy imports (pathlib included): `0xl list` calls `secure_home` too.
"""

from __future__ import annotations

import os
import stat

from zeroxl.errors import StateError, UsageError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from collections.abc import Callable

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077
# Read or write for group or others: a home that earlier versions of 0xl made (0755 under umask 022).
# Search permission alone (0711) is allowed: it is how the store can be shared (docs/home.md).
_OPEN = 0o066
# Not made private when an open home is closed: the store keeps 0install's layout, and tmp holds store
# entries being built (with the modes they will have in the store).
_SHARED_TOPS = ("store", "tmp")


def secure_home(root: str, *, create: bool, info: Callable[[str], None]) -> None:
    """Check that ROOT (ZEROXL_HOME) is this user's and private; make it (0700) if CREATE and it is missing.

    A home open to others, as earlier versions left it, is closed: its own mode becomes 0700 and what is
    in it loses every permission for group and others (the store and its scratch space excepted). INFO
    is told so, once: the next call finds it closed.
    """
    try:
        st = os.stat(root)  # noqa: PTH116
    except FileNotFoundError:
        if create:
            makedirs(root)
        return
    except OSError as e:
        raise StateError(f"cannot use ZEROXL_HOME {root}: {e.strerror}") from e
    if st.st_uid != os.geteuid():
        raise UsageError(
            f"ZEROXL_HOME {root} belongs to user {_user(st.st_uid)}, not to {_user(os.geteuid())}, who runs 0xl",
            hint="its owner could change every record and trust decision in it: use a ZEROXL_HOME of your own",
        )
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"ZEROXL_HOME {root} is not a directory")
    if st.st_mode & _OPEN:
        _close(root)
        info(
            f"0xl: made ZEROXL_HOME private to its owner: {root} was mode {stat.S_IMODE(st.st_mode):04o}, "
            "open to other users (as earlier versions of 0xl made it; see docs/home.md)"
        )


def makedirs(path: str) -> None:
    """Make PATH and any missing directory above it, each one 0700 (os.makedirs gives parents the umask's)."""
    missing = []
    while not os.path.isdir(path):  # noqa: PTH112 - strings: `0xl list` does without pathlib
        missing.append(path)
        parent = os.path.dirname(path)  # noqa: PTH120
        if parent == path:
            break
        path = parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)  # noqa: PTH102
        except FileExistsError:
            continue  # made meanwhile by another 0xl command
        except OSError as e:
            raise StateError(f"cannot create {d}: {e.strerror}") from e


def create_file(path: str, flags: int) -> int:
    """Open PATH with FLAGS (O_CREAT among them), made 0600 if it is new; returns the descriptor."""
    return os.open(path, flags | os.O_CLOEXEC, FILE_MODE)


def _close(root: str) -> None:
    """Take group's and others' permissions from ROOT and everything in it but the shared tops."""
    os.chmod(root, DIR_MODE)  # noqa: PTH101 - first: from here on nobody else gets in
    stack = [e.path for e in os.scandir(root) if e.name not in _SHARED_TOPS]
    while stack:  # an explicit stack: a service's data directory may be deeper than the recursion limit
        path = stack.pop()
        try:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                continue  # a link's own mode means nothing; what it points to is not ours to change
            if st.st_mode & 0o077:
                os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)  # noqa: PTH101
            if stat.S_ISDIR(st.st_mode):
                stack.extend(e.path for e in os.scandir(path))
        except FileNotFoundError:
            continue  # removed meanwhile (a tombstone cleared, a log rotated)
    for top in _SHARED_TOPS:
        path = f"{root}/{top}"
        if top == "tmp" and os.path.isdir(path):  # noqa: PTH112
            os.chmod(path, DIR_MODE)  # noqa: PTH101


def _user(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
