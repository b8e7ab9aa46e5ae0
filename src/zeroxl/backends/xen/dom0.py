"""Whether this host is a Xen dom0 that 0xl can run domains on."""

from __future__ import annotations

import shutil
from pathlib import Path


def xen_available() -> bool:
    """True on a Xen dom0 with `xl` installed: the hypervisor's control domain flag is set."""
    try:
        caps = Path("/proc/xen/capabilities").read_text()
    except OSError:
        return False
    return "control_d" in caps and shutil.which("xl") is not None
