"""Fixtures shared by the whole suite: an isolated ZEROXL_HOME, a publisher key, a loopback server."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite
from tests.support.gpgkeys import Publisher, make_publisher
from tests.support.http import StaticServer
from tests.support.zx import (
    Result,
    open_to_services,
    remove_stale_users,
    remove_users,
    stop_everything,
    zx_inprocess,
    zx_process,
)


def pytest_configure(config: pytest.Config) -> None:
    """Under root, this session's temporary directories go into a directory of its own under /tmp rather
    than /tmp/pytest-of-root, which every pytest session run as root shares and makes root's alone when it
    starts: the unix services' own users must be able to enter the directories above their home (zhome)."""
    if os.geteuid() == 0 and config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="0xl-pytest-")
        config.stash[_OWN_BASETEMP] = config.option.basetemp
    if os.geteuid() == 0 and not hasattr(config, "workerinput"):
        remove_stale_users()


def pytest_unconfigure(config: pytest.Config) -> None:
    own = config.stash.get(_OWN_BASETEMP, None)
    if own is not None:
        shutil.rmtree(own, ignore_errors=True)


_OWN_BASETEMP = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def _no_service_users_left(tmp_path: Path) -> Iterator[None]:
    """Under root, the users 0xl made for a test's services go with the test, whichever of its homes it
    used (the zx fixtures remove those of zhome; a test may run 0xl on others below its tmp_path): a user
    left for `web` of one home makes 0xl refuse, rightly, to lend it to `web` of the next test's home.
    Only this test's homes: another pytest session on the machine may be using its own users."""
    yield
    if os.geteuid() == 0:
        for services in tmp_path.rglob("services"):  # ZEROXL_HOME/services: one home each
            remove_users(services.parent)


@pytest.fixture(autouse=True)
def _no_proxy_from_the_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """0xl honours proxies from the environment; the suite's servers are on 127.0.0.1, reached directly
    unless a test sets a proxy itself (tests/integration/test_proxy.py)."""
    for name in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def zhome(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ZEROXL_HOME for this test, set in the environment for in-process and child 0xl.

    Under root, the unix services run as users of their own (zeroxl.host.users) that run their program
    from the store in the home: the directories above it let others in (search permission only), as
    /var/lib does above /var/lib/0xl, where pytest makes them root's alone."""
    home = tmp_path / "zhome"
    open_to_services(home)
    monkeypatch.setenv("ZEROXL_HOME", str(home))
    return home


def _stop_agent(pub: Publisher) -> None:
    subprocess.run(["gpgconf", "--homedir", str(pub.gnupghome), "--kill", "gpg-agent"], check=False)


@pytest.fixture(scope="session")
def publisher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Publisher]:
    """A publisher's signing key, made once per test session (key generation is the slow part)."""
    pub = make_publisher(tmp_path_factory.mktemp("publisher") / "gnupg")
    yield pub
    _stop_agent(pub)


@pytest.fixture(scope="session")
def other_publisher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Publisher]:
    pub = make_publisher(tmp_path_factory.mktemp("other") / "gnupg", "Other Publisher", "other@example.org")
    yield pub
    _stop_agent(pub)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[StaticServer]:
    """An HTTP server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    srv = StaticServer(root)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def site(server: StaticServer, publisher: Publisher) -> FeedSite:
    """A feed site served on 127.0.0.1, signed by the session's publisher."""
    return FeedSite(server.root, server.url, publisher)


@pytest.fixture
def zx(zhome: Path) -> Iterator[Callable[..., Result]]:
    """Run `0xl` as a separate process against this test's ZEROXL_HOME; kills what it left running."""

    def run(*args: str, input: str | None = None, timeout: float = 60) -> Result:
        return zx_process(*args, home=zhome, input=input, timeout=timeout)

    try:
        yield run
    finally:
        stop_everything(zhome)


@pytest.fixture
def zxi(zhome: Path) -> Iterator[Callable[..., Result]]:
    """Run `0xl` in this process through main(): the fast way to test refusals."""

    def run(*args: str) -> Result:
        return zx_inprocess(*args, home=zhome)

    try:
        yield run
    finally:
        stop_everything(zhome)
