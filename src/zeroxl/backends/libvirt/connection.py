"""The one window on libvirt-python: imported on first use, each call's libvirtError turned into 0xl's own.

libvirt-python ships no type information (pyproject makes mypy read it as Any), so what it returns is
read here and in the backend's modules into typed values at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from zeroxl.errors import BackendError

T = TypeVar("T")

INSTALL_HINT = (
    "install libvirt-python: pip install '0xl[libvirt]' (it builds against Debian's libvirt-dev, pkg-config "
    "and gcc: scripts/system-deps installs them)"
)

_loaded: dict[str, Any] = {}


def module() -> Any:
    """libvirt-python, imported once; BackendError saying what to install if it is missing."""
    if "libvirt" not in _loaded:
        try:
            import libvirt
        except ImportError:
            raise BackendError(
                "the libvirt backend needs libvirt-python, which is not installed", hint=INSTALL_HINT
            ) from None
        # libvirt prints every error to stderr by default, before the caller can handle it: 0xl says once
        # what went wrong, in its own words.
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        _loaded["libvirt"] = libvirt
    return _loaded["libvirt"]


def is_error(e: BaseException) -> bool:
    return "libvirt" in _loaded and isinstance(e, _loaded["libvirt"].libvirtError)


def error_code(e: BaseException) -> int | None:
    return int(e.get_error_code()) if is_error(e) else None  # type: ignore[attr-defined]


def message(e: BaseException) -> str:
    """What libvirt said, on one line."""
    text = str(e.get_error_message() if is_error(e) else e) or type(e).__name__  # type: ignore[attr-defined]
    return " ".join(text.split())


@contextlib.contextmanager
def connect(uri: str) -> Iterator[Any]:
    """An open connection to URI, closed afterwards."""
    lv = module()
    try:
        conn = lv.open(uri)
    except lv.libvirtError as e:
        raise BackendError(
            f"cannot connect to libvirt at {uri}: {message(e)}",
            hint="is libvirtd running? [libvirt] uri in config.toml says where it is (docs/libvirt.md)",
        ) from None
    try:
        yield conn
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def call(what: str, fn: Callable[..., T], *args: Any, hint: str | None = None) -> T:
    """FN(*ARGS); a libvirtError becomes a BackendError saying WHAT failed and libvirt's reason."""
    try:
        return fn(*args)
    except Exception as e:
        if is_error(e):
            raise BackendError(f"{what}: {message(e)}", hint=hint) from None
        raise


def lookup(fn: Callable[[str], T], name: str) -> T | None:
    """FN(NAME) (a lookupByName), or None if libvirt has nothing of that name."""
    lv = module()
    try:
        return fn(name)
    except lv.libvirtError as e:
        if e.get_error_code() in (lv.VIR_ERR_NO_DOMAIN, lv.VIR_ERR_NO_STORAGE_POOL, lv.VIR_ERR_NO_STORAGE_VOL,
                                  lv.VIR_ERR_NO_NETWORK):  # fmt: skip
            return None
        raise BackendError(f"cannot look up {name} in libvirt: {message(e)}") from None
