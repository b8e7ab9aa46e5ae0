"""The web server's one window on 0xl: every read of a host's services goes through here.

This is the only module of zeroxl.web that imports the rest of 0xl (its read path `views`, the history,
the cached feeds, the backends' log files, paths and the CLI's formats). Everything else in zeroxl.web
depends on this module alone, so that when 0xl's modules move, only the imports here change.

Everything here is blocking file and /proc IO: the server calls it from a worker thread. Nothing here
writes anything: the web server is read-only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from zeroxl.app import views
from zeroxl.app.cpurate import CpuRates
from zeroxl.backends import get_backend
from zeroxl.backends.base import BackendContext
from zeroxl.errors import NotFoundError, StateError, UsageError
from zeroxl.feeds.cache import FeedCache
from zeroxl.feeds.parse import parse_feed
from zeroxl.feeds.signature import split_signed
from zeroxl.feeds.trust import signature_warning
from zeroxl.host import logstamp
from zeroxl.host.config import load
from zeroxl.host.names import check_service_name as check_name
from zeroxl.host.paths import Home, home_dir
from zeroxl.host.units import compact_duration as duration
from zeroxl.host.units import human_size
from zeroxl.safetext import LogText
from zeroxl.safetext import line as one_line
from zeroxl.state.history import History
from zeroxl.state.service import Records

__all__ = ["CpuRates", "NoSuchService", "Source", "duration", "human_size", "one_line"]

T = TypeVar("T")


class NoSuchService(Exception):
    """No service of that name (or a name no service can have): the server answers 404."""


@dataclass(frozen=True)
class FeedInfo:
    """What a publisher says about its feed (their words: shown escaped, never trusted)."""

    name: str
    summary: str


class _ByFile:
    """Values made from files, made again only once a file changed (another inode, size or time of
    change: 0xl replaces its files whole). A scrape of 100 services would otherwise decode 100 cached
    feeds and 100 histories that rarely change."""

    def __init__(self) -> None:
        self._made: dict[str, tuple[tuple[int, int, int] | None, Any]] = {}

    def get(self, path: str, make: Callable[[], T]) -> T:
        try:
            st = os.stat(path)  # noqa: PTH116
            key: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        made = self._made.get(path)
        if made is not None and made[0] == key:
            return made[1]  # type: ignore[no-any-return]
        value = make()
        self._made[path] = (key, value)
        return value


@dataclass(frozen=True)
class _Copy:
    """What the page and /metrics use of the copy of a feed 0xl verified last."""

    signed: int | None
    expires: int | None
    info: FeedInfo | None
    problem: str | None = None  # the copy is damaged


class Source:
    """The services of one ZEROXL_HOME, as `0xl list`, `status`, `history` and `logs` show them."""

    def __init__(self, home: str | None = None) -> None:
        self.home = home if home is not None else home_dir()
        self._files = _ByFile()
        self._feed_files: dict[str, str] = {}  # feed URL -> its cached copy's file
        home_paths = Home(Path(self.home))
        self._feed_cache = FeedCache(home_paths.feeds)
        self._config = home_paths.config_file

    # -- the shapes of --json ------------------------------------------------------------------------------

    def list_json(self) -> list[dict[str, Any]]:
        """What `0xl list --json` prints."""
        return views.list_services(self.home)

    def status_json(self, name: str) -> dict[str, Any]:
        """What `0xl status NAME --json` prints."""
        try:
            return views.status(self.home, name)
        except (NotFoundError, UsageError) as e:  # UsageError: not a service name at all
            raise NoSuchService(name) from e

    def history_json(self, name: str) -> list[dict[str, Any]]:
        """What `0xl history NAME --json` prints."""
        try:
            check_name(name)
        except UsageError as e:
            raise NoSuchService(name) from e
        service_dir = f"{self.home}/services/{name}"
        if not os.path.isfile(f"{service_dir}/service.json"):  # noqa: PTH113
            raise NoSuchService(name)

        def read() -> list[dict[str, Any]]:
            try:
                return [views.entry_json(e) for e in History(Path(service_dir)).entries()]
            except StateError:
                return []  # a damaged history: the page shows the service without it (0xl doctor says more)

        return self._files.get(f"{service_dir}/history.json", read)

    # -- what the page and /metrics show besides ------------------------------------------------------------

    def overview(self) -> list[dict[str, Any]]:
        """Every service as `list --json` shows it, with `feed_signature` (as in `status --json`),
        `last_update` (the newest history entry of an update, or None) and `feed_info`."""
        rows, at = [], time.time()
        for view in self.list_json():
            feed = view.get("feed")
            view["feed_signature"] = self._signature(feed, at) if feed is not None else None
            view["last_update"] = self._last_update(view["name"]) if feed is not None else None
            view["feed_info"] = self.feed_info(feed) if feed is not None else None
            rows.append(view)
        return rows

    def service_page(self, name: str, log_lines: int) -> dict[str, Any]:
        """One service: its status, its history, the end of its log and what its feed says."""
        status = self.status_json(name)
        history = self.history_json(name)
        return {
            "status": status,
            "history": history,
            "log": self.log_tail(name, log_lines) if status.get("backend") else "",
            "feed_info": self.feed_info(status["feed"]) if status.get("feed") else None,
        }

    def log_tail(self, name: str, lines: int) -> str:
        """The last LINES lines of the service's output, as `0xl logs -n LINES` shows them: control
        characters escaped (the page escapes HTML on top)."""
        home = Home(Path(self.home))
        try:
            svc = Records(home.services).load(name)
            backend = get_backend(svc.backend, BackendContext(home, load(home.config_file)))
            data, _, _ = views.log_tail(backend.log_path(svc), lines)
            data = logstamp.strip(data)
        except NotFoundError as e:
            raise NoSuchService(name) from e
        except (StateError, UsageError, OSError) as e:
            return f"(the log cannot be read: {e})"
        return LogText().feed(data, final=True)

    def feed_info(self, url: str) -> FeedInfo | None:
        """The name and summary in the copy of URL's feed 0xl verified last (None without one)."""
        return self._copy(url).info

    def _copy(self, url: str) -> _Copy:
        cache = self._feed_cache
        path = self._feed_files.get(url)
        if path is None:
            path = self._feed_files[url] = str(cache.path(url))

        def read() -> _Copy:
            try:
                cached = cache.load(url)
            except StateError as e:
                return _Copy(None, None, None, problem=e.message)
            if cached is None:
                return _Copy(None, None, None)
            return _Copy(cached.signed, cached.expires, _parse_info(cached.data, url))

        return self._files.get(path, read)

    def _signature(self, url: str, at: float) -> dict[str, Any] | None:
        """views.feed_signature (what `status --json` shows), from the copy read once per change."""
        copy = self._copy(url)
        if copy.problem is not None:
            return {"signed": None, "expires": None, "age": None, "warning": copy.problem}
        if copy.signed is None:
            return None
        signed = {"signed": copy.signed, "expires": copy.expires, "age": round(at - copy.signed)}
        config = self._config
        try:
            limits = self._files.get(str(config), lambda: load(config).signatures)
        except UsageError as e:  # a config.toml that cannot be read: said where the warning goes
            return {**signed, "warning": e.message}
        return {**signed, "warning": signature_warning(copy.signed, copy.expires, now=at, limits=limits)}

    def _last_update(self, name: str) -> dict[str, Any] | None:
        try:
            history = self.history_json(name)
        except NoSuchService:
            return None
        return next((e for e in reversed(history) if e["action"] == "update"), None)


def _parse_info(data: bytes, url: str) -> FeedInfo | None:

    try:
        feed = parse_feed(split_signed(data)[0], url=url, check_uri=False)
    except Exception:  # a copy 0xl verified: if it no longer parses, show no name
        return None
    return FeedInfo(name=feed.name, summary=feed.summary)


def now() -> float:
    return time.time()
