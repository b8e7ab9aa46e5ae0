"""OpenPGP keys made in the test with the real gpg, and feeds signed in 0install's format with them.

This is the publisher's side, in its own GNUPGHOME: it never shares a keyring with the 0xl under test.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Publisher:
    gnupghome: Path
    fingerprint: str
    uid: str

    @property
    def keyid(self) -> str:
        return self.fingerprint[-16:]

    def gpg(self, *args: str, input: bytes | None = None) -> bytes:
        env = dict(os.environ, GNUPGHOME=str(self.gnupghome), LC_ALL="C")
        return subprocess.run(
            ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "", *args],
            input=input,
            env=env,
            check=True,
            capture_output=True,
        ).stdout

    def sign(self, data: bytes, *, at: int | None = None, expires: int | None = None) -> bytes:
        """DATA followed by 0install's signature block, signed by the primary key (at time AT if given;
        expiring EXPIRES seconds after it if given)."""
        if not data.endswith(b"\n"):
            data += b"\n"
        when = ["--faked-system-time", f"{at}!"] if at is not None else []
        if expires is not None:
            when += ["--default-sig-expire", f"seconds={expires}"]
        sig = self.gpg(*when, "--detach-sign", "--local-user", self.fingerprint + "!", "--output", "-", input=data)
        return data + b"<!-- Base64 Signature\n" + base64.encodebytes(sig) + b"\n-->\n"

    def expire(self, at: int) -> None:
        """Make the key expire at AT (a new self-signature made just before AT, as gpg --quick-set-expire
        run then would make it): a time in the past gives a key that has expired."""
        self.gpg("--faked-system-time", f"{at - 60}!", "--quick-set-expire", self.fingerprint, "seconds=60")

    def revoke(self) -> None:
        """Revoke the key with the certificate gpg made with it, as its owner would."""
        cert = (self.gnupghome / "openpgp-revocs.d" / f"{self.fingerprint}.rev").read_bytes()
        # gpg writes the certificate with a ':' before its armour so that it is not imported by accident.
        self.gpg("--import", input=cert.replace(b":-----BEGIN", b"-----BEGIN"))

    def armored_public_key(self) -> bytes:
        return self.gpg("--armor", "--export", self.fingerprint)

    def publish_key(self, directory: Path) -> Path:
        """Write `<KEYID>.gpg` into DIRECTORY, where 0install and 0xl look for a missing key."""
        path = directory / f"{self.keyid}.gpg"
        path.write_bytes(self.armored_public_key())
        return path


# Keys are made this long ago, so that a test can sign a feed as of an earlier time (a replayed feed, an
# old one): gpg will not sign with a key at a time before the key existed.
KEY_AGE = 400 * 86400


def make_publisher(
    directory: Path,
    name: str = "Test Publisher",
    email: str = "pub@example.org",
    *,
    uid: str | None = None,
    expires: str = "never",
) -> Publisher:
    """A key made in DIRECTORY, KEY_AGE ago, with the user id "NAME <EMAIL>" (or UID, as it is)."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    uid = uid if uid is not None else f"{name} <{email}>"
    env = dict(os.environ, GNUPGHOME=str(directory), LC_ALL="C")
    subprocess.run(
        [
            "gpg",
            "--batch",
            "--quiet",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--faked-system-time",
            f"{int(time.time()) - KEY_AGE}!",
            "--quick-generate-key",
            uid,
            "ed25519",
            "sign",
            expires,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=env, check=True, capture_output=True
    ).stdout.decode()
    m = re.search(r"^fpr:+([0-9A-F]{40}):", out, re.MULTILINE)
    assert m, out
    return Publisher(directory, m.group(1), uid)
