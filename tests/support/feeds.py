"""Publishing test services: implementations packed as tar.gz, feeds signed in 0install's format.

Digests come from the real `0install digest --algorithm=sha256new`, not from 0xl, so that every test
that publishes a feed also checks 0xl's manifests against 0install's.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import subprocess
import tarfile
import tempfile
import textwrap
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from tests.support.gpgkeys import Publisher

FEED_NS = "http://zero-install.sourceforge.net/2004/injector/interface"

WEB_PROGRAM = textwrap.dedent(
    '''\
    #!/usr/bin/env python3
    """A tiny service: answers GET / with its version; --fail exits at once, --crash-after=N later."""
    import http.server, os, sys, time
    VERSION = {version!r}
    opts = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
    flags = {{a[2:] for a in sys.argv[1:] if a.startswith("--") and "=" not in a}}
    if "fail" in flags or VERSION.endswith("-bad"):
        print("web", VERSION, "refuses to start", flush=True)
        sys.exit(3)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"web {{VERSION}}\\n".encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a): pass
    port = int(opts.get("port", "8080"))
    srv = http.server.HTTPServer(("127.0.0.1", port), H)
    for name, value in sorted(os.environ.items()):
        if name.startswith("ZEROXL_"):
            print(f"env {{name}}={{value}}", flush=True)
    print(f"web {{VERSION}} listening on {{port}}", flush=True)
    srv.serve_forever()
    '''
)


def web_files(version: str) -> dict[str, tuple[bytes, int]]:
    return {"bin/web": (WEB_PROGRAM.format(version=version).encode(), 0o755), "README": (b"test service\n", 0o644)}


@dataclass
class Impl:
    version: str
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    arch: str | None = "*-*"
    stability: str = "stable"
    command: str | None = "bin/web"
    released: str = "2026-11-01"
    needs_xml: str = ""  # raw XML put inside <implementation> (service needs)
    digest: str = ""
    archive_size: int = 0
    href: str = ""


def sha256new(directory: Path) -> str:
    out = subprocess.run(
        ["0install", "digest", "--algorithm=sha256new", str(directory)], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert out.startswith("sha256new_"), out
    return out.removeprefix("sha256new_")


def pack(files: dict[str, tuple[bytes, int]], mtime: int = 1_700_000_000) -> tuple[bytes, str]:
    """A tar.gz of FILES and the sha256new digest of its contents (from 0install)."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(fileobj=buf, mode="w:gz") as tar:
        root = Path(tmp)
        dirs = sorted({str(Path(p).parent) for p in files} - {"."})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            tar.addfile(info)
        for path, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, mtime
            tar.addfile(info, io.BytesIO(data))
            dest = root / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            dest.chmod(mode)
            os.utime(dest, (mtime, mtime))
        digest = sha256new(root)
    return buf.getvalue(), digest


def forged_same_size(archive: bytes) -> bytes:
    """ARCHIVE (a tar.gz) with one byte of a file's content changed, compressed again and padded to
    exactly its size with a comment in the gzip header (RFC 1952, FCOMMENT): a sound gzip of a sound
    tar, of the size the feed declares, so that only the manifest digest can tell it from the original.
    """
    tar = gzip.decompress(archive)
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        first = next(m for m in t.getmembers() if m.isfile() and m.size > 0)
    for at in range(first.offset_data, first.offset_data + first.size):
        for byte in b"xqa":
            if byte != tar[at]:
                forged = _gzip_of_size(tar[:at] + bytes([byte]) + tar[at + 1 :], len(archive))
                if forged is not None:
                    assert gzip.decompress(forged) != tar
                    return forged
    raise AssertionError("no one-byte change of the archive compresses to its size or less")


def _gzip_of_size(data: bytes, size: int) -> bytes | None:
    """DATA as a gzip member of SIZE bytes, or None if it does not fit."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(data) + deflate.flush()
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    pad = size - (10 + len(body) + len(trailer))
    if pad < 0:
        return None
    comment = b"x" * (pad - 1) + b"\0" if pad else b""
    header = b"\x1f\x8b\x08" + bytes([0x10 if pad else 0]) + bytes(4) + b"\x02\xff"  # FCOMMENT if padded
    return header + comment + body + trailer


class FeedSite:
    """A directory served over HTTP where a publisher puts signed feeds, keys and archives."""

    def __init__(self, root: Path, base_url: str, publisher: Publisher) -> None:
        self.root = root
        self.base_url = base_url
        self.publisher = publisher
        (root / "archives").mkdir(parents=True, exist_ok=True)
        publisher.publish_key(root)

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}.xml"

    def add_archive(self, name: str, impl: Impl) -> None:
        data, digest = pack(impl.files or web_files(impl.version))
        fname = f"{name}-{impl.version}-{digest[:8]}.tar.gz"
        (self.root / "archives" / fname).write_bytes(data)
        impl.digest, impl.archive_size, impl.href = digest, len(data), f"{self.base_url}/archives/{fname}"

    def feed_xml(self, name: str, impls: list[Impl], uri: str | None = None) -> bytes:
        parts = [
            '<?xml version="1.0" ?>',
            f'<interface xmlns="{FEED_NS}" uri={quoteattr(uri or self.url(name))}>',
            f"  <name>{name}</name>",
            f"  <summary>{name} test service</summary>",
        ]
        for impl in impls:
            if not impl.digest:
                self.add_archive(name, impl)
            arch = f" arch={quoteattr(impl.arch)}" if impl.arch else ""
            parts.append(
                f'  <implementation id="sha256new_{impl.digest}" version={quoteattr(impl.version)}'
                f' released="{impl.released}" stability="{impl.stability}"{arch}>'
            )
            if impl.command:
                parts.append(f'    <command name="run" path={quoteattr(impl.command)}/>')
            parts.append(f'    <manifest-digest sha256new="{impl.digest}"/>')
            parts.append(f'    <archive href={quoteattr(impl.href)} size="{impl.archive_size}"/>')
            if impl.needs_xml:
                parts.append("    " + impl.needs_xml)
            parts.append("  </implementation>")
        parts.append("</interface>")
        return ("\n".join(parts) + "\n").encode()

    def publish(
        self,
        name: str,
        impls: list[Impl],
        *,
        signer: Publisher | None = None,
        uri: str | None = None,
        at: int | None = None,
        expires: int | None = None,
    ) -> str:
        """Write NAME.xml, signed (by the site's publisher unless SIGNER, at time AT, expiring EXPIRES seconds
        later), and return its URL."""
        signer = signer or self.publisher
        if signer is not self.publisher:
            signer.publish_key(self.root)
        feed = signer.sign(self.feed_xml(name, impls, uri), at=at, expires=expires)
        (self.root / f"{name}.xml").write_bytes(feed)
        return self.url(name)
