"""The libvirt lab: a private, real libvirtd as root for one test session, and the test guest it boots.

`start_system_daemon(root)` starts virtlogd and libvirtd (Debian 12's monolithic daemon, QEMU driver) in a
network namespace the lab makes, with libvirt's system paths bound to directories under `root`
(start-in-namespace), and returns a `SystemDaemon` whose `uri` reaches it
(`qemu:///system?socket=ROOT/sock/libvirt-sock`). It never shares a domain, network, pool or socket with
a system daemon or with another test run, and everything it starts, QEMU included, lives in its network
namespace: `stop()` ends those processes by the namespace's list of process ids, then removes the
namespace. Guests are QEMU's software CPU (`<domain type='qemu'>`): /dev/kvm on these machines is not
usable (shared/notes/hypervisors-here.md).

QEMU's capabilities, which libvirt probes on the first API call after it starts (about 8 s), are kept
between runs in the cache (`qemu-capabilities/`) and copied in before the daemon starts.

The test guest (`build()`, `guest_image()`) is documented in README.md and image/rcS.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

LAB_SOURCE = Path(__file__).resolve().parent
BUILD_SCRIPT = LAB_SOURCE / "build"
START_SCRIPT = LAB_SOURCE / "start-in-namespace"

# Network namespaces of the lab's daemons are named NETNS_PREFIX + the owning process id + a nonce, so a
# later run can tell those of a dead run (killed before its clean-up) and remove them.
NETNS_PREFIX = "0xl-lv-"
_NETNS_NAME = re.compile(rf"^{re.escape(NETNS_PREFIX)}(\d+)-[0-9a-f]+$")

# Where libvirt (privileged) keeps QEMU's probed capabilities, under the daemon's private /var/cache.
_CAPS_DIR = Path("fs/var/cache/libvirt/qemu/capabilities")


class LabError(Exception):
    """The lab could not be built, or a daemon did not start or stop."""


def cache_dir() -> Path:
    return Path(os.environ.get("ZEROXL_LIBVIRT_LAB_CACHE", "/var/cache/0xl-libvirt-lab"))


@dataclass(frozen=True)
class GuestImage:
    """The test guest: a kernel QEMU boots directly, with its initramfs (image/rcS says what it does)."""

    kernel: Path
    initrd: Path


def build(*, force: bool = False) -> None:
    """Builds the guest unless the cache is up to date (a few milliseconds then); installs host packages."""
    done = subprocess.run([str(BUILD_SCRIPT), *(["--force"] if force else [])], check=False)
    if done.returncode != 0:
        raise LabError(f"the libvirt lab build failed (exit status {done.returncode}); its messages are above")


@contextmanager
def guest_in_use() -> Iterator[GuestImage]:
    """Holds the cache's lock shared while guests may boot from its files: a rebuild waits for us."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        guest = cache_dir() / "guest"
        if not (guest / "KEY").exists():
            raise LabError(f"the test guest is not built: run {BUILD_SCRIPT}")
        yield GuestImage(kernel=guest / "vmlinuz", initrd=guest / "initrd.img")


def _conf_string(value: str | Path) -> str:
    """A value for libvirt's config files (a quoted string)."""
    text = str(value)
    if '"' in text or "\\" in text or "\n" in text:
        raise LabError(f"a path libvirt's config cannot hold: {text!r}")
    return f'"{text}"'


def alive(pid: int) -> bool:
    """Whether process `pid` exists and has not exited (a zombie, not yet reaped, has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def end_processes(pids: list[int], *, grace: float = 5.0) -> None:
    """SIGTERM the given processes, then SIGKILL those still there after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            pids = [pid for pid in pids if alive(pid)]
            if not pids:
                return
            time.sleep(0.05)


def _netns_pids(netns: str) -> list[int]:
    done = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True, check=False)
    return [int(word) for word in done.stdout.split() if word.isdigit()]


def _remove_netns(netns: str) -> None:
    """Ends every process in the namespace (all started by a lab daemon), then deletes it."""
    end_processes(_netns_pids(netns))
    subprocess.run(["ip", "netns", "delete", netns], capture_output=True, check=False)


def remove_stale_namespaces() -> list[str]:
    """Removes the namespaces of lab daemons whose test run died without cleaning up. Returns their names."""
    removed = []
    netns_dir = Path("/run/netns")
    for entry in sorted(netns_dir.iterdir()) if netns_dir.is_dir() else []:
        match = _NETNS_NAME.match(entry.name)
        if match and not alive(int(match.group(1))):
            _remove_netns(entry.name)
            removed.append(entry.name)
    return removed


def copy_if_changed(source: Path, target: Path) -> None:
    """Copies `source` over `target` atomically, unless `target` holds the same bytes already."""
    data = source.read_bytes()
    if target.exists() and target.read_bytes() == data:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
    tmp.write_bytes(data)
    tmp.replace(target)


_HTTP_GET = """\
import sys, time, urllib.request
for _ in range(100):
    try:
        print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode(), end="")
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)
"""


@dataclass
class SystemDaemon:
    """A private libvirtd running as root. Connect with libvirt.open(daemon.uri)."""

    root: Path
    netns: str
    uri: str
    caps_store: Path

    @property
    def log(self) -> Path:
        """libvirtd's log (warnings and errors); virtlogd's is virtlogd.log beside it."""
        return self.root / "libvirtd.log"

    def netns_run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Runs a command in the daemon's network namespace (where its bridges and guests' taps are)."""
        return subprocess.run(["ip", "netns", "exec", self.netns, *args], capture_output=True, text=True, check=check)

    def http_get(self, url: str) -> subprocess.CompletedProcess[str]:
        """GET URL from inside the daemon's network namespace (a guest on one of its bridges), trying again
        for 20 s while the guest comes up; the body is the result's stdout."""
        return self.netns_run(sys.executable, "-c", _HTTP_GET, url, check=False)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no libvirtd log)"
        return "\n".join(text.splitlines()[-lines:])

    def pids(self) -> list[int]:
        """Every process in the daemon's namespace: virtlogd, libvirtd, QEMU, and anything they started."""
        return _netns_pids(self.netns)

    def stop(self) -> None:
        """Stops libvirtd (domains are not shut down: QEMU is ended with it), saves QEMU's capabilities
        for the next run, removes the namespace and the daemon's files (kept with ZEROXL_LIBVIRT_LAB_KEEP=1:
        libvirtd.log, virtlogd.log, and libvirt's own tree under fs/)."""
        libvirtd = _read_pid(self.root / "libvirtd.pid")
        if libvirtd is not None:
            end_processes([libvirtd], grace=10.0)
        _remove_netns(self.netns)
        for caps in sorted((self.root / _CAPS_DIR).glob("*.xml")):
            copy_if_changed(caps, self.caps_store / caps.name)
        if os.environ.get("ZEROXL_LIBVIRT_LAB_KEEP", "") in ("", "0"):
            shutil.rmtree(self.root, ignore_errors=True)


def start_system_daemon(root: Path, *, timeout: float = 60.0, qemu_user: str = "root") -> SystemDaemon:
    """Starts virtlogd and libvirtd as root, private to this run, with their files under `root` (which
    must not exist yet, or be empty). QEMU runs as `qemu_user` (and its group): root, or `libvirt-qemu` as
    Debian's qemu:///system does, where QEMU cannot read files private to root. Raises LabError if
    libvirtd does not listen within `timeout`."""
    if os.geteuid() != 0:
        raise LabError("a system libvirtd needs root")
    remove_stale_namespaces()
    root.mkdir(parents=True, exist_ok=True)
    etc = root / "fs/etc/libvirt"
    etc.mkdir(parents=True)
    (root / "sock").mkdir()
    # Debian's QEMU driver defaults to user libvirt-qemu; root keeps every file the tests make readable
    # without chown, and no security driver (AppArmor is not there anyway) keeps its labels off them.
    # No cgroups: without systemd libvirt would make cgroup v1 `machine` directories of its own and move QEMU
    # there, out of the test's cgroups. `ip netns exec` mounts a sysfs of the namespace's over /sys, so the
    # daemon sees no cgroup file system at all; the empty controller list says so again, should it see one.
    # With another user, libvirt's DAC driver gives QEMU the files a domain names (chown), not their
    # directories: a path QEMU cannot traverse stays out of its reach, as on a real host.
    user = _conf_string(qemu_user)
    (etc / "qemu.conf").write_text(
        f'user = {user}\ngroup = {user}\nsecurity_driver = "none"\nremember_owner = 0\ncgroup_controllers = [ ]\n'
    )
    (etc / "libvirtd.conf").write_text(
        f"unix_sock_dir = {_conf_string(root / 'sock')}\n"
        'unix_sock_ro_perms = "0700"\nunix_sock_rw_perms = "0700"\nunix_sock_admin_perms = "0700"\n'
        'auth_unix_ro = "none"\nauth_unix_rw = "none"\n'
        f"log_outputs = {_conf_string('3:file:' + str(root / 'libvirtd.log'))}\n"
    )
    (etc / "virtlogd.conf").write_text(f"log_outputs = {_conf_string('3:file:' + str(root / 'virtlogd.log'))}\n")
    caps_store = cache_dir() / "qemu-capabilities" / "system"
    (root / _CAPS_DIR).mkdir(parents=True)
    for caps in sorted(caps_store.glob("*.xml")) if caps_store.is_dir() else []:
        shutil.copyfile(caps, root / _CAPS_DIR / caps.name)

    netns = f"{NETNS_PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", netns], check=True, capture_output=True)
    uri = "qemu:///system?socket=" + quote(str(root / "sock" / "libvirt-sock"), safe="/")
    daemon = SystemDaemon(root=root, netns=netns, uri=uri, caps_store=caps_store)
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True, capture_output=True)
        started = subprocess.run(
            ["ip", "netns", "exec", netns, str(START_SCRIPT), str(root)],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if started.returncode != 0:
            raise LabError(f"the daemons did not start: {started.stderr.strip()}\n{daemon.log_tail()}")
        socket = root / "sock" / "libvirt-sock"
        deadline = time.monotonic() + timeout
        while not socket.exists():
            pid = _read_pid(root / "libvirtd.pid")
            if time.monotonic() > deadline or (pid is not None and not alive(pid)):
                raise LabError(f"libvirtd did not listen on {socket}:\n{daemon.log_tail()}")
            time.sleep(0.05)
    except BaseException:
        daemon.stop()
        raise
    return daemon
