"""Unix services run as users of their own when 0xl runs as root (issue 14): the program's uid, its disk's
owner and mode, that it cannot open another service's disk nor read ZEROXL_HOME, and that its user goes
with it at destroy unless it owns kept disks. Real processes, real useradd/userdel."""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import snapshot, stop_everything, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="services get users of their own only under root")

PROGRAM = """#!/bin/sh
echo "uid $(id -u) groups $(id -G)"
printf mark | dd of=data conv=notrunc 2>/dev/null && echo "wrote my disk through ./data"
head -c 4 "$ZEROXL_DISK_DATA" | grep -q mark && echo "read my disk through ZEROXL_DISK_DATA"
if head -c 1 {other} >/dev/null 2>&1; then echo "read the other disk"; else echo "cannot read the other disk"; fi
if ls {home}/services >/dev/null 2>&1; then echo "read ZEROXL_HOME"; else echo "cannot read ZEROXL_HOME"; fi
exec sleep 1000
"""


@pytest.fixture
def cleanup_users(zhome: Path) -> Iterator[None]:
    """Remove the users 0xl made for this test's services, whatever the test left."""
    yield
    stop_everything(zhome)


def _log(zx, name: str) -> str:
    return zx("logs", name).out


def test_each_service_runs_as_its_own_user_and_cannot_open_the_others_disk(
    site: FeedSite, zx, zhome: Path, cleanup_users: None
) -> None:
    other = zhome / "disks" / "b" / "data.img"
    files = {"bin/web": (PROGRAM.format(other=other, home=zhome).encode(), 0o755)}
    url = site.publish("svc", [Impl("1.0", files=files)])
    for name in ("a", "b"):
        r = zx("add", name, url, "--trust-key", site.publisher.fingerprint, "--disk", "data=1M")
        assert r.rc == 0 and f"as user 0xl-{name}" in r.out, r
        assert zx("run", name).rc == 0
    a, b = pwd.getpwnam("0xl-a"), pwd.getpwnam("0xl-b")
    assert a.pw_uid not in (0, b.pw_uid) and a.pw_shell == "/usr/sbin/nologin"
    assert wait_for(lambda: "cannot read ZEROXL_HOME" in _log(zx, "a") + "", timeout=10), _log(zx, "a")
    log = _log(zx, "a")
    assert f"uid {a.pw_uid} groups {a.pw_gid}\n" in log, log  # no supplementary group of root's
    assert "wrote my disk through ./data" in log and "read my disk through ZEROXL_DISK_DATA" in log, log
    assert "cannot read the other disk" in log, log
    status = json.loads(zx("status", "a", "--json").out)
    assert status["user"] == "0xl-a"
    pid = status["pid"]
    assert os.stat(f"/proc/{pid}").st_uid == a.pw_uid
    # Its disk and working directory are its user's alone.
    disk = os.stat(zhome / "disks" / "a" / "data.img")
    assert (disk.st_uid, disk.st_gid, stat.S_IMODE(disk.st_mode)) == (a.pw_uid, a.pw_gid, 0o600)
    workdir = os.stat(zhome / "services" / "a" / "data")
    assert (workdir.st_uid, stat.S_IMODE(workdir.st_mode)) == (a.pw_uid, 0o700)
    # The home lets others in only to run what is in the store (docs/home.md); the rest stays private.
    assert stat.S_IMODE(os.stat(zhome).st_mode) == 0o711
    assert {stat.S_IMODE(os.stat(zhome / d).st_mode) for d in ("services", "disks", "feeds", "locks")} == {0o700}
    # Nor can a process of a's user reach b's disk by the descriptor b's program holds open.
    b_pid = json.loads(zx("status", "b", "--json").out)["pid"]
    b_fds = [f for f in os.listdir(f"/proc/{b_pid}/fd") if os.path.realpath(f"/proc/{b_pid}/fd/{f}") == str(other)]
    assert b_fds, "b's program holds its disk open"
    tried = subprocess.run(
        [
            "setpriv",
            f"--reuid={a.pw_uid}",
            f"--regid={a.pw_gid}",
            "--clear-groups",
            "cat",
            f"/proc/{b_pid}/fd/{b_fds[0]}",
        ],
        capture_output=True,
        text=True,
    )
    assert tried.returncode != 0 and "Permission denied" in tried.stderr, tried


def test_a_service_keeps_its_disk_data_across_restarts_as_its_user(
    site: FeedSite, zx, zhome: Path, cleanup_users: None
) -> None:
    files = {"bin/web": (PROGRAM.format(other="/nonexistent", home=zhome).encode(), 0o755)}
    url = site.publish("svc", [Impl("1.0", files=files)])
    assert zx("add", "a", url, "--trust-key", site.publisher.fingerprint, "--disk", "data=1M").rc == 0
    assert zx("run", "a").rc == 0
    assert wait_for(lambda: "read my disk" in _log(zx, "a"), timeout=10), _log(zx, "a")
    assert zx("restart", "a").rc == 0
    assert wait_for(lambda: _log(zx, "a").count("read my disk") == 2, timeout=10), _log(zx, "a")
    assert (zhome / "disks" / "a" / "data.img").read_bytes()[:4] == b"mark"


def test_user_is_removed_at_destroy_unless_it_owns_kept_disks(
    site: FeedSite, zx, zhome: Path, cleanup_users: None
) -> None:
    url = site.publish("svc", [Impl("1.0", files={"bin/web": (b"#!/bin/sh\nexec sleep 1000\n", 0o755)})])
    assert zx("add", "a", url, "--trust-key", site.publisher.fingerprint, "--disk", "data=1M").rc == 0
    assert zx("add", "b", url, "--disk", "data=1M").rc == 0
    uid = pwd.getpwnam("0xl-a").pw_uid
    assert zx("run", "a").rc == 0
    assert zx("destroy", "a").rc == 0  # its disk is kept: so is its owner
    assert pwd.getpwnam("0xl-a").pw_uid == uid
    assert zx("add", "a", url, "--disk", "data=1M").rc == 0  # finds its user and disk as they were
    assert pwd.getpwnam("0xl-a").pw_uid == uid
    assert zx("destroy", "a", "--delete-disks").rc == 0
    with pytest.raises(KeyError):
        pwd.getpwnam("0xl-a")
    assert zx("destroy", "b").rc == 0
    assert pwd.getpwnam("0xl-b")
    assert zx("disk", "delete", "b", "data").rc == 0  # its last kept disk: its user goes too
    with pytest.raises(KeyError):
        pwd.getpwnam("0xl-b")


def test_user_option_runs_it_as_that_user_and_never_removes_it(
    site: FeedSite, zx, zhome: Path, cleanup_users: None
) -> None:
    url = site.publish("svc", [Impl("1.0", files={"bin/web": (b"#!/bin/sh\nid -un\nexec sleep 1000\n", 0o755)})])
    r = zx("add", "a", url, "--trust-key", site.publisher.fingerprint, "--user", "nobody")
    assert r.rc == 0 and "as user nobody" in r.out, r
    assert zx("run", "a").rc == 0
    assert wait_for(lambda: "nobody" in _log(zx, "a"), timeout=10)
    assert zx("destroy", "a").rc == 0
    assert pwd.getpwnam("nobody")
    r = zx("add", "c", url, "--user", "no-such-user")
    assert r.rc == 3 and "there is no user no-such-user on this host" in r.err, r
    assert not (zhome / "services" / "c").exists()


def test_a_user_of_that_name_0xl_did_not_make_is_not_taken(
    site: FeedSite, zx, zhome: Path, cleanup_users: None
) -> None:
    url = site.publish("svc", [Impl("1.0", files={"bin/web": (b"#!/bin/sh\nexec sleep 1000\n", 0o755)})])
    subprocess.run(["useradd", "--system", "--no-create-home", "--", "0xl-taken"], check=True)
    try:
        r = zx("add", "taken", url, "--trust-key", site.publisher.fingerprint, "--disk", "data=1M")
        assert r.rc == 7 and "the user 0xl-taken exists, and 0xl did not make it" in r.err, r
        assert not (zhome / "services" / "taken").exists() and not (zhome / "disks" / "taken" / "data.img").exists()
    finally:
        subprocess.run(["userdel", "--", "0xl-taken"], check=True)


def test_a_home_inside_a_directory_others_cannot_enter_is_refused_at_add(
    site: FeedSite, zx, zhome: Path, tmp_path: Path, cleanup_users: None
) -> None:
    # The service's user runs its program from the store inside the home: behind a 0700 directory (as
    # /root is) it would fail at run with "Permission denied"; add says so instead, and makes nothing.
    url = site.publish("svc", [Impl("1.0", files={"bin/web": (b"#!/bin/sh\necho up\nexec sleep 1000\n", 0o755)})])
    zhome.mkdir(mode=0o700)
    tmp_path.chmod(0o700)
    try:
        before = snapshot(zhome)
        r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--disk", "data=1M")
        assert r.rc == 2, r
        assert f"ZEROXL_HOME {zhome} is inside {tmp_path}, which other users cannot enter (mode 0700)" in r.err, r
        assert f"chmod o+x {tmp_path}" in r.err, r
        assert snapshot(zhome) == before
        with pytest.raises(KeyError):
            pwd.getpwnam("0xl-web")
    finally:
        tmp_path.chmod(0o711)
    # Once others may pass, the same add works, and the program runs as its user.
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--disk", "data=1M")
    assert r.rc == 0, r
    assert zx("run", "web").rc == 0
    assert wait_for(lambda: "up" in _log(zx, "web"), timeout=10), _log(zx, "web")
