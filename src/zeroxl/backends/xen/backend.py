"""The xen backend: a service's implementation (a unikernel's Xen build) as an xl domain named after it.

0xl writes the domain's xl.cfg itself (backends.xen.domain and cfgfile) at every start, to
ZEROXL_HOME/services/NAME/xen/xl.cfg, and drives `xl` as a subprocess through zeroxl.proc:
- start: `xl create`; if it fails, whatever of the domain exists is destroyed and the config it was
  to use is removed, so that a failed start leaves nothing behind;
- stop: `xl shutdown -w` within a grace period, then `xl destroy`; done only once `xl domid` fails;
- status: `xl list -v` (state, memory, CPU time) and the start time libxl keeps in xenstore;
- logs: the domain's console as xenconsoled writes it, /var/log/xen/console/guest-NAME.log.
See docs/xen.md.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from zeroxl import proc
from zeroxl.backends import usage
from zeroxl.backends.base import BackendContext, RuntimeStatus
from zeroxl.backends.states import FAILED, RUNNING, STOPPED
from zeroxl.backends.vmguest import boot_files, other_services
from zeroxl.backends.xen import cfgfile, xl
from zeroxl.backends.xen.dom0 import xen_available
from zeroxl.backends.xen.domain import domain_config
from zeroxl.errors import NET, BackendError, NotFoundError
from zeroxl.state import atomic
from zeroxl.state.service import Service

log = logging.getLogger("zeroxl.xen")

CONSOLE_LOG_DIR = Path("/var/log/xen/console")  # xenconsoled --log=guest --log-dir=…, as Debian sets it up
STOP_TIMEOUT = 30.0  # seconds a guest gets to shut down before it is destroyed
GONE_TIMEOUT = 30.0  # seconds xl may take to remove a domain after shutdown or destroy
CREATE_TIMEOUT = 300.0  # `xl create` waits for the device hotplug scripts, which are slow under emulation
XL_TIMEOUT = 60.0


class XenBackend:
    name = "xen"
    has_vm_config = True

    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx

    # -- paths --------------------------------------------------------------------------------------

    def _dir(self, svc: Service) -> Path:
        return self.ctx.home.service_dir(svc.name) / "xen"

    def config_path(self, svc: Service) -> Path:
        """The xl.cfg the domain was last created from."""
        return self._dir(svc) / "xl.cfg"

    def log_path(self, svc: Service) -> Path:
        return CONSOLE_LOG_DIR / f"guest-{svc.name}.log"

    # -- the domain's config ------------------------------------------------------------------------

    def _files(self, svc: Service, impl_dir: Path) -> tuple[str, str | None]:
        return boot_files(svc, impl_dir, suffix="xen", ramdisk="ramdisk")

    def _others(self, svc: Service) -> list[Service]:
        return other_services(self.ctx.home.services, svc, self.name)

    def vm_config(self, svc: Service, impl_dir: Path) -> str:
        """The xl.cfg that starting SVC from IMPL_DIR would write, after every check."""
        kernel, ramdisk = self._files(svc, impl_dir)
        policy, others = self.ctx.config.policy, self._others(svc)
        return cfgfile.render(domain_config(svc, kernel=kernel, ramdisk=ramdisk, policy=policy, others=others))

    def check(self, svc: Service, impl_dir: Path) -> None:
        self.vm_config(svc, impl_dir)
        for bridge in svc.networks:
            if not Path("/sys/class/net", bridge, "bridge").is_dir():
                raise NotFoundError(
                    f"there is no bridge {bridge} on this host", hint=["create it first, or give another ", NET]
                )

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self, svc: Service, impl_dir: Path) -> None:
        text = self.vm_config(svc, impl_dir)
        if shutil.which(xl.XL) is None:
            raise BackendError(
                f"{svc.name} cannot start: xl is not installed", hint="run Xen services on a Xen dom0 (xen-utils)"
            )
        current = self._domain(svc)
        if current is not None:
            if _state(current)[0] == RUNNING:
                return
            # A crashed domain kept for inspection (`--restart no`), or one on its way out: make room.
            self._destroy(svc)
        cfg = self._dir(svc) / "xl.cfg.new"
        atomic.write_text(cfg, text, mode=0o600)
        try:
            proc.run(xl.argv("create", config=str(cfg)), timeout=CREATE_TIMEOUT)
        except BaseException as e:
            # Undo: no half-built domain and no config of a domain that never ran (Ctrl-C included).
            with contextlib.suppress(Exception):
                self._destroy(svc)
            cfg.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # made by this start, if nothing else is in it
                cfg.parent.rmdir()
            if isinstance(e, proc.CommandFailed):
                raise BackendError(
                    f"{svc.name} did not start: {self._diagnose(svc)}xl create failed: {_xl_error(e)}",
                    hint=f"see /var/log/xen/xl-{svc.name}.log and xen-hotplug.log; 0xl --debug shows all xl said",
                ) from e
            raise
        cfg.replace(self.config_path(svc))

    def _diagnose(self, svc: Service) -> str:
        """A likely cause of a failed `xl create` that xl's own message hides in a hotplug script's log."""
        missing = [b for b in svc.networks if not Path("/sys/class/net", b, "bridge").is_dir()]
        return f"there is no bridge {', '.join(missing)} on this host; " if missing else ""

    def stop(self, svc: Service, *, timeout: float | None = None) -> None:
        grace = STOP_TIMEOUT if timeout is None else timeout
        current = self._domain(svc)
        if current is None:
            return
        if not current.flags & {"c", "d"} and grace > 0:
            try:
                proc.run(xl.argv("shutdown", "-w", domain=svc.name), timeout=grace)
            except proc.CommandFailed as e:
                log.debug("%s did not shut down cleanly (%s); destroying it", svc.name, e.message)
            if self._wait_gone(svc, 5.0):
                return
        self._destroy(svc)

    def _destroy(self, svc: Service) -> None:
        """`xl destroy`, then wait until xl no longer knows the domain."""
        proc.run(xl.argv("destroy", domain=svc.name), timeout=XL_TIMEOUT, check=False)
        if not self._wait_gone(svc, GONE_TIMEOUT):
            raise BackendError(
                f"the domain {svc.name} is still there {GONE_TIMEOUT:g} s after xl destroy",
                hint="see xl list and xl dmesg",
            )

    def _wait_gone(self, svc: Service, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            # `xl shutdown -w` and `xl destroy` may return while the domain is still listed: only a
            # failing `xl domid` says it is gone, and its name free for the next `xl create`.
            if not proc.run(xl.argv("domid", domain=svc.name), timeout=XL_TIMEOUT, check=False).ok:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    # -- reading ------------------------------------------------------------------------------------

    def _domain(self, svc: Service) -> xl.DomainInfo | None:
        if not xen_available():
            return None  # not a running dom0 (or no xl): no domain of it can exist
        try:
            done = proc.run(xl.argv("list", "-v"), timeout=XL_TIMEOUT)
        except proc.CommandFailed as e:
            raise BackendError(f"cannot ask xl for the domains: {e.message}", hint="is this a Xen dom0?") from e
        return xl.parse_list(done.stdout.decode("utf-8", "replace")).get(svc.name)

    def _start_time(self, info: xl.DomainInfo) -> float | None:
        """When libxl built the domain; None if xenstore does not say (the uptime is then unknown)."""
        try:
            done = proc.run(xl.start_time_argv(info.uuid), timeout=XL_TIMEOUT, check=False)
            return float(done.stdout.decode().strip()) if done.ok else None
        except (proc.CommandFailed, ValueError):
            return None

    def status(self, svc: Service) -> RuntimeStatus:
        info = self._domain(svc)
        if info is None:
            detail = ""
            if svc.desired == "running":
                detail = (
                    "its domain is gone: it powered off, or was destroyed outside 0xl"
                    if xen_available()
                    else "this host is not running Xen"
                )
            return RuntimeStatus(state=STOPPED, detail=detail)
        state, detail = _state(info)
        return RuntimeStatus(
            state=state,
            started=self._start_time(info) if state == RUNNING else None,
            detail=detail,
            extra={
                "domid": info.domid,
                "memory_mib": info.memory,
                "vcpus": info.vcpus,
                "cpu_seconds": info.cpu_seconds,
                "xen_state": info.state,
            },
            resources=self._resources(info) if state == RUNNING else None,
        )

    @staticmethod
    def _resources(info: xl.DomainInfo) -> dict[str, Any]:
        # What `xl list` says, as xentop shows it: CPU time of all vcpus, the memory given, and the bytes
        # of its networks.
        res: dict[str, Any] = {"cpu_seconds": info.cpu_seconds, "memory_bytes": info.memory << 20, "vcpus": info.vcpus}
        res.update(usage.vif_bytes(info.domid) or {})
        return res

    def check_state(self, svc: Service) -> None:
        pass  # xl keeps what a domain is doing; 0xl keeps no state of its own about it

    def cleanup(self, svc: Service) -> None:
        shutil.rmtree(self._dir(svc), ignore_errors=True)
        # The console log is named after the domain: a new service of the same name starts a new one.
        with contextlib.suppress(OSError):
            self.log_path(svc).unlink()


def _xl_error(e: proc.CommandFailed) -> str:
    """The first error xl printed: the cause, where its last lines are about cleaning up after it."""
    lines = e.completed.stderr_text().splitlines() if e.completed else []
    return next((line for line in lines if "error" in line), lines[-1] if lines else e.message)


def _state(info: xl.DomainInfo) -> tuple[str, str]:
    flags = info.flags
    if "c" in flags:
        return FAILED, "the domain crashed (kept for inspection: 0xl stop destroys it)"
    if "d" in flags:
        return STOPPED, "the domain is dying"
    if "s" in flags:
        return STOPPED, "the domain is shutting down"
    if "p" in flags:
        return RUNNING, "paused"
    return RUNNING, ""
