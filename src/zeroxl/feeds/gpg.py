"""GnuPG, bound to 0xl's own keyring: verify detached signatures, import and list public keys.

0xl's GNUPGHOME belongs to 0xl alone (never the user's ~/.gnupg, whose gpg.conf has broken
0install's verification before: 0install issue #28). It holds publishers' public keys and nothing
else; whether a key is *trusted* is decided by trustdb.xml (feeds.trust), not by gpg, so gpg's web of
trust is switched off. gpg never touches the network: no key server, no WKD, no dirmngr, no agent.
Every call goes through `proc.run` (argument list, LC_ALL=C, a timeout).

Signatures are read from `--status-fd` lines as 0install reads them (src/support/gpg.ml,
`sigs_from_gpg_status_output`): VALIDSIG, BADSIG and ERRSIG decide whether the signature matches.
A VALIDSIG from a revoked or expired key, or an expired signature, still matches: gpg reports
REVKEYSIG, EXPKEYSIG or EXPSIG *and* VALIDSIG for those. 0install looks only at VALIDSIG; 0xl
refuses them (`feeds.trust.check_signature`), so `SigInfo` (feeds.signature) carries the flags and the dates.
"""

from __future__ import annotations

import calendar
import contextlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from zeroxl import proc
from zeroxl.errors import NotFoundError, StateError, VerificationError
from zeroxl.feeds.signature import SigInfo
from zeroxl.feeds.trust import normalise_fingerprint
from zeroxl.state import atomic
from zeroxl.state.private import UMASK

log = logging.getLogger("zeroxl.gpg")

DEFAULT_TIMEOUT = 30.0
# A publisher's key file holds one key; a file a user imports by hand may hold a few.
MAX_KEYS_PER_FILE = 4

_STATUS = "[GNUPG:] "
_FPR = re.compile(r"[0-9A-F]{40}")
_KEYID = re.compile(r"[0-9A-F]{16}")
_ISO_TIME = re.compile(r"(\d{8}T\d{6})")
# gpg quotes user ids in --with-colons output "like a C string" (doc/DETAILS, field 10): gpg 2.2 writes
# \xHH for ':', '\\' and most controls (ESC as \x1b), and \n \r \f \v \b \0 for those six.
_COLON_ESCAPE = re.compile(rb"\\(?:x([0-9a-fA-F]{2})|([nrfvb0]))")
_C_ESCAPES = {b"n": 10, b"r": 13, b"f": 12, b"v": 11, b"b": 8, b"0": 0}

# gpg's ERRSIG reason codes (GPG_ERR_*), as 0install maps them; gpg >= 2.1.16 may set higher bits.
_ERR_UNSUPPORTED_ALGORITHM = 4
_ERR_NO_PUBKEY = 9

OPTIONS = """\
# Written by 0xl; rewritten if changed. This keyring belongs to 0xl alone: publishers' public keys.
# Which key is trusted for which site is in 0xl's trustdb.xml, so gpg's web of trust is not used:
# "direct" computes nothing from signatures on keys. ("always" would do too, but gpg 2.2 then fails
# to inspect an expired key with --import-options show-only, for want of a trustdb.gpg.)
trust-model direct
no-auto-check-trustdb
# Never touch the network: 0xl fetches a missing key itself, from beside the feed.
no-auto-key-retrieve
no-auto-key-locate
disable-dirmngr
# 0xl never uses a secret key, so it never needs (or starts) an agent.
no-autostart
no-greeting
"""

# Repeated on every command line, so that the logged command shows the guarantee and an edited
# gpg.conf cannot take it away.
_ALWAYS = (
    "--batch",
    "--no-tty",
    "--no-autostart",
    "--disable-dirmngr",
    "--no-auto-key-locate",
    "--keyserver-options",
    "no-auto-key-retrieve",
)


class MissingKey(VerificationError):
    """The feed is signed by a key that is not in 0xl's keyring."""

    def __init__(self, keyid: str, fingerprint: str | None = None) -> None:
        super().__init__(
            f"the feed is signed by key {fingerprint or keyid}, which is not in 0xl's keyring",
            hint="0xl fetches it from beside the feed as KEYID.gpg; or import the publisher's key by hand",
        )
        self.keyid = keyid
        self.fingerprint = fingerprint


class BadSignature(VerificationError):
    """The signature does not match the signed bytes: the feed was changed after signing."""


@dataclass(frozen=True)
class KeyInfo:
    """A public key in 0xl's keyring, for showing to the user."""

    fingerprint: str  # the primary key's
    uids: tuple[str, ...]
    subkeys: tuple[str, ...] = ()  # fingerprints
    revoked: bool = False
    expired: bool = False
    secret: bool = field(default=False, repr=False)  # only ever set while inspecting a file

    def has(self, fingerprint_or_keyid: str) -> bool:
        """True if the primary key or a subkey has this fingerprint or ends in this key id."""
        wanted = fingerprint_or_keyid.upper()
        return any(fpr.endswith(wanted) for fpr in (self.fingerprint, *self.subkeys))


class Gpg:
    """gpg with 0xl's GNUPGHOME: created mode 0700 with an options file that keeps user config out."""

    def __init__(self, home: Path, *, timeout: float = DEFAULT_TIMEOUT, program: str = "gpg") -> None:
        self.home = home
        self.timeout = timeout
        self.program = program
        self.options = home / "gpg.conf"
        self._prepare()

    def _prepare(self) -> None:
        try:
            self.home.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                self.home.mkdir(mode=0o700)
            if self.home.is_symlink() or not self.home.is_dir():
                raise StateError(f"0xl's GnuPG home {self.home} is not a directory")
            if self.home.stat().st_mode & 0o077:
                # gpg warns about (and 0xl would be trusting) a keyring others could write to.
                self.home.chmod(0o700)
            current = self.options.read_text() if self.options.exists() else None
            if current != OPTIONS:
                atomic.write_text(self.options, OPTIONS, mode=0o600)
        except OSError as e:
            raise StateError(f"cannot prepare 0xl's GnuPG home {self.home}: {e.strerror or e}") from e

    def _run(self, args: Sequence[str], *, input: bytes | None = None) -> proc.Completed:
        argv = [self.program, *_ALWAYS, "--homedir", str(self.home), "--options", str(self.options), *args]
        # The keyring files gpg makes are 0xl's alone, as the rest of ZEROXL_HOME (docs/home.md).
        return proc.run(argv, input=input, timeout=self.timeout, check=False, umask=UMASK)

    # -- signatures -------------------------------------------------------------------------------

    def verify(self, data: bytes, sig: bytes) -> SigInfo:
        """Check that SIG is a good detached signature of DATA by a key in the keyring."""
        fd, sig_path = tempfile.mkstemp(dir=self.home, prefix="verify-", suffix=".sig")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(sig)
            done = self._run(["--status-fd", "1", "--verify", "--", sig_path, "-"], input=data)
        finally:
            with contextlib.suppress(FileNotFoundError):
                Path(sig_path).unlink()
        return parse_verify_status(done.stdout.decode("utf-8", "replace"), stderr=done.stderr_text())

    # -- keys ---------------------------------------------------------------------------------------

    def import_key(self, armored: bytes, expect_keyid: str | None = None, *, source: str = "the key file") -> list[str]:
        """Import the public key in ARMORED; return the primary fingerprints imported.

        With EXPECT_KEYID (a 16-hex key id or a 40-hex fingerprint, of the primary key or of a
        subkey), the file must hold that key and no other. Files with secret keys, or more than
        MAX_KEYS_PER_FILE keys, are refused. Nothing is imported unless the whole file is acceptable.
        """
        shown = self._run(["--with-colons", "--import-options", "show-only", "--import"], input=armored)
        keys = parse_colons(shown.stdout.decode("utf-8", "replace"))
        if not shown.ok or not keys:
            why = shown.stderr_text().splitlines()[-1:] or ["no key found"]
            raise VerificationError(f"{source} does not hold an OpenPGP public key ({why[0]})")
        if any(k.secret for k in keys):
            raise VerificationError(f"{source} holds a secret key; 0xl imports public keys only")
        if len(keys) > MAX_KEYS_PER_FILE:
            raise VerificationError(f"{source} holds {len(keys)} keys; 0xl imports at most {MAX_KEYS_PER_FILE} at once")
        if expect_keyid is not None:
            wanted = expect_keyid.upper()
            if not (_KEYID.fullmatch(wanted) or _FPR.fullmatch(wanted)):
                raise ValueError(f"not a key id or fingerprint: {expect_keyid!r}")
            if not any(k.has(wanted) for k in keys):
                found = ", ".join(k.fingerprint for k in keys)
                raise VerificationError(
                    f"{source} holds key {found}, not the key {wanted} that signed the feed",
                    hint="the publisher must publish the signing key under its own key id",
                )
            if len(keys) > 1:
                raise VerificationError(
                    f"{source} holds {len(keys)} keys; 0xl imports only the key {wanted} that signed the feed"
                )
        done = self._run(["--status-fd", "1", "--import"], input=armored)
        imported = sorted(
            {
                parts[2]
                for parts in _status_lines(done.stdout.decode("utf-8", "replace"))
                if parts[0] == "IMPORT_OK" and len(parts) > 2 and _FPR.fullmatch(parts[2])
            }
        )
        if not imported:
            why = done.stderr_text().splitlines()[-1:] or [f"exit status {done.returncode}"]
            raise VerificationError(f"gpg did not import {source} ({why[0]})")
        log.debug("imported %s from %s", ", ".join(imported), source)
        return imported

    def list_keys(self, *selectors: str) -> list[KeyInfo]:
        done = self._run(["--with-colons", "--fixed-list-mode", "--list-keys", "--", *selectors])
        if not done.ok:
            if selectors and "No public key" in done.stderr_text():
                return []
            raise proc.CommandFailed(
                f"gpg could not list the keys in {self.home}: {done.stderr_text()}", completed=done
            )
        return parse_colons(done.stdout.decode("utf-8", "replace"))

    def key_info(self, fingerprint: str) -> KeyInfo:
        """The key with this fingerprint (of its primary key or a subkey); NotFoundError if absent."""
        fpr = normalise_fingerprint(fingerprint)
        for key in self.list_keys(fpr):
            if key.has(fpr):
                return key
        raise NotFoundError(f"key {fpr} is not in 0xl's keyring")


# -- parsing gpg's output (pure) --------------------------------------------------------------------


def _status_lines(stdout: str) -> list[list[str]]:
    lines = []
    for line in stdout.splitlines():
        if line.startswith(_STATUS):
            parts = line[len(_STATUS) :].split(" ")
            if parts and parts[0]:
                lines.append(parts)
        elif line.strip():
            # 0install warns too: with auto-key-retrieve on, gpg has printed other things here.
            log.debug("unexpected output from gpg: %r", line)
    return lines


def _timestamp(text: str) -> int:
    # gpg prints seconds since the epoch, or an ISO 8601 "YYYYMMDDTHHMMSS" (UTC) in some modes.
    if text.isdigit():
        return int(text)
    if _ISO_TIME.fullmatch(text):
        return calendar.timegm(time.strptime(text, "%Y%m%dT%H%M%S"))
    raise VerificationError(f"gpg reported a signature time 0xl cannot read: {text!r}")


def parse_verify_status(stdout: str, *, stderr: str = "") -> SigInfo:
    """Decide on `gpg --status-fd 1 --verify` output: a SigInfo, or the reason to refuse.

    Any BADSIG refuses; an ERRSIG for a missing key raises MissingKey (so that the key can be
    fetched); other ERRSIGs refuse; exactly one VALIDSIG is a good signature. 0xl refuses a block
    with several signatures, which 0install would accept if one of them were trusted: 0xl reports
    one signer, and no publisher tool writes more than one.
    """
    valid: list[list[str]] = []
    bad: list[list[str]] = []
    errors: list[list[str]] = []
    flags: set[str] = set()
    key_expired_at: int | None = None
    for parts in _status_lines(stdout):
        code, args = parts[0], parts[1:]
        if code == "VALIDSIG":
            valid.append(args)
        elif code == "BADSIG":
            bad.append(args)
        elif code == "ERRSIG":
            errors.append(args)
        elif code in ("EXPKEYSIG", "REVKEYSIG", "EXPSIG"):
            flags.add(code)
        elif code == "KEYEXPIRED" and args and args[0].isdigit():
            key_expired_at = int(args[0])

    if bad:
        raise BadSignature(
            "signature does not match: the feed was modified after signing",
            hint="someone changed the feed on its way to you, or the publisher edited it without signing it again",
            reason="bad-signature",
        )
    for args in errors:
        keyid = args[0].upper() if args else ""
        reason = int(args[5]) & 0xFFFF if len(args) > 5 and args[5].isdigit() else None
        if reason == _ERR_NO_PUBKEY and _KEYID.fullmatch(keyid):
            fpr = args[6].upper() if len(args) > 6 and _FPR.fullmatch(args[6].upper()) else None
            raise MissingKey(keyid, fpr)
        if reason == _ERR_UNSUPPORTED_ALGORITHM:
            algo = args[1] if len(args) > 1 else "?"
            raise VerificationError(f"the feed's signature uses an algorithm gpg does not support (number {algo})")
        raise VerificationError(f"gpg could not check the feed's signature (reason code {reason})")
    if not valid:
        detail = stderr.splitlines()[-1:] or ["gpg reported no signature"]
        raise VerificationError(f"the feed carries no valid signature: {detail[0]}")
    if len(valid) > 1:
        raise VerificationError(f"the feed carries {len(valid)} signatures; 0xl accepts exactly one")
    args = valid[0]
    fpr = args[0].upper() if args else ""
    if not _FPR.fullmatch(fpr) or len(args) < 3:
        raise VerificationError(f"gpg reported a signature 0xl cannot read: VALIDSIG {' '.join(args)}")
    primary = args[9].upper() if len(args) > 9 and _FPR.fullmatch(args[9].upper()) else fpr
    # VALIDSIG's fourth field is the signature's expiry: 0 when it has none.
    expires = _timestamp(args[3]) if len(args) > 3 and args[3] not in ("", "0") else None
    return SigInfo(
        fingerprint=fpr,
        primary_fingerprint=primary,
        timestamp=_timestamp(args[2]),
        key_expired="EXPKEYSIG" in flags,
        key_revoked="REVKEYSIG" in flags,
        sig_expired="EXPSIG" in flags,
        expires=expires,
        key_expired_at=key_expired_at if "EXPKEYSIG" in flags else None,
    )


def _unescape(field: str) -> str:
    """A user id as its owner wrote it, control characters included: showing it safely is the printer's
    job (zeroxl.safetext), and it needs the real characters to decide."""

    def byte(m: re.Match[bytes]) -> bytes:
        return bytes([int(m.group(1), 16) if m.group(1) else _C_ESCAPES[m.group(2)]])

    return _COLON_ESCAPE.sub(byte, field.encode("utf-8", "surrogateescape")).decode("utf-8", "replace")


@dataclass
class _KeyBuilder:
    secret: bool
    revoked: bool
    expired: bool
    fingerprint: str = ""
    uids: list[str] = field(default_factory=list)
    subkeys: list[str] = field(default_factory=list)

    def build(self) -> KeyInfo:
        return KeyInfo(self.fingerprint, tuple(self.uids), tuple(self.subkeys), self.revoked, self.expired, self.secret)


def parse_colons(stdout: str) -> list[KeyInfo]:
    """Keys from `gpg --with-colons` listing (or `--import-options show-only`) output."""
    builders: list[_KeyBuilder] = []
    fpr_owner = ""  # the record a following "fpr" line belongs to: pub/sec or sub/ssb
    for line in stdout.splitlines():
        fields = line.split(":")
        record = fields[0]
        if record in ("pub", "sec"):
            validity = fields[1] if len(fields) > 1 else ""
            builders.append(_KeyBuilder(secret=record == "sec", revoked=validity == "r", expired=validity == "e"))
            fpr_owner = "primary"
        elif not builders:
            continue
        elif record in ("sub", "ssb"):
            builders[-1].secret |= record == "ssb"
            fpr_owner = "subkey"
        elif record == "fpr" and len(fields) > 9:
            if fpr_owner == "primary":
                builders[-1].fingerprint = fields[9].upper()
            elif fpr_owner == "subkey":
                builders[-1].subkeys.append(fields[9].upper())
            fpr_owner = ""
        elif record == "uid" and len(fields) > 9:
            builders[-1].uids.append(_unescape(fields[9]))
    return [b.build() for b in builders if b.fingerprint]
