"""Disks as libvirt storage volumes: the volume `0xl-SERVICE-DISK` in the pool of `[libvirt] pool`, or in
the pool "0xl", a `dir` pool at ZEROXL_HOME/libvirt/pool that 0xl defines (and builds) when first needed.

0xl never touches a volume it did not make. A volume is 0xl's when its name is one 0xl makes AND 0xl
holds a note of it, ZEROXL_HOME/libvirt/volumes/POOL/NAME, holding the volume's key (its path, for a
`dir` or `logical` pool): the note is written before the volume is created, the key once it exists.
`find`, `list` and `delete` ignore every volume without a note, and `delete` deletes a volume only if its
key is the one noted (a volume someone else made since under the same name is left alone). A volume of
that name that 0xl has no note of makes `create` fail.
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from zeroxl.backends.libvirt import connection
from zeroxl.errors import BackendError, ConflictError
from zeroxl.host.config import LibvirtSettings
from zeroxl.host.names import DISK_NAME, SERVICE_NAME
from zeroxl.state import atomic, private
from zeroxl.state.service import Disk

KIND = "libvirt"
PREFIX = "0xl-"
DEFAULT_POOL = "0xl"


def volume_name(service: str, disk: str) -> str:
    if not (SERVICE_NAME.fits(service) and DISK_NAME.fits(disk)):
        raise BackendError(f"refusing the volume name for disk {disk!r} of {service!r}: not one 0xl makes")
    return f"{PREFIX}{service}-{disk}"


def parse_volume_name(name: str) -> tuple[str, str] | None:
    """(SERVICE, DISK) of a volume name 0xl makes; service names hold no '_' and disk names no '-'."""
    service, _, disk = name.removeprefix(PREFIX).rpartition("-")
    if name.startswith(PREFIX) and SERVICE_NAME.fits(service) and DISK_NAME.fits(disk):
        return service, disk
    return None


class Volumes:
    """The storage volumes of 0xl's disks on one libvirt host."""

    kind = KIND

    def __init__(self, root: Path, settings: LibvirtSettings) -> None:
        self.root = root  # ZEROXL_HOME/libvirt
        self.settings = settings
        self.pool_name = settings.pool or DEFAULT_POOL

    # -- the notes of what 0xl made -------------------------------------------------------------------

    def _note(self, volume: str) -> Path:
        return self.root / "volumes" / self.pool_name / volume

    def _noted_key(self, volume: str) -> str | None:
        """The key noted for VOLUME ("" while it is being created), None if 0xl has no note of it."""
        try:
            return self._note(volume).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    def noted_key(self, location: str) -> str:
        """The key noted for the volume at LOCATION (POOL/VOLUME) in this pool; "" if 0xl has none."""
        pool, _, volume = location.partition("/")
        if pool != self.pool_name or parse_volume_name(volume) is None:
            return ""
        return self._noted_key(volume) or ""

    def adopt(self, location: str, key: str) -> bool:
        """Note the volume at LOCATION (POOL/VOLUME) as 0xl's, if it is in this pool under a name 0xl makes
        and its key is KEY; whether it was noted now (False: it was noted already with that key)."""
        pool_name, _, vol_name = location.partition("/")
        if pool_name != self.pool_name or parse_volume_name(vol_name) is None:
            raise ConflictError(f"{location} is not a volume 0xl makes in the pool {self.pool_name}")
        with connection.connect(self.settings.uri) as conn:
            pool = self._pool(conn, create=False)
            volume = connection.lookup(pool.storageVolLookupByName, vol_name) if pool is not None else None
            if volume is None:
                raise ConflictError(f"the storage volume {location} is not on the host")
            actual = str(volume.key())
        if actual != key:
            raise ConflictError(
                f"the storage volume {location} is not the one the domain's metadata names (its key differs)"
            )
        if self._noted_key(vol_name) == key:
            return False
        self._write_note(vol_name, key)
        return True

    def forget(self, location: str) -> None:
        """Drop the note of the volume at LOCATION (undoing `adopt`); the volume is not touched."""
        _, _, vol_name = location.partition("/")
        if parse_volume_name(vol_name) is not None:
            self._note(vol_name).unlink(missing_ok=True)

    def _write_note(self, volume: str, key: str) -> None:
        note = self._note(volume)
        private.makedirs(str(note.parent))
        atomic.write_text(note, key + "\n", mode=0o600)

    # -- the pool -------------------------------------------------------------------------------------

    def _pool(self, conn: Any, *, create: bool) -> Any:
        """The pool, started if it is not; the default pool is defined and built if missing and CREATE."""
        pool = connection.lookup(conn.storagePoolLookupByName, self.pool_name)
        if pool is None:
            if self.settings.pool is not None or not create:
                if not create:
                    return None
                raise BackendError(
                    f"libvirt has no storage pool {self.pool_name}",
                    hint="define it (virsh pool-define-as), or remove [libvirt] pool from config.toml to use 0xl's own",
                )
            pool = self._define_default_pool(conn)
        elif self.settings.pool is None:
            self._check_default_pool(pool)
        if not pool.isActive():
            connection.call(f"cannot start the storage pool {self.pool_name}", pool.create, 0)
        return pool

    def pool(self, conn: Any, *, create: bool) -> Any:
        """The pool of 0xl's volumes on CONN's host (None if it does not exist and not CREATE)."""
        return self._pool(conn, create=create)

    def pool_path(self, conn: Any) -> Path:
        """The directory of the pool on its host (where it will be, for 0xl's own pool not made yet)."""
        pool = self._pool(conn, create=False)
        path = ET.fromstring(pool.XMLDesc(0)).findtext("target/path") if pool is not None else None  # noqa: S314
        return Path(path) if path else self._pool_dir()

    def _pool_dir(self) -> Path:
        return self.root / "pool"

    def _define_default_pool(self, conn: Any) -> Any:
        lv = connection.module()
        element = ET.Element("pool", type="dir")
        ET.SubElement(element, "name").text = DEFAULT_POOL
        ET.SubElement(ET.SubElement(element, "target"), "path").text = str(self._pool_dir())
        private.makedirs(str(self.root))
        pool = connection.call(
            f"cannot define the storage pool {DEFAULT_POOL}",
            conn.storagePoolDefineXML,
            ET.tostring(element, "unicode"),
            0,
        )
        connection.call(f"cannot build the storage pool {DEFAULT_POOL}", pool.build, lv.VIR_STORAGE_POOL_BUILD_NEW)
        with contextlib.suppress(Exception):
            pool.setAutostart(1)
        return pool

    def _check_default_pool(self, pool: Any) -> None:
        """The pool "0xl" must be this ZEROXL_HOME's: another's (a second 0xl on the host) is not ours."""
        path = ET.fromstring(pool.XMLDesc(0)).findtext("target/path")  # noqa: S314 - libvirt's own answer
        if path is None or Path(path) != self._pool_dir():
            raise ConflictError(
                f"the storage pool {DEFAULT_POOL} is at {path}, not at this 0xl's {self._pool_dir()}",
                hint="name another pool for this 0xl in config.toml: [libvirt] pool",
            )

    # -- disks ----------------------------------------------------------------------------------------

    def _disk(self, name: str, volume: Any) -> Disk:
        info = volume.info()  # [type, capacity, allocation]
        return Disk(name=name, size=int(info[1]), kind=KIND, location=f"{self.pool_name}/{volume.name()}")

    def create(self, service: str, name: str, size: int) -> Disk:
        if size <= 0:
            raise BackendError(f"refusing to create a disk of {size} bytes")
        vol_name = volume_name(service, name)
        with connection.connect(self.settings.uri) as conn:
            pool = self._pool(conn, create=True)
            if connection.lookup(pool.storageVolLookupByName, vol_name) is not None:
                whose = "a kept disk of 0xl's" if self._noted_key(vol_name) is not None else "not one 0xl made"
                raise ConflictError(f"the storage volume {self.pool_name}/{vol_name} exists already ({whose})")
            element = ET.Element("volume")
            ET.SubElement(element, "name").text = vol_name
            ET.SubElement(element, "capacity", unit="bytes").text = str(size)
            ET.SubElement(element, "allocation", unit="bytes").text = "0"  # sparse where the pool can
            ET.SubElement(ET.SubElement(element, "target"), "format", type="raw")
            self._write_note(vol_name, "")  # before: a kill during the creation leaves the note
            try:
                volume = connection.call(
                    f"cannot create the storage volume {self.pool_name}/{vol_name}",
                    pool.createXML,
                    ET.tostring(element, "unicode"),
                    0,
                )
            except BaseException:
                self._note(vol_name).unlink(missing_ok=True)
                raise
            self._write_note(vol_name, volume.key())
            return self._disk(name, volume)

    def find(self, service: str, name: str) -> Disk | None:
        vol_name = volume_name(service, name)
        if self._noted_key(vol_name) is None:
            return None
        with connection.connect(self.settings.uri) as conn:
            pool = self._pool(conn, create=False)
            volume = connection.lookup(pool.storageVolLookupByName, vol_name) if pool is not None else None
            if volume is None or not self._owned(vol_name, volume):
                return None
            return self._disk(name, volume)

    def volume(self, conn: Any, disk: Disk) -> Any:
        """The storage volume of DISK through CONN; BackendError unless it is one 0xl made in this pool."""
        pool_name, _, vol_name = disk.location.partition("/")
        pool = self._pool(conn, create=False) if disk.kind == KIND and pool_name == self.pool_name else None
        volume = connection.lookup(pool.storageVolLookupByName, vol_name) if pool is not None else None
        if volume is None or not self._owned(vol_name, volume):
            raise BackendError(f"the disk {disk.name} is not a volume 0xl made in {self.pool_name}: {disk.location}")
        return volume

    def _owned(self, vol_name: str, volume: Any) -> bool:
        key = self._noted_key(vol_name)
        return key is not None and key in ("", volume.key())

    def delete(self, disk: Disk) -> None:
        pool_name, _, vol_name = disk.location.partition("/")
        if disk.kind != KIND or pool_name != self.pool_name or parse_volume_name(vol_name) is None:
            raise BackendError(
                f"refusing to delete {disk.location}: it is not a volume 0xl created in {self.pool_name}"
            )
        if self._noted_key(vol_name) is None:
            raise BackendError(f"refusing to delete {disk.location}: 0xl has no note of creating it")
        with connection.connect(self.settings.uri) as conn:
            pool = self._pool(conn, create=False)
            volume = connection.lookup(pool.storageVolLookupByName, vol_name) if pool is not None else None
            if volume is not None:
                if not self._owned(vol_name, volume):
                    raise BackendError(
                        f"refusing to delete {disk.location}: it is not the volume 0xl created (its key changed)"
                    )
                connection.call(f"cannot delete the storage volume {disk.location}", volume.delete, 0)
        self._note(vol_name).unlink(missing_ok=True)

    def list_owned(self) -> list[tuple[str, Disk]]:
        """(SERVICE, disk) for every volume 0xl made in the pool, whether its service still exists or not."""
        notes = self.root / "volumes" / self.pool_name
        try:
            noted = sorted(p.name for p in notes.iterdir())
        except FileNotFoundError:
            return []
        if not noted:
            return []
        found = []
        with connection.connect(self.settings.uri) as conn:
            pool = self._pool(conn, create=False)
            if pool is None:
                return []
            connection.call(f"cannot refresh the storage pool {self.pool_name}", pool.refresh, 0)
            for vol_name in noted:
                parsed = parse_volume_name(vol_name)
                volume = connection.lookup(pool.storageVolLookupByName, vol_name) if parsed else None
                if parsed is not None and volume is not None and self._owned(vol_name, volume):
                    found.append((parsed[0], self._disk(parsed[1], volume)))
        return found
