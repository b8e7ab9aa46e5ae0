"""The backends: how a service runs. Each is a package (unix/, xen/, libvirt/) behind the one Protocol in base.py,
which imports none of them; this module is where a backend is chosen and made, by name.

Nothing is imported here before it is asked for: `0xl list` loads this package (for backends.unix.runtime)
and must not pay for backends it does not use.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `0xl list` time
if TYPE_CHECKING:
    from collections.abc import Iterable

    from zeroxl.backends.base import Backend, BackendContext

NAMES = ("unix", "xen", "libvirt")


def get_backend(name: str, ctx: BackendContext) -> Backend:
    """The backend NAME, working on CTX's home and configuration; UsageError for a name 0xl does not know."""
    if name == "unix":
        from zeroxl.backends.unix.backend import UnixBackend

        return UnixBackend(ctx)
    if name == "xen":
        from zeroxl.backends.xen.backend import XenBackend

        return XenBackend(ctx)
    if name == "libvirt":
        from zeroxl.backends.libvirt.backend import LibvirtBackend

        return LibvirtBackend(ctx)
    from zeroxl.errors import UsageError

    raise UsageError(f"unknown backend {name!r}", hint=f"choose one of: {', '.join(NAMES)}")


def default_backend(oses: Iterable[str | None]) -> str:
    """The backend for a feed whose implementations are built for OSES, when the operator names none:
    xen on a Xen dom0 for a feed with a Xen build, libvirt for a feed with only Virtio builds, unix otherwise."""
    from zeroxl.backends.xen.dom0 import xen_available

    found = set(oses)
    if xen_available() and "Xen" in found:
        return "xen"
    if found == {"Virtio"}:
        return "libvirt"
    return "unix"


def target_for(backend: str, libvirt_uri: str = "") -> str:
    """The implementation target (OS-CPU) a backend runs on this host; libvirt's is Xen at a Xen URI."""
    from zeroxl.feeds.selection import host_cpu
    from zeroxl.host.config import is_xen_uri

    if backend == "libvirt" and is_xen_uri(libvirt_uri):
        return f"Xen-{host_cpu()}"
    os_name = {"xen": "Xen", "libvirt": "Virtio"}.get(backend, "Linux")
    return f"{os_name}-{host_cpu()}"
