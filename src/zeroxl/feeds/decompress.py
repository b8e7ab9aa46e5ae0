"""A compressed tar stream, decompressed and read to its very end, with the checks of the tool that
0install would decompress it with.

0install unpacks with `tar -x` and `-z`, `--bzip2` or `--use-compress-program=unxz|unlzma`
(`archive.ml`, `extract_tar`), and treats any exit status but 0 as a failure. The decompressor checks
each checksum as it reaches it, and what follows the compressed data; one that complains makes tar, and
0install, refuse the archive. tar itself stops reading at the tar's end marker and ignores the SIGPIPE
that may then stop the decompressor, so for an archive as tar writes it (its end padded to a 10 KiB
record) every check is made, but a damaged second gzip member, or a wrong trailer after megabytes of
padding past the end marker, is refused only when the decompressor got there first. 0xl reads to the
end always: what the tool refuses, 0xl refuses every time. What each tool accepts after a stream,
checked with gzip 1.12, bzip2 1.0.8 and xz 5.4 (tests/unit/test_decompress.py runs them):

- gzip: another gzip member, or zero bytes to the end ("trailing zero bytes ignored"); anything else,
  zero bytes followed by anything included, is "trailing garbage" (exit status 2).
- bzip2: another stream (`BZh1`…`BZh9`); anything not starting like one is ignored (exit status 0), a
  cut-off start of one is "compressed file ends unexpectedly".
- xz (`unxz` reads .xz and .lzma alike): another .xz stream, after stream padding, zero bytes in a
  multiple of four; nothing after an .lzma stream.
- lzma (`unlzma` reads .lzma only): nothing after the one stream.

The standard library's GzipFile, BZ2File and LZMAFile read concatenated streams too, but ignore what
they cannot read after the first (xz and lzma), or accept padding that gzip refuses, or refuse xz's
stream padding; so this module drives their decompressors itself.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from typing import BinaryIO, Literal, Protocol

from zeroxl.errors import VerificationError

Format = Literal["gz", "bz2", "xz", "lzma"]

_READ = 64 << 10  # compressed bytes read at a time
_CHUNK = 1 << 20  # what a read of no particular size returns at most: never the whole stream at once
_XZ_MAGIC = b"\xfd7zXZ\x00"
_BZ2_MAGIC = b"BZh"
_HINT = "the file was damaged on its way or on the server; nothing of it was kept"


class _Decompressor(Protocol):
    """What bz2's and lzma's decompressor objects offer (and `_Inflate` for zlib's)."""

    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    @property
    def needs_input(self) -> bool: ...
    def decompress(self, data: bytes, max_length: int, /) -> bytes: ...


class _Inflate:
    """One gzip member through zlib, which parses its header and checks its CRC-32 and length as gzip
    does (reserved flags, the header's own CRC); with the interface of bz2's decompressor."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._tail = b""

    @property
    def eof(self) -> bool:
        return self._zlib.eof

    @property
    def unused_data(self) -> bytes:
        return self._zlib.unused_data

    @property
    def needs_input(self) -> bool:
        # With no input left over, zlib may still hold output; the next call, with input or with none
        # at the end of the file, returns it.
        return not self._tail

    def decompress(self, data: bytes, max_length: int, /) -> bytes:
        try:
            out = self._zlib.decompress(self._tail + data, max_length)
        except zlib.error as e:
            raise _gzip_error(e) from e
        self._tail = self._zlib.unconsumed_tail
        return out


def _gzip_error(e: zlib.error) -> VerificationError:
    # zlib's messages for a member's trailer (inflate.c), unchanged since zlib 1.0.
    if "incorrect data check" in str(e):
        return corrupt("its gzip checksum (CRC-32) does not match its contents", "gzip-checksum")
    if "incorrect length check" in str(e):
        return corrupt("the length in its gzip trailer does not match its contents", "gzip-length")
    return corrupt_or_truncated(str(e))


def corrupt(what: str, reason: str) -> VerificationError:
    """The refusal of an archive that fails a check: WHAT says which."""
    return VerificationError(f"the archive is corrupt: {what}", hint=_HINT, reason=reason)


def corrupt_or_truncated(detail: str, reason: str = "corrupt") -> VerificationError:
    """The refusal of an archive that cannot be read to its end: DETAIL is what the reader said."""
    return VerificationError(f"the archive is corrupt or truncated ({detail})", hint=_HINT, reason=reason)


class Decompressed:
    """The decompressed bytes of FILEOBJ, a FORMAT stream or several, read to the end of the file.

    `read` raises VerificationError when a checksum fails, the data ends early, or something follows
    the last stream that the format's own tool would refuse. Read it until it returns b"", or the
    checks of what comes last are never made.
    """

    def __init__(self, fileobj: BinaryIO, compression: Format) -> None:
        self._file = fileobj
        self._format = compression
        self._input = b""  # compressed bytes read from the file, not yet given to a decompressor
        self._stream: _Decompressor | None = None
        self._streams = 0  # finished so far
        self._alone = compression == "lzma"  # an .lzma stream: nothing may follow it
        self._done = False

    def read(self, size: int = -1, /) -> bytes:
        """Up to SIZE bytes (with SIZE negative, up to a megabyte); b"" at the end."""
        if size == 0:
            return b""
        limit = size if size > 0 else _CHUNK
        while not self._done:
            stream = self._stream or self._next_stream()
            if stream is None:
                self._done = True
                break
            data, ended = b"", False
            if stream.needs_input:
                data, self._input = self._input or self._file.read(_READ), b""
                ended = not data  # the end of the file: what the decompressor still holds, if anything
            try:
                out = stream.decompress(data, limit)
            except (OSError, lzma.LZMAError, EOFError, ValueError) as e:
                raise corrupt_or_truncated(str(e)) from e
            if stream.eof:
                self._input = stream.unused_data
                self._stream = None
                self._streams += 1
            elif ended and not out:
                raise corrupt_or_truncated("its compressed data ends before its end of stream", "truncated")
            if out:
                return out
        return b""

    # -- what follows a stream

    def _next_stream(self) -> _Decompressor | None:
        """The decompressor of the stream that starts here, or None at an end its tool accepts."""
        if self._format == "gz":
            return self._next_gzip()
        if self._format == "bz2":
            return self._next_bzip2()
        return self._next_xz()

    def _next_gzip(self) -> _Decompressor | None:
        if self._streams:
            head = self._peek(2)
            if not head:
                return None
            if head[:1] == b"\0":
                self._zeros_to_the_end("gzip member")
                return None
            if head != b"\x1f\x8b":
                raise corrupt("data that is not gzip follows its last gzip member", "trailing-data")
        self._stream = _Inflate()
        return self._stream

    def _next_bzip2(self) -> _Decompressor | None:
        if self._streams:
            head = self._peek(4)
            if not head:
                return None
            if not (_BZ2_MAGIC + b"9").startswith(head[:3]) or (len(head) == 4 and head[3:] not in b"123456789"):
                return None  # bzip2 ignores what does not start like a stream, and reads no further
            if len(head) < 4:
                raise corrupt_or_truncated("it ends in the first bytes of a bzip2 stream", "truncated")
        self._stream = bz2.BZ2Decompressor()
        return self._stream

    def _next_xz(self) -> _Decompressor | None:
        if not self._streams:
            self._alone = self._alone or self._peek(len(_XZ_MAGIC)) != _XZ_MAGIC
            self._stream = lzma.LZMADecompressor(lzma.FORMAT_ALONE if self._alone else lzma.FORMAT_XZ)
            return self._stream
        if self._alone:
            if self._peek(1):
                raise corrupt("data follows the end of its lzma stream", "trailing-data")
            return None
        padding = 0
        while True:
            rest = self._input.lstrip(b"\0")
            padding += len(self._input) - len(rest)
            self._input = rest
            if rest or not self._peek(1):
                break
        if padding % 4:
            raise corrupt(f"the {padding} bytes of padding after an xz stream are not a multiple of 4", "trailing-data")
        if not self._input:
            return None
        if not _XZ_MAGIC.startswith(self._peek(len(_XZ_MAGIC))):
            raise corrupt("data that is not xz follows its last xz stream", "trailing-data")
        self._stream = lzma.LZMADecompressor(lzma.FORMAT_XZ)
        return self._stream

    def _peek(self, n: int) -> bytes:
        """The next N compressed bytes (fewer at the end of the file), left to be read."""
        while len(self._input) < n:
            data = self._file.read(_READ)
            if not data:
                break
            self._input += data
        return self._input[:n]

    def _zeros_to_the_end(self, after: str) -> None:
        while True:
            if self._input.strip(b"\0"):
                raise corrupt(f"data that is not zero padding follows its last {after}", "trailing-data")
            self._input = self._file.read(_READ)
            if not self._input:
                return


__all__ = ["Decompressed", "Format", "corrupt", "corrupt_or_truncated"]
