"""OpenPGP keys made in the test with the real gpg, and feeds signed in 0install's format with them.

This is the publisher's side, in its own GNUPGHOME: it never shares a keyring with the 0xl under test.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
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

    def sign(self, data: bytes, *, at: int | None = None) -> bytes:
        """DATA followed by 0install's signature block, signed by the primary key (at time AT if given)."""
        if not data.endswith(b"\n"):
            data += b"\n"
        when = ["--faked-system-time", f"{at}!"] if at is not None else []
        sig = self.gpg(*when, "--detach-sign", "--local-user", self.fingerprint + "!", "--output", "-", input=data)
        return data + b"<!-- Base64 Signature\n" + base64.encodebytes(sig) + b"\n-->\n"

    def armored_public_key(self) -> bytes:
        return self.gpg("--armor", "--export", self.fingerprint)

    def publish_key(self, directory: Path) -> Path:
        """Write `<KEYID>.gpg` into DIRECTORY, where 0install and 0xl look for a missing key."""
        path = directory / f"{self.keyid}.gpg"
        path.write_bytes(self.armored_public_key())
        return path


def make_publisher(directory: Path, name: str = "Test Publisher", email: str = "pub@example.org") -> Publisher:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    uid = f"{name} <{email}>"
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
            "--quick-generate-key",
            uid,
            "ed25519",
            "sign",
            "never",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys", uid], env=env, check=True, capture_output=True
    ).stdout.decode()
    m = re.search(r"^fpr:+([0-9A-F]{40}):", out, re.MULTILINE)
    assert m, out
    return Publisher(directory, m.group(1), uid)
