"""The publisher's GnuPG: sign a feed with the primary key, export the public key to publish beside it.

This is the publisher's own keyring, `GNUPGHOME` as the publisher has it set (or gpg's default), never
0xl's host keyring (`ZEROXL_HOME/gnupg`, public keys only, `feeds.gpg`): a host never holds a secret
key, and a publisher's gpg.conf is theirs. The signature is made by the primary key (`--local-user
FPR!`), because a host trusts the fingerprint of the key that signed: had gpg picked a signing subkey,
hosts that trust the primary fingerprint would refuse the feed. Every call goes through `proc.run`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from zeroxl import proc
from zeroxl.errors import NotFoundError, UsageError
from zeroxl.feeds.gpg import KeyInfo, parse_colons
from zeroxl.feeds.trust import normalise_fingerprint

DEFAULT_TIMEOUT = 300.0  # signing may wait for the publisher to type a passphrase into a pinentry


class PublisherGpg:
    def __init__(self, *, gnupghome: str | None, forbidden: Path | None = None, program: str = "gpg") -> None:
        """GNUPGHOME is the publisher's (None: gpg's default); FORBIDDEN is 0xl's host keyring."""
        if gnupghome is not None and forbidden is not None and _same(Path(gnupghome), forbidden):
            raise UsageError(
                f"GNUPGHOME={gnupghome} is 0xl's own keyring, which holds only the public keys a host trusts",
                hint="sign with your publisher keyring: unset GNUPGHOME, or point it at the keyring with your key",
            )
        self.gnupghome = gnupghome
        self.program = program

    def _run(self, args: Sequence[str], *, input: bytes | None = None) -> proc.Completed:
        env = {"GNUPGHOME": self.gnupghome} if self.gnupghome is not None else None
        argv = [self.program, "--batch", "--no-tty", *args]
        return proc.run(argv, input=input, timeout=DEFAULT_TIMEOUT, check=False, env=env)

    @property
    def where(self) -> str:
        return f"GNUPGHOME={self.gnupghome}" if self.gnupghome is not None else "the default GnuPG keyring"

    def secret_key(self, fingerprint: str) -> KeyInfo:
        """The secret key whose primary fingerprint is FINGERPRINT; refuses a subkey's fingerprint."""
        fpr = normalise_fingerprint(fingerprint)
        done = self._run(["--with-colons", "--fixed-list-mode", "--list-secret-keys", "--", fpr])
        keys = parse_colons(done.stdout.decode("utf-8", "replace")) if done.ok else []
        for key in keys:
            if key.fingerprint == fpr:
                return key
            if key.has(fpr):
                raise UsageError(
                    f"{fpr} is a subkey of {key.fingerprint}",
                    hint=f"sign with the primary key, which is what hosts trust: --key {key.fingerprint}",
                )
        raise NotFoundError(
            f"no secret key {fpr} in {self.where}",
            hint="list your keys with: gpg --list-secret-keys --with-colons; set GNUPGHOME to the keyring that has it",
        )

    def detach_sign(self, data: bytes, fingerprint: str, *, expires_in: int | None = None) -> bytes:
        """A detached signature of DATA by exactly the primary key FINGERPRINT, which expires EXPIRES_IN
        seconds from now if given (an OpenPGP signature expiration time subpacket)."""
        with tempfile.TemporaryDirectory(prefix="0xl-sign-") as tmp:
            sig = Path(tmp) / "feed.sig"
            # "FPR!" makes gpg use that key itself rather than a signing subkey it would prefer.
            args = ["--status-fd", "1", "--local-user", fingerprint + "!", "--detach-sign", "--output", str(sig)]
            if expires_in is not None:
                # In batch mode gpg takes the default without asking, even with ask-sig-expire in gpg.conf.
                args[:0] = ["--default-sig-expire", f"seconds={expires_in}"]
            done = self._run([*args, "--", "-"], input=data)
            if not done.ok or not sig.exists():
                why = done.stderr_text().splitlines()[-1:] or [f"exit status {done.returncode}"]
                raise proc.CommandFailed(
                    f"gpg could not sign with {fingerprint}: {why[0]}",
                    completed=done,
                    hint="a key with a passphrase needs a gpg-agent that can ask for it (GPG_TTY set, or a GUI)",
                )
            created = [ln.split() for ln in done.stdout.decode("ascii", "replace").splitlines()]
            signers = {parts[-1] for parts in created if parts[1:2] == ["SIG_CREATED"]}
            if signers != {fingerprint}:
                raise proc.CommandFailed(f"gpg signed with {', '.join(sorted(signers)) or 'no key'}, not {fingerprint}")
            return sig.read_bytes()

    def export(self, fingerprint: str) -> bytes:
        """The ASCII-armoured public key FINGERPRINT, without third-party signatures on it."""
        done = self._run(["--armor", "--export-options", "export-minimal", "--export", "--", fingerprint])
        if not done.ok or b"BEGIN PGP PUBLIC KEY BLOCK" not in done.stdout:
            raise proc.CommandFailed(f"gpg could not export the public key {fingerprint}", completed=done)
        return done.stdout


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return a.resolve() == b.resolve()
