"""Remote libvirt hosts on this machine, for multi-host tests: each is a system user made for the run,
with its own unprivileged libvirtd (`qemu:///session`) and its own sshd on 127.0.0.1, reached as
`qemu+ssh://USER@127.0.0.1:PORT/session?…` with a key made here. Nothing is shared with root's SSH
set-up: the client runs through a wrapper (`command=` in the URI) whose ssh_config pins the hosts' keys
in a known_hosts file of its own, uses only the lab's key and never prompts.

Pitfalls met (shared/notes/hypervisors-here.md): sshd needs /run/sshd; a password field of `!` (what
useradd leaves) locks the account for key logins without PAM, `*` does not; and sshd must set
XDG_RUNTIME_DIR (where the user's daemon listens) and LIBVIRT_AUTOSTART=0, or virt-ssh-helper starts a
second daemon of its own instead of reaching the lab's (and a killed daemon would come back by itself).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from tests.labs.libvirt.lab import LabError, alive, cache_dir, copy_if_changed, end_processes

# Users are named USER_PREFIX + the owning process id + a number, so that a later run can tell those of a
# dead run and remove them (and their processes).
USER_PREFIX = "zxl-"
_USER_NAME = re.compile(rf"^{re.escape(USER_PREFIX)}(\d+)-\d+$")
# The directory that holds the users' homes, the keys and the sshd configurations: this prefix + pid + "-".
_BASE_PREFIX = "0xl-lv-hosts-"
_SSH_TIMEOUT = 10  # seconds for the TCP connection and the SSH handshake; a dead host fails within it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(args), capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise LabError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def user_pids(uid: int) -> list[int]:
    """The processes whose real user is `uid` (for a lab user: all started by the lab)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        match = re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE)
        if match and int(match.group(1)) == uid:
            pids.append(int(entry.name))
    return pids


def _remove_user(name: str) -> None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return
    end_processes(user_pids(entry.pw_uid))
    subprocess.run(["userdel", name], capture_output=True, check=False)
    home = Path(entry.pw_dir)
    if home.name.startswith(USER_PREFIX):
        shutil.rmtree(home, ignore_errors=True)


def remove_stale_users() -> list[str]:
    """Removes the users (and their processes and homes) of lab runs that died without cleaning up."""
    stale = []
    for entry in pwd.getpwall():
        match = _USER_NAME.match(entry.pw_name)
        if match and not alive(int(match.group(1))):
            _remove_user(entry.pw_name)
            stale.append(entry.pw_name)
    # sshd dies with the run that started it (its parent-death signal); one that outlived it anyway is
    # known by the configuration file the dead run wrote for it, even when that is gone.
    config = re.compile(rb"/" + re.escape(_BASE_PREFIX.encode()) + rb"(\d+)-[^/\s]+/sshd-\d+/sshd_config")
    end_processes([pid for pid, match in _commands_matching(config) if not alive(int(match.group(1)))])
    for base in Path(tempfile.gettempdir()).glob(f"{_BASE_PREFIX}*"):
        match = re.match(rf"^{re.escape(_BASE_PREFIX)}(\d+)-", base.name)
        if match and not alive(int(match.group(1))):
            shutil.rmtree(base, ignore_errors=True)
    return stale


def _commands_matching(pattern: re.Pattern[bytes]) -> list[tuple[int, re.Match[bytes]]]:
    """The processes whose command line matches `pattern`, with the match. (sshd rewrites its command
    line as one string, "sshd: /usr/sbin/sshd -D -e -f …/sshd_config [listener] …", which keeps the path.)"""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            match = pattern.search((entry / "cmdline").read_bytes())
        except OSError:
            continue
        if match:
            found.append((int(entry.name), match))
    return found


def sshd_pids(base: Path) -> list[int]:
    """The sshd processes of the hosts made in `base`."""
    return [pid for pid, _ in _commands_matching(re.compile(re.escape(f"{base}/sshd-".encode())))]


@dataclass
class RemoteHost:
    """One "remote" host: a user, its session libvirtd and the sshd in front of it.

    `uri` is what a multi-host client (issue 13) is given; `home` holds what the host's daemon may use
    (pools, disks, console logs: QEMU runs as the user)."""

    name: str
    user: str
    uid: int
    gid: int
    home: Path
    port: int
    uri: str
    _sshd: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def runtime_dir(self) -> Path:
        return self.home / "run"

    @property
    def daemon_log(self) -> Path:
        return self.home / "libvirtd.log"

    def _env(self) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "USER": self.user,
            "LOGNAME": self.user,
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "LIBVIRT_AUTOSTART": "0",
        }

    def as_user(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Runs a command as the host's user, with the environment its daemon has."""
        return _run(
            "setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--", *args,
            env=self._env(), cwd=str(self.home),
        )  # fmt: skip

    @property
    def daemon_socket(self) -> Path:
        return self.runtime_dir / "libvirt" / "libvirt-sock"

    def daemon_pid(self) -> int | None:
        try:
            return int((self.runtime_dir / "libvirt" / "libvirtd.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def start_daemon(self, timeout: float = 60.0) -> None:
        """Starts the user's libvirtd (it starts its virtlogd itself); returns once it listens."""
        self.daemon_socket.unlink(missing_ok=True)
        self.as_user("libvirtd", "--daemon")
        deadline = time.monotonic() + timeout
        while not self.daemon_socket.exists():
            if time.monotonic() > deadline:
                raise LabError(f"{self.user}'s libvirtd did not listen; its log:\n{self.log_tail()}")
            time.sleep(0.05)

    def kill_daemon(self) -> None:
        """SIGKILLs the user's libvirtd, as a host whose daemon died (its guests keep running)."""
        pid = self.daemon_pid()
        if pid is None:
            raise LabError(f"{self.user}'s libvirtd has no pid file")
        os.kill(pid, 9)
        while alive(pid):
            time.sleep(0.02)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.daemon_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise LabError(f"sshd exited ({process.returncode}): {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise LabError(f"sshd did not listen on 127.0.0.1:{port}: {log.read_text(errors='replace')}") from None
            time.sleep(0.05)


@dataclass(frozen=True)
class _Client:
    """The operator's side: the key, the pinned known_hosts, the ssh wrapper that libvirt runs."""

    key: Path
    known_hosts: Path
    wrapper: Path


def _make_client(base: Path) -> _Client:
    client = base / "client"
    client.mkdir(mode=0o700)
    key = client / "id_ed25519"
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "0xl-libvirt-lab", "-f", str(key))
    known_hosts = client / "known_hosts"
    known_hosts.touch()
    config = client / "ssh_config"
    config.write_text(
        "Host *\n"
        f"    UserKnownHostsFile {known_hosts}\n"
        "    GlobalKnownHostsFile /dev/null\n"
        "    StrictHostKeyChecking yes\n"
        f"    IdentityFile {key}\n"
        "    IdentitiesOnly yes\n"
        "    BatchMode yes\n"
        f"    ConnectTimeout {_SSH_TIMEOUT}\n"
        "    ServerAliveInterval 5\n"
        "    ServerAliveCountMax 2\n"
        "    LogLevel ERROR\n"
    )
    wrapper = client / "ssh"
    wrapper.write_text(f'#!/bin/sh\nexec ssh -F {config} "$@"\n')
    wrapper.chmod(0o755)
    return _Client(key=key, known_hosts=known_hosts, wrapper=wrapper)


def _make_host(base: Path, number: int, client: _Client, stack: ExitStack) -> RemoteHost:
    user = f"{USER_PREFIX}{os.getpid()}-{number}"
    home = base / user
    stack.callback(_remove_user, user)
    _run("useradd", "--system", "--user-group", "--home-dir", str(home), "--no-create-home", "--shell", "/bin/sh", user)
    _run("usermod", "-p", "*", user)  # not "!": sshd without PAM refuses a locked account even a key login
    entry = pwd.getpwnam(user)
    ssh_dir = home / ".ssh"
    for directory in (home, ssh_dir, home / "run", home / ".config" / "libvirt", home / ".cache"):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(client.key.with_suffix(".pub"), ssh_dir / "authorized_keys")
    (home / ".config" / "libvirt" / "libvirtd.conf").write_text(f'log_outputs = "3:file:{home}/libvirtd.log"\n')
    _warm_capabilities(home)
    _run("chown", "-R", f"{entry.pw_uid}:{entry.pw_gid}", str(home))

    port = _free_port()
    uri = (
        f"qemu+ssh://{user}@127.0.0.1:{port}/session"
        f"?command={quote(str(client.wrapper), safe='/')}&keyfile={quote(str(client.key), safe='/')}"
    )
    host = RemoteHost(
        name=f"host{number}", user=user, uid=entry.pw_uid, gid=entry.pw_gid, home=home, port=port, uri=uri
    )
    host.start_daemon()
    stack.callback(_save_capabilities, home)
    _start_sshd(base / f"sshd-{number}", host, client, stack)
    return host


def _start_sshd(directory: Path, host: RemoteHost, client: _Client, stack: ExitStack) -> None:
    directory.mkdir(mode=0o700)
    host_key = directory / "host_ed25519"
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", str(host_key))
    with client.known_hosts.open("a") as f:
        f.write(f"[127.0.0.1]:{host.port} {host_key.with_suffix('.pub').read_text().strip()}\n")
    config = directory / "sshd_config"
    config.write_text(
        f"Port {host.port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        "PidFile none\n"
        f"AllowUsers {host.user}\n"
        "AuthorizedKeysFile .ssh/authorized_keys\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "PermitRootLogin no\n"
        "AllowTcpForwarding no\n"
        "AllowAgentForwarding no\n"
        "X11Forwarding no\n"
        "PrintMotd no\n"
        f"SetEnv XDG_RUNTIME_DIR={host.runtime_dir} LIBVIRT_AUTOSTART=0\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    _run("/usr/sbin/sshd", "-t", "-f", str(config))
    log = directory / "sshd.log"
    with log.open("wb") as out:
        # -D: stays in the foreground, our child; -e: logs to stderr (the log file). If this process dies,
        # even by SIGKILL, sshd goes with it (setpriv's parent-death signal).
        process = subprocess.Popen(
            ["setpriv", "--pdeathsig", "KILL", "--", "/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
    stack.callback(_stop_process, process)
    host._sshd = process
    _wait_for_port(host.port, process, log)


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _capabilities_store() -> Path:
    return cache_dir() / "qemu-capabilities" / "session"


def _user_capabilities(home: Path) -> Path:
    """Where a session libvirtd keeps QEMU's probed capabilities ($XDG_CACHE_HOME/libvirt/qemu/cache)."""
    return home / ".cache" / "libvirt" / "qemu" / "cache" / "capabilities"


def _warm_capabilities(home: Path) -> None:
    """Copies QEMU's probed capabilities from earlier runs into the user's libvirt cache (saves ~8 s)."""
    store = _capabilities_store()
    target = _user_capabilities(home)
    target.mkdir(parents=True, exist_ok=True)
    for caps in sorted(store.glob("*.xml")) if store.is_dir() else []:
        shutil.copyfile(caps, target / caps.name)


def _save_capabilities(home: Path) -> None:
    for caps in sorted(_user_capabilities(home).glob("*.xml")):
        copy_if_changed(caps, _capabilities_store() / caps.name)


@contextmanager
def remote_hosts(count: int) -> Iterator[list[RemoteHost]]:
    """`count` hosts, torn down on exit: sshd stopped, every process of each user ended (its libvirtd,
    virtlogd, QEMU), the users and their homes removed."""
    if os.geteuid() != 0:
        raise LabError("remote hosts need root (useradd, sshd)")
    remove_stale_users()
    with ExitStack() as stack:
        # Not under pytest's temporary directory: that is 0700 root, and each user must reach its home.
        base = Path(tempfile.mkdtemp(prefix=f"{_BASE_PREFIX}{os.getpid()}-"))
        base.chmod(0o755)
        stack.callback(shutil.rmtree, base, True)
        client = _make_client(base)
        yield [_make_host(base, number, client, stack) for number in range(1, count + 1)]
