"""Trees and archives for the store's tests, hostile ones included, and feeds that offer them to the
real 0install (`tests.support.zeroinstall`), the oracle.

Archives are built with tarfile and zipfile from a list of `Member`s, so that a test says exactly which
entry is hostile.
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import quoteattr

from zeroxl.feeds.model import Archive, FileSource, Recipe, RemoveStep, RenameStep, Retrieval, Step

Kind = Literal["file", "dir", "symlink", "hardlink", "chr", "blk", "fifo"]
Compression = Literal["", "gz", "bz2", "xz"]

MTIME = 1_600_000_000


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes = b""
    kind: Kind = "file"
    mode: int = 0o644
    mtime: int = MTIME
    target: str = ""  # of a symlink or hard link
    pax_mtime: str | None = None  # a pax `mtime` record, e.g. "1700000000.999999999"


def file(name: str, data: bytes = b"", *, mode: int = 0o644, mtime: int = MTIME) -> Member:
    return Member(name, data, "file", mode, mtime)


def directory(name: str, *, mode: int = 0o755) -> Member:
    return Member(name, kind="dir", mode=mode)


def symlink(name: str, target: str) -> Member:
    return Member(name, kind="symlink", mode=0o777, target=target)


def hardlink(name: str, target: str) -> Member:
    return Member(name, kind="hardlink", target=target)


# A small implementation: nested directories, an executable, a symlink, an empty file and directory.
SAMPLE: tuple[Member, ...] = (
    directory("pkg"),
    file("pkg/README", b"A unikernel.\n", mtime=1_500_000_000),
    directory("pkg/bin"),
    file("pkg/bin/service", b"\x7fELF fake binary", mode=0o755, mtime=1_500_000_001),
    symlink("pkg/bin/current", "service"),
    file("pkg/empty", b""),
    directory("pkg/share/empty"),
)


# -- tar -------------------------------------------------------------------------------------------

_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def tar_bytes(members: tuple[Member, ...] | list[Member], compression: Compression = "") -> bytes:
    buf = io.BytesIO()
    mode = f"w:{compression}" if compression else "w"
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.type = _TAR_TYPES[m.kind]
            info.mode = m.mode
            info.mtime = m.mtime
            info.linkname = m.target
            if m.pax_mtime is not None:
                info.pax_headers = {"mtime": m.pax_mtime}
            if m.kind == "file":
                info.size = len(m.data)
                tar.addfile(info, io.BytesIO(m.data))
            else:
                tar.addfile(info)
    return buf.getvalue()


# -- zip -------------------------------------------------------------------------------------------

_ZIP_FILE_TYPES = {
    "file": 0o100000,
    "dir": 0o040000,
    "symlink": 0o120000,
    "chr": 0o020000,
    "blk": 0o060000,
    "fifo": 0o010000,
}


def zip_bytes(members: tuple[Member, ...] | list[Member]) -> bytes:
    """A zip as Info-ZIP's zip makes on Unix: Unix modes in the external attributes, DOS times."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for m in members:
            name = m.name + "/" if m.kind == "dir" and not m.name.endswith("/") else m.name
            info = zipfile.ZipInfo(name, date_time=_dos_time(m.mtime))
            info.create_system = 3
            info.external_attr = (_ZIP_FILE_TYPES[m.kind] | m.mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = m.target.encode() if m.kind == "symlink" else m.data
            zf.writestr(info, data)
    return buf.getvalue()


def _dos_time(mtime: int) -> tuple[int, int, int, int, int, int]:
    import time

    t = time.gmtime(mtime)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


# -- writing ---------------------------------------------------------------------------------------


def write_archive(path: Path, members: tuple[Member, ...] | list[Member]) -> Path:
    """Write MEMBERS as the kind of archive PATH's name says (.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz,
    .zip)."""
    name = path.name
    if name.endswith(".zip"):
        data = zip_bytes(members)
    elif name.endswith((".tar.gz", ".tgz")):
        data = tar_bytes(members, "gz")
    elif name.endswith(".tar.bz2"):
        data = tar_bytes(members, "bz2")
    elif name.endswith(".tar.xz"):
        data = tar_bytes(members, "xz")
    elif name.endswith(".tar"):
        data = tar_bytes(members)
    else:
        raise ValueError(f"no archive type for {name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def bomb_tar_gz(size: int) -> bytes:
    """A gzipped tar with one file of SIZE zero bytes: about a thousand times smaller than it unpacks."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = size
        tar.addfile(info, _Zeros(size))
    return buf.getvalue()


def header_bomb_tar(
    header_type: bytes, claimed: int, compression: Compression = "", *, present: int = 2 << 20
) -> bytes:
    """A tar whose first entry is an extended header (GNU long name or link, pax) that claims CLAIMED
    bytes, followed by PRESENT bytes of it: tarfile would read all it claims into memory at once."""
    info = tarfile.TarInfo(
        "././@LongLink" if header_type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK) else "x"
    )
    info.type = header_type
    info.size = claimed
    data = info.tobuf(format=tarfile.GNU_FORMAT) + b"a" * present + bytes(1024)
    return _compress(data, compression)


def extended_header_chain_tar(count: int) -> bytes:
    """A tar with COUNT GNU long-name headers in a row before its one file, each replacing the last."""
    out = bytearray()
    for i in range(count):
        info = tarfile.TarInfo("././@LongLink")
        info.type = tarfile.GNUTYPE_LONGNAME
        info.size = 10
        out += info.tobuf(format=tarfile.GNU_FORMAT) + f"name{i:06d}".encode().ljust(512, b"\0")
    info = tarfile.TarInfo("f")
    info.size = 1
    return bytes(out + info.tobuf(format=tarfile.GNU_FORMAT) + b"x".ljust(512, b"\0") + bytes(1024))


def _compress(data: bytes, compression: Compression) -> bytes:
    import bz2
    import gzip
    import lzma

    if compression == "gz":
        return gzip.compress(data)
    if compression == "bz2":
        return bz2.compress(data)
    if compression == "xz":
        return lzma.compress(data)
    return data


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


# -- hostile members, one per attack ----------------------------------------------------------------

HOSTILE: dict[str, tuple[Member, ...]] = {
    "dotdot": (file("pkg/ok", b"x"), file("pkg/../../escaped", b"owned")),
    "absolute": (file("pkg/ok", b"x"), file("/tmp/zeroxl-absolute-escape", b"owned")),
    "symlink_absolute": (directory("pkg"), symlink("pkg/passwd", "/etc/passwd")),
    "symlink_relative": (directory("pkg"), symlink("pkg/up", "../../../../etc")),
    "symlink_then_write": (directory("pkg"), symlink("pkg/d", "."), file("pkg/d/x", b"x")),
    "hardlink_absolute": (directory("pkg"), hardlink("pkg/shadow", "/etc/shadow")),
    "hardlink_relative": (directory("pkg"), hardlink("pkg/shadow", "../../etc/shadow")),
    "device": (directory("pkg"), Member("pkg/null", kind="chr")),
    "fifo": (directory("pkg"), Member("pkg/pipe", kind="fifo")),
}


# -- trees -----------------------------------------------------------------------------------------


def make_tree(root: Path, members: tuple[Member, ...] | list[Member]) -> Path:
    """Create MEMBERS under ROOT directly on the file system (files, dirs, symlinks only)."""
    root.mkdir(parents=True, exist_ok=True)
    for m in members:
        path = root / m.name
        path.parent.mkdir(parents=True, exist_ok=True)
        if m.kind == "dir":
            path.mkdir(exist_ok=True)
        elif m.kind == "symlink":
            path.symlink_to(m.target)
        elif m.kind == "file":
            path.write_bytes(m.data)
            path.chmod(m.mode)
            os.utime(path, (m.mtime, m.mtime))
        else:
            raise ValueError(f"make_tree does not make {m.kind}")
    return root


def make_deep_tree(root: Path, depth: int, *, link: str | None = None) -> None:
    """ROOT/a/a/… DEPTH levels deep, each level holding a file, every directory read-only, and with
    LINK a symlink `link` to it at the bottom. Built through descriptors, so that it may be longer than
    PATH_MAX, as no path-based tool could make it."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("a", dir_fd=fd)
            os.close(os.open("file", os.O_WRONLY | os.O_CREAT, 0o444, dir_fd=fd))
            child = os.open("a", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.fchmod(fd, 0o555)
            os.close(fd)
            fd = child
        if link is not None:
            os.symlink(link, "link", dir_fd=fd)
        os.fchmod(fd, 0o555)
    finally:
        os.close(fd)


def listing(root: Path) -> list[tuple[str, str, int | None]]:
    """(path, kind and mode, mtime of files) for everything under ROOT, sorted; [] if ROOT is missing.
    The mtime of a store entry's `.manifest` is when it was written, so it is left out."""
    if not root.exists():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            regular = path.is_file() and not path.is_symlink()
            mtime = int(st.st_mtime) if regular and path != root / ".manifest" else None
            out.append((str(path.relative_to(root)), oct(st.st_mode), mtime))
    return sorted(out)


# -- feeds for the oracle --------------------------------------------------------------------------


def feed_xml(digest: str, retrieval: Retrieval) -> str:
    return (
        '<?xml version="1.0" ?>\n'
        '<interface xmlns="http://zero-install.sourceforge.net/2004/injector/interface">\n'
        "  <name>oracle</name><summary>what 0install makes of a retrieval</summary>\n"
        '  <implementation id="oracle" version="1.0" main="none">\n'
        f'    <manifest-digest sha256new="{digest}"/>\n'
        f"    {retrieval_xml(retrieval)}\n"
        "  </implementation>\n"
        "</interface>\n"
    )


def retrieval_xml(retrieval: Retrieval | Step) -> str:
    if isinstance(retrieval, Recipe):
        return "<recipe>" + "".join(retrieval_xml(s) for s in retrieval.steps) + "</recipe>"
    if isinstance(retrieval, Archive):
        attrs = {
            "href": retrieval.href,
            "size": str(retrieval.size),
            "extract": retrieval.extract,
            "dest": retrieval.dest,
            "type": retrieval.type,
            "start-offset": str(retrieval.start_offset) if retrieval.start_offset else None,
        }
        return "<archive" + _attrs(attrs) + "/>"
    if isinstance(retrieval, FileSource):
        attrs = {
            "href": retrieval.href,
            "size": str(retrieval.size),
            "dest": retrieval.dest,
            "executable": "true" if retrieval.executable else None,
        }
        return "<file" + _attrs(attrs) + "/>"
    if isinstance(retrieval, RenameStep):
        return "<rename" + _attrs({"source": retrieval.source, "dest": retrieval.dest}) + "/>"
    assert isinstance(retrieval, RemoveStep)
    return "<remove" + _attrs({"path": retrieval.path}) + "/>"


def _attrs(attrs: dict[str, str | None]) -> str:
    return "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items() if v is not None)
