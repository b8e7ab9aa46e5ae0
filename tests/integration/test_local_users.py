"""Another local user against ZEROXL_HOME (issue 10, point 9): a real second user, made here with useradd,
runs a program (through setpriv) that tries to read 0xl's records and to hold flock on its lock files.
It must get nothing, and root's commands must work while it runs."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import Result, free_port, stop_everything, wait_for, zx_process

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="making a second local user needs root")

# What the other user tries: list everything it can, open every file it finds or can guess, hold flock
# on each lock file it opened, and read the rest. It reports, then keeps what it holds until killed.
ATTACK = textwrap.dedent(
    """\
    import fcntl, json, os, sys, time
    home, names = sys.argv[1], sys.argv[2:]
    listed, paths = [], set()
    for root, dirs, files in os.walk(home):
        listed.append(root)
        paths.update(os.path.join(root, f) for f in files)
    for lock in ("store", "trust", "allocation", *(f"service-{n}" for n in names)):
        paths.add(f"{home}/locks/{lock}.lock")
    for n in names:
        for f in ("service.json", "history.json", "log", "unix/spec.json", "unix/state.json", "unix/stop.json"):
            paths.add(f"{home}/services/{n}/{f}")
    locked, read, held = [], [], []
    for path in sorted(paths):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        if path.endswith(".lock"):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked.append(path)
                held.append(fd)
                continue
            except OSError:
                pass
        else:
            read.append(path)
        os.close(fd)
    print(json.dumps({"listed": listed, "locked": locked, "read": read}), flush=True)
    time.sleep(600)
    """
)


@dataclass
class OtherUser:
    name: str
    uid: int
    gid: int
    python: str

    def attack(self, home: Path, *names: str) -> tuple[subprocess.Popen[str], dict[str, list[str]]]:
        """Start the attack as this user; returns the process (still holding what it got) and its report."""
        p = subprocess.Popen(
            [
                "setpriv",
                f"--reuid={self.uid}",
                f"--regid={self.gid}",
                "--clear-groups",
                "--",
                self.python,
                "-c",
                ATTACK,
                str(home),
                *names,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd="/",
        )
        assert p.stdout is not None
        line = p.stdout.readline()
        assert line, p.stderr.read() if p.stderr else ""
        return p, json.loads(line)


@pytest.fixture
def other_user() -> Iterator[OtherUser]:
    name = f"zx{os.urandom(4).hex()}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
        check=True,
        capture_output=True,
    )
    try:
        entry = pwd.getpwnam(name)
        # An interpreter the other user may run (the test's own may live under /root).
        python = next(
            (p for p in ("/usr/bin/python3", os.path.realpath(shutil.which("python3") or "")) if _runs_as(p, entry)),
            None,
        )
        assert python is not None, "no Python that another user may run: install Debian's python3"
        yield OtherUser(name, entry.pw_uid, entry.pw_gid, python)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def _runs_as(python: str, entry: pwd.struct_passwd) -> bool:
    if not python or not os.path.exists(python):
        return False
    argv = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--"]
    return subprocess.run([*argv, python, "-c", "pass"], capture_output=True, cwd="/").returncode == 0


@pytest.fixture
def home() -> Iterator[Path]:
    """A ZEROXL_HOME whose parent every user may enter (pytest's own tmp directory is root's alone, which
    would hide ZEROXL_HOME from the other user whatever 0xl does)."""
    parent = Path(tempfile.mkdtemp(prefix="0xl-local-users-"))
    parent.chmod(0o755)
    home = parent / "home"
    try:
        yield home
    finally:
        stop_everything(home)
        shutil.rmtree(parent, ignore_errors=True)


def _zx(home: Path, *args: str) -> Result:
    return zx_process(*args, home=home)


def _deploy(site: FeedSite, home: Path) -> None:
    url = site.publish("web", [Impl("1.0")])
    port = free_port()
    r = _zx(home, "add", "web", url, "--trust-key", site.publisher.fingerprint, "--arg", f"port={port}", "--disk", "1M")
    assert r.rc == 0, r
    r = _zx(home, "run", "web")
    assert r.rc == 0, r
    assert wait_for(lambda: "listening" in _zx(home, "logs", "web").out)


def _commands_work_while(attacker: subprocess.Popen[str], home: Path) -> None:
    """Root's commands, with the other user's program still running and holding whatever it got."""
    for args in (("stop", "web"), ("run", "web"), ("gc",), ("doctor",), ("destroy", "web")):
        r = _zx(home, *args)
        assert r.rc == 0, (args, r)
    assert attacker.poll() is None  # it was there all along


def test_another_user_can_neither_read_records_nor_hold_locks(
    site: FeedSite, home: Path, other_user: OtherUser
) -> None:
    _deploy(site, home)
    attacker, got = other_user.attack(home, "web")
    try:
        assert got == {"listed": [], "locked": [], "read": []}
        _commands_work_while(attacker, home)
    finally:
        attacker.kill()
        attacker.wait()


def _private(home: Path) -> list[str]:
    """Paths under HOME (the store apart) that users other than the owner may use at all."""
    open_to_others = []
    for path in [home, *home.rglob("*")]:
        if path.is_symlink() or (home / "store") in (path, *path.parents):
            continue
        if path.lstat().st_mode & 0o077:
            open_to_others.append(f"{oct(stat.S_IMODE(path.lstat().st_mode))} {path.relative_to(home)}")
    return open_to_others


def test_what_0xl_makes_in_its_home_is_its_owners_alone(site: FeedSite, home: Path) -> None:
    _deploy(site, home)
    # Root runs the service as a user of its own (host.users), which may enter the home to run its
    # program from the store, and no more: search permission for others, nothing else.
    assert stat.S_IMODE(home.stat().st_mode) == (0o711 if os.geteuid() == 0 else 0o700)
    assert _private(home) == (["0o711 ."] if os.geteuid() == 0 else [])


def test_a_home_an_earlier_0xl_left_open_is_closed_on_first_use(
    site: FeedSite, home: Path, other_user: OtherUser
) -> None:
    _deploy(site, home)
    # As earlier versions left it: directories 0755, files 0644 (their modes under the usual umask 022).
    for path in [home, *home.rglob("*")]:
        if path.is_symlink() or (home / "store") in (path, *path.parents):
            continue
        path.chmod(0o755 if path.is_dir() else 0o644 | (path.stat().st_mode & 0o111))
    attacker, got = other_user.attack(home, "web")
    attacker.kill()
    attacker.wait()
    assert got["locked"] and got["read"], got  # open, as it was

    r = _zx(home, "list")  # the first use, however small, closes it
    assert r.rc == 0, r
    assert "0xl: made ZEROXL_HOME private to its owner" in r.err, r
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert _private(home) == []
    assert _zx(home, "list").err == ""  # said once

    attacker, got = other_user.attack(home, "web")
    try:
        assert got == {"listed": [], "locked": [], "read": []}
        _commands_work_while(attacker, home)
    finally:
        attacker.kill()
        attacker.wait()


def test_a_home_that_belongs_to_another_user_is_refused(site: FeedSite, home: Path, other_user: OtherUser) -> None:
    # Whoever owns ZEROXL_HOME can change every record and trust decision in it: root must not use it.
    home.mkdir(mode=0o700)
    os.chown(home, other_user.uid, other_user.gid)
    url = site.publish("web", [Impl("1.0")])
    for args in (("list",), ("add", "web", url, "--trust-key", site.publisher.fingerprint)):
        r = _zx(home, *args)
        assert r.rc == 2, r
        assert f"0xl: error: ZEROXL_HOME {home} belongs to user {other_user.name}" in r.err, r
        assert "0xl: hint: " in r.err
        assert list(home.iterdir()) == []


def test_a_home_opened_for_its_store_exposes_the_store_alone(site: FeedSite, home: Path, other_user: OtherUser) -> None:
    # docs/home.md: search permission on the home (0711) is how the store can be shared, later, with a
    # hypervisor or service running as another user. 0xl keeps that mode; everything else stays closed.
    _deploy(site, home)
    home.chmod(0o711)
    r = _zx(home, "list")
    assert r.rc == 0 and r.err == "", r
    assert stat.S_IMODE(home.stat().st_mode) == 0o711
    attacker, got = other_user.attack(home, "web")
    try:
        assert got == {"listed": [], "locked": [], "read": []}
        _commands_work_while(attacker, home)
    finally:
        attacker.kill()
        attacker.wait()
    (entry,) = (home / "store").iterdir()
    argv = ["setpriv", f"--reuid={other_user.uid}", f"--regid={other_user.gid}", "--clear-groups", "--"]
    shown = subprocess.run([*argv, "cat", str(entry / "README")], capture_output=True, text=True, cwd="/")
    assert shown.stdout == "test service\n", shown.stderr
