"""Fixtures of the libvirt lab (README.md beside this file): the test guest, a private system libvirtd,
two "remote" hosts reached over SSH, and a table of measured timings printed at the end of the run."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from tests.labs.libvirt import lab, services
from tests.labs.libvirt.remote import RemoteHost, remote_hosts

_timings: dict[str, list[float]] = {}


def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the libvirt lab needs root (a system libvirtd, system users, sshd)")


@pytest.fixture(scope="session")
def guest_image() -> Iterator[lab.GuestImage]:
    """The test guest's kernel and initrd, built if needed; the cache stays locked (shared) meanwhile."""
    _needs_root()
    lab.build()
    with lab.guest_in_use() as image:
        yield image


@pytest.fixture(scope="session")
def libvirt_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.SystemDaemon]:
    """A private libvirtd as root for this session: connect with libvirt.open(libvirt_daemon.uri)."""
    _needs_root()
    daemon = lab.start_system_daemon(tmp_path_factory.mktemp("libvirtd") / "root")
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def unprivileged_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.SystemDaemon]:
    """A second private libvirtd whose QEMU runs as Debian's `libvirt-qemu`, as a real qemu:///system's."""
    _needs_root()
    daemon = lab.start_system_daemon(
        tmp_path_factory.mktemp("libvirtd-unprivileged") / "root", qemu_user="libvirt-qemu"
    )
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def ssh_hosts(guest_image: lab.GuestImage) -> Iterator[tuple[RemoteHost, RemoteHost]]:
    """Two hosts, each a local user with its own qemu:///session libvirtd and its own sshd on 127.0.0.1:
    connect with libvirt.open(host.uri) (qemu+ssh://…)."""
    _needs_root()
    with remote_hosts(2) as hosts:
        yield hosts[0], hosts[1]


@pytest.fixture
def hosts(
    ssh_hosts: tuple[RemoteHost, RemoteHost], zhome: Path
) -> Iterator[list[tuple[RemoteHost, libvirt.virConnect]]]:
    """Both ssh_hosts, each with a pool `images` in its home (made through the API), cleaned after the test."""
    zhome.mkdir(mode=0o700, parents=True, exist_ok=True)
    (zhome / "config.toml").write_text('[libvirt]\ndomain_type = "qemu"\nstop_timeout = 2\n')
    opened = []
    for host in ssh_hosts:
        conn = libvirt.open(host.uri)
        path = host.home / "pool-images"
        conn.storagePoolCreateXML(
            f"<pool type='dir'><name>{services.POOL}</name><target><path>{path}</path></target></pool>",
            libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD,
        )
        opened.append((host, conn))
    try:
        yield opened
    finally:
        for host, first in opened:
            with contextlib.suppress(libvirt.libvirtError):
                first.close()
            # A new connection: the test may have killed the daemon (and started it again), and the hosts
            # are the session's: the next test makes its pool `images` anew.
            with contextlib.suppress(libvirt.libvirtError):
                conn = libvirt.open(host.uri)
                services.clean_daemon(conn)
                pool = conn.storagePoolLookupByName(services.POOL)
                for vol in pool.listAllVolumes(0):
                    vol.delete(0)
                pool.destroy()
                host.as_user("rmdir", str(host.home / "pool-images"))
                conn.close()


@pytest.fixture(scope="session")
def lab_timings() -> dict[str, list[float]]:
    """Seconds measured by the tests, by what was measured; shown at the end of the run (never asserted)."""
    return _timings


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _timings:
        return
    terminalreporter.section("libvirt lab timings (seconds)")
    for what, values in _timings.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        terminalreporter.write_line(f"{what}: {shown}")
