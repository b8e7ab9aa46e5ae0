"""Disks as sparse raw files: ZEROXL_HOME/disks/SERVICE/NAME.img, when no volume group is configured."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from zeroxl.disks.base import KeptDisk
from zeroxl.errors import BackendError, ConflictError
from zeroxl.state import private
from zeroxl.state.atomic import fsync_dir
from zeroxl.state.service import Disk


class FileDisks:
    kind = "file"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, service: str, name: str) -> Path:
        return self.root / service / f"{name}.img"

    def create(self, service: str, name: str, size: int) -> Disk:
        path = self.path(service, name)
        private.makedirs(str(path.parent))
        try:
            # O_EXCL: never truncate a disk that exists, whatever the caller believed.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            raise ConflictError(f"disk {path} exists already") from None
        except OSError as e:
            raise BackendError(f"cannot create disk {path}: {e.strerror}") from e
        try:
            os.ftruncate(fd, size)  # sparse: no block is written until the service writes it
            os.fsync(fd)
        except OSError as e:
            os.close(fd)
            path.unlink()
            raise BackendError(f"cannot create disk {path} of {size} bytes: {e.strerror}") from e
        os.close(fd)
        fsync_dir(path.parent)
        return Disk(name=name, size=size, kind=self.kind, location=str(path))

    def find(self, service: str, name: str) -> Disk | None:
        path = self.path(service, name)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        return Disk(name=name, size=size, kind=self.kind, location=str(path))

    def delete(self, disk: Disk) -> None:
        path = Path(disk.location)
        if path.parent.parent != self.root:
            raise BackendError(f"refusing to delete {path}: it is not a disk 0xl created")
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as e:
            raise BackendError(f"cannot delete disk {path}: {e.strerror}") from e
        with contextlib.suppress(OSError):  # other disks of the service remain
            path.parent.rmdir()

    def list(self) -> list[KeptDisk]:
        found = []
        try:
            services = sorted(p for p in self.root.iterdir() if p.is_dir())
        except FileNotFoundError:
            return []
        for sdir in services:
            for img in sorted(sdir.glob("*.img")):
                disk = self.find(sdir.name, img.stem)
                if disk is not None:
                    found.append(KeptDisk(sdir.name, disk))
        return found
