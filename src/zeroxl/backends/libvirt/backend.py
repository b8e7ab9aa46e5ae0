"""The libvirt backend: a service's kernel as a libvirt domain named after it (docs/libvirt.md).

0xl writes the domain XML itself (domain.py, domainxml.py) and drives libvirt through its Python API
(connection.py), at `[libvirt] uri` (qemu:///system by default):
- add defines the domain (`virsh list --all` shows it), validated by libvirt (VIR_DOMAIN_DEFINE_VALIDATE);
- start defines it again from the version to run (same UUID), then creates it; if that fails, whatever
  runs of it is destroyed;
- stop: shutdown (the ACPI power button), wait up to `[libvirt] stop_timeout`, then destroy: a virtio
  unikernel has no ACPI power-off, so it is destroyed after the timeout (at once if it has exited);
- status: the domain's state, memory and CPU time from libvirt, and the console: a Solo5 unikernel that
  exits halts its CPU, and libvirt still says "running"; only `Solo5: solo5_exit(N) called` tells;
- logs: the first serial port, which libvirt appends to ZEROXL_HOME/services/NAME/libvirt/console.log;
- destroy undefines the domain. A domain of the same name that 0xl did not define (no 0xl metadata
  naming the service) is never changed: add, start, stop and destroy refuse it. Nor is one that another
  operator's machine owns (its metadata's owner, docs/fleet.md "Reconciling with the hosts"): status shows
  it, start, stop and destroy refuse it (ConflictError) until `0xl host adopt` takes it over.

At a Xen URI (`xen:///system`: libvirt's Xen driver, libxl) a service is a `Xen-x86_64` kernel run as a
PVH guest: its disks at the Xen disks the feed declares, given to libxl by path, and its console the PV
one that xenconsoled logs, as for the xen backend.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from zeroxl.backends.base import BackendContext, RuntimeStatus
from zeroxl.backends.libvirt import bootfiles, connection
from zeroxl.backends.libvirt.domain import domain_spec, metadata_of
from zeroxl.backends.libvirt.domainxml import XEN, DiskSpec, DomainSpec, interface_devices, read_metadata, render
from zeroxl.backends.libvirt.metadata import METADATA_NS, METADATA_PREFIX, element_xml
from zeroxl.backends.libvirt.volumes import Volumes
from zeroxl.backends.states import FAILED, MISSING, RUNNING, STOPPED
from zeroxl.backends.vmguest import boot_files, other_services
from zeroxl.errors import BackendError, ConflictError, NotFoundError
from zeroxl.host.config import is_xen_uri
from zeroxl.host.paths import HostHome
from zeroxl.host.policy import LIBVIRT_NETWORK
from zeroxl.state import atomic, hostid
from zeroxl.state.service import Service

CONSOLE = "console.log"
XEN_CONSOLE_LOG_DIR = Path("/var/log/xen/console")  # xenconsoled --log=guest --log-dir=…, as for xl
RUN_NOTE = "run.json"  # where this run's console starts, and when it was started
GONE_POLL = 0.2
# What Solo5's virtio platform_exit prints before it halts the CPU (solo5 bindings/virtio).
_SOLO5_EXIT = re.compile(rb"Solo5: solo5_exit\((-?\d+)\) called")
_CONSOLE_TAIL = 1 << 20  # bytes of this run's console read for the exit line, from its end

# libvirt's virDomainState values.
_NOSTATE, _RUNNING, _BLOCKED, _PAUSED, _SHUTDOWN, _SHUTOFF, _CRASHED, _PMSUSPENDED = range(8)
_STATE_NAMES = ("no state", "running", "blocked", "paused", "shutting down", "shut off", "crashed", "suspended")


class LibvirtBackend:
    name = "libvirt"
    has_vm_config = True

    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx
        self.settings = ctx.config.libvirt
        self.xen = is_xen_uri(self.settings.uri)

    # -- paths --------------------------------------------------------------------------------------

    def _dir(self, svc: Service) -> Path:
        return self.ctx.home.service_dir(svc.name) / "libvirt"

    def log_path(self, svc: Service) -> Path:
        """The console log; on a host other than local, a copy of it pulled from the host's pool first."""
        if self.xen:  # xenconsoled's log of the PV console, as for the xl backend
            return XEN_CONSOLE_LOG_DIR / f"guest-{svc.name}.log"
        path = self._dir(svc) / CONSOLE
        if self._remote():
            self._pull_console(svc, path)
        return path

    def _remote(self) -> bool:
        """Whether the host is one other than local (docs/fleet.md): it cannot write this machine's files,
        so the console is a file in its pool, read back through a volume download."""
        return isinstance(self.ctx.home, HostHome)

    def _pull_console(self, svc: Service, path: Path) -> None:
        """Brings the copy of the console at PATH up to date; an unreachable host leaves the last copy."""
        with contextlib.suppress(BackendError), connection.connect(self.settings.uri) as conn:
            self._pull_console_with(conn, svc, path)

    def _pull_console_with(self, conn: Any, svc: Service, path: Path) -> None:
        """Brings the copy of the console at PATH up to date through CONN: only the bytes the copy does not
        have yet are downloaded (the console only grows while the service exists: libvirt appends to it);
        a console shorter than the copy (made anew) is read whole."""
        volume = self._console_volume(conn, svc)
        if volume is None:
            return
        try:
            have = path.read_bytes()
        except FileNotFoundError:
            have = b""
        # A volume's info is read from its file each time (libvirt refreshes the volume): its size now.
        size = int(connection.call(f"cannot read the console of {svc.name}", volume.info)[1])
        if size == len(have):
            return
        start = len(have) if size > len(have) else 0
        data = connection.call(
            f"cannot read the console of {svc.name}", bootfiles.read_all, conn, volume, start, size - start
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        if start:
            # Appended in place, not replaced: the copy stays one file (a health check tells a console
            # made anew by its inode), and a kill mid-write leaves a shorter copy, still the host's prefix.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        else:
            atomic.write_bytes(path, data, mode=0o600)

    def _console_volume(self, conn: Any, svc: Service) -> Any:
        """The volume of SVC's console in the host's pool; None if there is none yet."""
        pool = self._volumes().pool(conn, create=False)
        if pool is None:
            return None
        name = console_volume(svc.name)
        volume = connection.lookup(pool.storageVolLookupByName, name)
        if volume is None:  # libvirt made the file since the pool was last read
            connection.call(f"cannot refresh the storage pool {pool.name()}", pool.refresh, 0)
            volume = connection.lookup(pool.storageVolLookupByName, name)
        return volume

    def _host_console_size(self, conn: Any, svc: Service) -> int:
        """The size of SVC's console on the host (0 if there is none yet), asked of the host itself: where
        a run that starts now begins, whatever this machine's copy holds."""
        volume = self._console_volume(conn, svc)
        if volume is None:
            return 0
        # A volume's info is read from its file each time (libvirt refreshes the volume): its size now.
        return int(connection.call(f"cannot read the console of {svc.name}", volume.info)[1])

    def _serial_log(self, conn: Any, svc: Service) -> str:
        if self._remote():
            return str(self._volumes().pool_path(conn) / console_volume(svc.name))
        return str(self._dir(svc) / CONSOLE)

    # -- the domain's XML ---------------------------------------------------------------------------

    def _files(self, svc: Service, impl_dir: Path) -> tuple[str, str | None]:
        return boot_files(svc, impl_dir, suffix="virtio", ramdisk="initrd")

    def _others(self, svc: Service) -> list[Service]:
        return other_services(self.ctx.home.services, svc, self.name)

    def _volumes(self) -> Volumes:
        return Volumes(self.ctx.home.root / "libvirt", self.settings)

    def _boot_files(self, conn: Any, svc: Service, impl_dir: Path, *, upload: bool) -> tuple[str, str | None]:
        """The kernel and initrd as the domain boots them: volumes on the host (bootfiles.py), uploaded and
        checked if UPLOAD, else the paths they will have."""
        kernel, initrd = self._files(svc, impl_dir)
        if self.xen:
            # libxl in dom0 runs as root and reads them where they are, as xl does; the Xen lab tests
            # this form (boot volumes are for an unprivileged QEMU and for remote hosts).
            return kernel, initrd
        volumes = self._volumes()
        if upload:
            pool = volumes.pool(conn, create=True)
            return (
                bootfiles.ensure(conn, pool, Path(kernel), "kernel"),
                bootfiles.ensure(conn, pool, Path(initrd), "initrd") if initrd else None,
            )
        where = volumes.pool_path(conn)

        def planned(path: str) -> str:
            return str(where / bootfiles.volume_name(bootfiles.file_digest(Path(path))[0]))

        return planned(kernel), planned(initrd) if initrd else None

    def _prune_boot_files(self, conn: Any) -> None:
        """Boot volumes no domain boots from any more are removed; failing to is no reason to fail."""
        with contextlib.suppress(BackendError):
            pool = self._volumes().pool(conn, create=False)
            if pool is not None:
                bootfiles.prune(conn, pool)

    def _owner(self, *, make: bool) -> str:
        """This operator machine's id, the owner of the domains it defines; made only if MAKE (a define)."""
        path = self.ctx.home.operator_id
        return hostid.operator_id(path) if make else hostid.known_operator_id(path) or ""

    def _xml(self, conn: Any, svc: Service, impl_dir: Path, uuid: str | None, *, upload: bool = False) -> str:
        kernel, initrd = self._boot_files(conn, svc, impl_dir, upload=upload)
        volumes = self._volumes()
        spec = domain_spec(
            svc,
            domain_type=XEN if self.xen else self.settings.domain_type or default_domain_type(),
            kernel=kernel,
            initrd=initrd,
            serial_log=self._serial_log(conn, svc),
            policy=self.ctx.config.policy,
            others=self._others(svc),
            uuid=uuid,
            owner=self._owner(make=upload),
            keys={d.location: volumes.noted_key(d.location) for d in svc.disks if d.kind == "libvirt"},
        )
        return render(self._xen_paths(conn, spec) if self.xen else spec)

    def _xen_paths(self, conn: Any, spec: DomainSpec) -> DomainSpec:
        """SPEC with each storage volume given by its path: libxl attaches disks by path, as xl does."""
        disks = []
        for disk in spec.disks:
            if disk.kind == "volume":
                pool_name, _, vol_name = disk.source.partition("/")
                pool = connection.lookup(conn.storagePoolLookupByName, pool_name)
                vol = connection.lookup(pool.storageVolLookupByName, vol_name) if pool is not None else None
                if vol is None:
                    raise NotFoundError(
                        f"the disk {disk.source} of {spec.name} is not in libvirt",
                        hint=f"0xl disk list shows {spec.name}'s disks",
                    )
                path = str(connection.call(f"cannot read the path of {disk.source}", vol.path))
                disks.append(DiskSpec(disk.dev, "block" if path.startswith("/dev/") else "file", path))
            else:
                disks.append(disk)
        return replace(spec, disks=tuple(disks))

    def vm_config(self, svc: Service, impl_dir: Path) -> str:
        """The domain XML that starting SVC from IMPL_DIR would define, after every check."""
        with connection.connect(self.settings.uri) as conn:
            dom = self._domain(conn, svc)
            return self._xml(conn, svc, impl_dir, dom.UUIDString() if dom is not None else None)

    def check(self, svc: Service, impl_dir: Path) -> None:
        with connection.connect(self.settings.uri) as conn:
            dom = self._domain(conn, svc)
            self._xml(conn, svc, impl_dir, dom.UUIDString() if dom is not None else None)
            for net in svc.networks:
                if net.startswith(LIBVIRT_NETWORK):
                    name = net.removeprefix(LIBVIRT_NETWORK)
                    if connection.lookup(conn.networkLookupByName, name) is None:
                        raise NotFoundError(
                            f"libvirt has no network {name}", hint="define it (virsh net-define), or give another --net"
                        )

    # -- lifecycle ----------------------------------------------------------------------------------

    def _domain(self, conn: Any, svc: Service, *, change: bool = False) -> Any:
        """The domain of SVC, None if there is none; ConflictError if one of its name is not 0xl's, or, to
        CHANGE it, if another operator's machine owns it (docs/fleet.md, "Reconciling with the hosts")."""
        dom = connection.lookup(conn.lookupByName, svc.name)
        if dom is None:
            return None
        meta = read_metadata(connection.call(f"cannot read the domain {svc.name}", dom.XMLDesc, 0))
        if meta is None or meta.service != svc.name:
            raise ConflictError(
                f"libvirt has a domain {svc.name} that 0xl did not define: 0xl leaves it alone",
                hint=f"rename or undefine it (virsh undefine {svc.name}), or give the service another name",
            )
        if change and self._foreign(meta.owner):
            raise ConflictError(
                f"{svc.name} on {self._host_name()} is owned by another operator's machine ({meta.owner[:12]}): "
                "this machine's record of it is out of date, and 0xl changes nothing",
                hint=f"take it over: 0xl host adopt {svc.name} --host {self._host_name()}",
            )
        return dom

    def note(self, svc: Service, *, take: bool = False) -> None:
        """Write SVC's record into its domain's metadata, and nothing else of the domain (it is not
        restarted): after a change of the record that does not define the domain again (`set`, an update
        of a stopped service), and when adopting it (TAKE: whoever owned it, this machine does now)."""
        with connection.connect(self.settings.uri) as conn:
            dom = self._domain(conn, svc, change=not take)
            if dom is None:
                return
            volumes = self._volumes()
            keys = {d.location: volumes.noted_key(d.location) for d in svc.disks if d.kind == "libvirt"}
            meta = metadata_of(svc, owner=self._owner(make=True), keys=keys)
            lv = connection.module()
            live = lv.VIR_DOMAIN_AFFECT_LIVE if dom.isActive() else 0
            connection.call(
                f"cannot write the metadata of the domain {svc.name}",
                dom.setMetadata,
                lv.VIR_DOMAIN_METADATA_ELEMENT,
                element_xml(meta),
                METADATA_PREFIX,
                METADATA_NS,
                lv.VIR_DOMAIN_AFFECT_CONFIG | live,
            )

    def check_owner(self, svc: Service) -> None:
        """ConflictError if another operator's machine owns SVC's domain, or if it runs another version than
        SVC's record says (app.reconcile). A running domain was defined by the start that runs it, with the
        version it runs in its metadata: another version there means this record is out of date (a
        ZEROXL_HOME restored from a backup, or copied). A stopped one is defined again from the record at
        its next start: the record is this machine's decision there."""
        with connection.connect(self.settings.uri) as conn:
            dom = self._domain(conn, svc, change=True)
            if dom is None or svc.transition is not None or svc.current is None or not dom.isActive():
                return
            meta = read_metadata(connection.call(f"cannot read the domain {svc.name}", dom.XMLDesc, 0))
        if meta is not None and meta.digest and meta.digest != svc.current.digest:
            host = self._host_name()
            raise ConflictError(
                f"{svc.name} on {host} runs version {meta.version}, but this machine's record says "
                f"{svc.current.version}: the record is out of date (a ZEROXL_HOME restored or copied?), and 0xl "
                "changes nothing",
                hint=f"take what the host runs: 0xl host adopt {svc.name} --host {host}",
            )

    def _foreign(self, owner: str) -> bool:
        """Whether OWNER (a domain's) is another operator's machine. A domain of an older 0xl has none: the
        machine with a record of it is taken to own it (it writes its id at the next define)."""
        return bool(owner) and owner != self._owner(make=False)

    def _host_name(self) -> str:
        return self.ctx.home.root.name if self._remote() else "local"

    def _define(self, conn: Any, svc: Service, impl_dir: Path) -> Any:
        lv = connection.module()
        dom = self._domain(conn, svc, change=True)
        xml = self._xml(conn, svc, impl_dir, dom.UUIDString() if dom is not None else None, upload=True)
        return connection.call(
            f"libvirt refused the domain of {svc.name}",
            conn.defineXMLFlags,
            xml,
            lv.VIR_DOMAIN_DEFINE_VALIDATE,
            hint=f"0xl config {svc.name} shows the XML; 0xl --debug shows more",
        )

    def defined(self, svc: Service) -> bool:
        """Whether the host has SVC's domain (ConflictError if a domain of its name is not 0xl's)."""
        with connection.connect(self.settings.uri) as conn:
            return self._domain(conn, svc) is not None

    def define(self, svc: Service, impl_dir: Path) -> None:
        """Define SVC's domain without starting it (at `add`: `virsh list --all` shows it)."""
        self._dir(svc).mkdir(parents=True, exist_ok=True)
        with connection.connect(self.settings.uri) as conn:
            self._define(conn, svc, impl_dir)

    def start(self, svc: Service, impl_dir: Path) -> None:
        self._dir(svc).mkdir(parents=True, exist_ok=True)
        with connection.connect(self.settings.uri) as conn:
            dom = self._domain(conn, svc, change=True)
            if dom is not None and dom.isActive():
                if self._exit(svc) is None:
                    return
                _destroy(dom, svc)  # halted after its unikernel exited: make room
            dom = self._define(conn, svc, impl_dir)
            self._prune_boot_files(conn)  # the version it ran before may have been the last to boot one
            remote = self._remote()
            if remote:  # the console is the host's file: this machine's copy only follows it
                existed, offset = False, self._host_console_size(conn, svc)
            else:
                existed, offset = self.log_path(svc).exists(), self._console_size(svc)
            try:
                connection.call(f"{svc.name} did not start", dom.create, hint=self._start_hint(svc))
                self._note_run(svc, offset)
            except BaseException:
                # Undo: nothing of a start that failed keeps running (Ctrl-C included), and the console
                # log is as it was (libvirt makes it before QEMU fails).
                with contextlib.suppress(Exception):
                    if dom.isActive():
                        dom.destroy()
                if not remote:  # (a remote host's console is libvirt's to keep)
                    with contextlib.suppress(OSError):
                        if existed:
                            os.truncate(self.log_path(svc), offset)
                        else:
                            self.log_path(svc).unlink()
                raise

    def _start_hint(self, svc: Service) -> str:
        bridges = [n for n in svc.networks if not n.startswith(LIBVIRT_NETWORK)]
        where = f"is there a bridge {', '.join(bridges)} where libvirtd runs? " if bridges else ""
        driver = "libxl" if self.xen else "qemu"
        return f"{where}libvirt's log of the domain (/var/log/libvirt/{driver}/{svc.name}.log) says more"

    def _console_size(self, svc: Service) -> int:
        try:
            return self.log_path(svc).stat().st_size
        except FileNotFoundError:
            return 0

    def _note_run(self, svc: Service, offset: int) -> None:
        """Where this run's console starts (what came before is earlier runs'), and when it started."""
        note = {"console_offset": offset, "started": time.time()}
        atomic.write_text(self._dir(svc) / RUN_NOTE, json.dumps(note) + "\n", mode=0o600)

    def _run_note(self, svc: Service) -> dict[str, float]:
        try:
            data = json.loads((self._dir(svc) / RUN_NOTE).read_text(encoding="utf-8"))
            return {"console_offset": float(data["console_offset"]), "started": float(data["started"])}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def _exit(self, svc: Service) -> int | None:
        """The status the unikernel exited with in this run, as its console says; None if it did not."""
        offset = int(self._run_note(svc).get("console_offset", 0))
        try:
            with self.log_path(svc).open("rb") as f:
                size = f.seek(0, 2)
                f.seek(max(offset, size - _CONSOLE_TAIL))
                text = f.read()
        except OSError:
            return None
        found = _SOLO5_EXIT.findall(text)
        return int(found[-1]) if found else None

    def stop(self, svc: Service, *, timeout: float | None = None) -> None:
        grace = self.settings.stop_timeout if timeout is None else timeout
        with connection.connect(self.settings.uri) as conn:
            dom = self._domain(conn, svc, change=True)
            if dom is None or not dom.isActive():
                return
            if grace > 0 and self._exit(svc) is None:
                with contextlib.suppress(Exception):  # a guest without ACPI: nothing happens, no error either
                    dom.shutdown()
                deadline = time.monotonic() + grace
                while dom.isActive() and time.monotonic() < deadline:
                    time.sleep(GONE_POLL)
            if dom.isActive():
                _destroy(dom, svc)

    # -- reading ------------------------------------------------------------------------------------

    def status(self, svc: Service) -> RuntimeStatus:
        with connection.connect(self.settings.uri) as conn:
            dom = self._domain(conn, svc)
            if dom is None:
                if self._remote():  # the host is the truth: this record is of nothing there
                    return RuntimeStatus(
                        state=MISSING,
                        detail=f"its domain is gone from the host {self._host_name()}: 0xl destroy {svc.name} "
                        f"--host {self._host_name()} removes this record",
                    )
                detail = "its domain is gone: it was undefined outside 0xl" if svc.desired == "running" else ""
                return RuntimeStatus(state=STOPPED, detail=detail)
            meta = read_metadata(connection.call(f"cannot read the domain {svc.name}", dom.XMLDesc, 0))
            info = connection.call(f"cannot read the state of {svc.name}", dom.info)
            code, _reason = connection.call(f"cannot read the state of {svc.name}", dom.state)
            network = _network_bytes(dom) if code in (_RUNNING, _BLOCKED, _PAUSED) else None
        status = self._status(svc, info, code, network)
        owner = meta.owner if meta is not None else ""
        if not owner:
            return status
        detail = status.detail
        if self._foreign(owner):
            host = self._host_name()
            taken = f"owned by another operator's machine ({owner[:12]}): 0xl host adopt {svc.name} --host {host}"
            detail = "; ".join(d for d in (taken, status.detail) if d)
        return replace(status, detail=detail, extra={**status.extra, "owner": owner})

    def _status(self, svc: Service, info: Any, code: int, network: dict[str, int] | None) -> RuntimeStatus:
        state_code, _max_kib, mem_kib, vcpus, cpu_ns = (int(v) for v in info)
        note = self._run_note(svc)
        exited = self._exit(svc) if note else None
        extra = {
            "libvirt_state": _STATE_NAMES[code] if 0 <= code < len(_STATE_NAMES) else str(code),
            "memory_mib": mem_kib >> 10,
            "vcpus": vcpus,
            "cpu_seconds": cpu_ns / 1e9,
        }
        last_exit = str(exited) if exited is not None else None
        if code in (_RUNNING, _BLOCKED, _PAUSED, _PMSUSPENDED, _SHUTDOWN) and exited is None:
            return RuntimeStatus(
                state=RUNNING,
                started=note.get("started"),
                log_start=int(note["console_offset"]) if "console_offset" in note else None,
                detail="paused" if code == _PAUSED else "shutting down" if code == _SHUTDOWN else "",
                extra=extra,
                resources={
                    "cpu_seconds": cpu_ns / 1e9,
                    "memory_bytes": mem_kib << 10,
                    "vcpus": vcpus,
                    **(network or {}),
                },
            )
        del state_code
        if exited is not None and exited != 0:
            halted = " (its domain is halted: 0xl stop ends it)" if code != _SHUTOFF else ""
            return RuntimeStatus(
                state=FAILED,
                last_exit=last_exit,
                detail=f"the unikernel exited with status {exited}{halted}",
                extra=extra,
            )
        if code == _CRASHED:
            return RuntimeStatus(
                state=FAILED, detail="the domain crashed (kept for inspection: 0xl stop ends it)", extra=extra
            )
        detail = ""
        if exited == 0:
            detail = "the unikernel exited with status 0"
        elif svc.desired == "running":
            detail = "its domain is shut off: it powered off, or was stopped outside 0xl"
        return RuntimeStatus(state=STOPPED, last_exit=last_exit, detail=detail, extra=extra)

    def check_state(self, svc: Service) -> None:
        pass  # libvirt keeps what a domain is doing; run.json only says where the console of a run starts

    def cleanup(self, svc: Service) -> None:
        with connection.connect(self.settings.uri) as conn:
            dom = self._domain(conn, svc, change=True)
            if dom is not None:
                if dom.isActive():
                    _destroy(dom, svc)
                connection.call(f"cannot undefine the domain {svc.name}", dom.undefine)
            self._prune_boot_files(conn)
            if self._remote():
                self._delete_console(conn, svc)
        shutil.rmtree(self._dir(svc), ignore_errors=True)
        if self.xen:  # xenconsoled's log is named after the domain: a new service of the name starts anew
            with contextlib.suppress(OSError):
                self.log_path(svc).unlink()

    def _delete_console(self, conn: Any, svc: Service) -> None:
        pool = self._volumes().pool(conn, create=False)
        volume = connection.lookup(pool.storageVolLookupByName, console_volume(svc.name)) if pool else None
        if volume is not None:
            connection.call(f"cannot delete the console of {svc.name}", volume.delete, 0)


def console_volume(service: str) -> str:
    """The console of SERVICE in the pool of a host other than local."""
    return f"0xl-console.{service}.log"


def _network_bytes(dom: Any) -> dict[str, int] | None:
    """The bytes the domain's interfaces received and sent, from the guest's side (as for Xen: libvirt swaps
    a tap's counters so that they are the domain's); None if it has none or libvirt cannot count them.
    An interface that goes away while it is read (the domain stopped meanwhile) is left out."""
    rx = tx = 0
    counted = False
    for dev in interface_devices(str(connection.call("cannot read a domain", dom.XMLDesc, 0))):
        try:
            stats = connection.call("cannot count a domain's network bytes", dom.interfaceStats, dev)
        except BackendError:
            continue
        if stats[0] >= 0 and stats[4] >= 0:  # -1: the driver does not count it
            rx, tx, counted = rx + int(stats[0]), tx + int(stats[4]), True
    return {"net_rx_bytes": rx, "net_tx_bytes": tx} if counted else None


def _destroy(dom: Any, svc: Service) -> None:
    try:
        dom.destroy()
    except Exception as e:
        if not connection.is_error(e) or dom.isActive():
            raise BackendError(f"cannot destroy the domain {svc.name}: {connection.message(e)}") from None


def default_domain_type() -> str:
    """kvm where /dev/kvm exists and the CPU has hardware virtualization (vmx or svm), else qemu.

    A /dev/kvm without those flags (a paravirtual KVM inside another VM) cannot run ordinary guests."""
    if not Path("/dev/kvm").exists():
        return "qemu"
    try:
        flags = next(
            (line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), ""
        ).split()
    except OSError:
        return "qemu"
    return "kvm" if {"vmx", "svm"} & set(flags) else "qemu"
