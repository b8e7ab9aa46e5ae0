"""What the use cases work with: one ZEROXL_HOME, its configuration, and the tools that reach feeds, the
store, backends and disks, each made on first use.

A Context composes and does nothing else: the locks are app.session's, the recovery of a change of version
app.journal's, and the use cases are functions of a Context. Tools are imported when first used: a
`0xl stop` must not load the HTTP client, gpg or the archive readers.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

from zeroxl.backends import get_backend
from zeroxl.backends.base import Backend, BackendContext
from zeroxl.disks import all_providers, provider
from zeroxl.disks.base import DiskProvider
from zeroxl.host import config as host_config
from zeroxl.host.paths import Home, HostHome
from zeroxl.state.service import Records

if TYPE_CHECKING:
    from zeroxl.feeds.fetch import Fetcher
    from zeroxl.feeds.load import ConfirmFn, FeedLoader
    from zeroxl.feeds.store import Store

ProgressFactory = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


@dataclass
class Ui:
    """How the core talks to the person at the terminal, if there is one."""

    confirm_key: ConfirmFn | None = None
    progress: ProgressFactory | None = None
    info: Callable[[str], None] = field(default=lambda _msg: None)


class Context:
    """One ZEROXL_HOME and what works on it; use it as a context manager to close what it opened."""

    def __init__(
        self, home: Home, ui: Ui | None = None, *, libvirt_uri: str | None = None, pool: str | None = None
    ) -> None:
        self.home = home
        self.ui = ui or Ui()
        # A host other than local (state.hosts): its libvirt URI and pool replace [libvirt]'s.
        self.libvirt_uri, self.pool = libvirt_uri, pool
        self.records = Records(home.services)

    def __enter__(self) -> Context:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    @property
    def host(self) -> str:
        """The name of the host this Context works on (state.hosts): `local`, or that of a HostHome."""
        return self.home.root.name if isinstance(self.home, HostHome) else "local"

    @cached_property
    def config(self) -> host_config.Config:
        import dataclasses

        config = host_config.load(self.home.config_file)
        if config.host_policies:
            from zeroxl.state.hosts import check_policy_hosts

            main = self.home.main if isinstance(self.home, HostHome) else self.home.root
            check_policy_hosts(main, config.host_policies)
            # Every check of this host's services (memory, bridges, disks) sees this host's policy.
            config = dataclasses.replace(config, policy=config.policy_of(self.host))
        if self.libvirt_uri is None:
            return config

        libvirt = dataclasses.replace(config.libvirt, configured=True, uri=self.libvirt_uri, pool=self.pool)
        return dataclasses.replace(config, libvirt=libvirt)

    @cached_property
    def fetcher(self) -> Fetcher:
        import os

        from zeroxl.feeds.fetch import Fetcher
        from zeroxl.host import proxies

        cfg = self.config
        chosen = (
            proxies.from_environment(os.environ) if cfg.proxy is None else proxies.from_config(cfg.proxy, cfg.no_proxy)
        )
        return Fetcher(mirrors=cfg.mirrors, proxies=chosen)

    @cached_property
    def loader(self) -> FeedLoader:
        from zeroxl.feeds.load import FeedLoader

        return FeedLoader(self.home, self.config, self.fetcher)

    @cached_property
    def store(self) -> Store:
        from zeroxl.feeds.extract import ExtractLimits
        from zeroxl.feeds.store import Store

        cfg, default = self.config, ExtractLimits()
        limits = ExtractLimits(
            max_bytes=cfg.max_unpacked_size or default.max_bytes, max_ratio=cfg.max_unpack_ratio or default.max_ratio
        )
        return Store(self.home.store, self.home.tmp, limits=limits)

    def backend(self, name: str) -> Backend:
        """The backend NAME (UsageError if 0xl has none of that name)."""
        return get_backend(name, BackendContext(self.home, self.config))

    def disks(self, backend: str | None = None) -> DiskProvider:
        """Where new disks are made: storage volumes for the libvirt BACKEND, else the volume group
        configured, else files."""
        if backend == "libvirt":
            from zeroxl.app.volumes import libvirt_volumes

            return libvirt_volumes(self.home, self.config)
        return provider(self.home, self.config)

    def disk_providers(self) -> list[DiskProvider]:
        """Everywhere disks 0xl made may be (kept ones too): files always, the volume group if configured, and
        libvirt's storage volumes if [libvirt] is, or if 0xl has made any (their notes are in ZEROXL_HOME)."""
        providers = all_providers(self.home, self.config)
        if self.config.libvirt.configured or (self.home.root / "libvirt" / "volumes").is_dir():
            from zeroxl.app.volumes import libvirt_volumes

            providers.append(libvirt_volumes(self.home, self.config))
        return providers

    def close(self) -> None:
        if "fetcher" in self.__dict__:
            self.fetcher.close()
