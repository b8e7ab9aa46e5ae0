"""The real 0install (2.18) as the oracle, isolated: all its state under one directory, its own keyring.

ZEROINSTALL_PORTABLE_BASE puts its cache and config under BASE (src/zeroinstall/paths.ml: the trust
database is BASE/config/injector/trustdb.xml), and GNUPGHOME gives it a keyring of its own. The key-info
server is switched off in its global config, and a proxy that refuses everything stands in the way of
any host but 127.0.0.1, so that its built-in mirror (tried when a primary fails) is never contacted.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.gpgkeys import Publisher
from zeroxl.feeds.model import Retrieval

GLOBAL_CONFIG = "[global]\nkey_info_server = \n"  # a third-party host; a "good" vote would approve a key


class ZeroInstall:
    def __init__(self, base: Path, gnupghome: Path | None = None) -> None:
        self.base = base
        self.gnupghome = gnupghome or base / "gnupg"
        (base / "config" / "injector").mkdir(parents=True, exist_ok=True)
        (base / "config" / "injector" / "global").write_text(GLOBAL_CONFIG)
        self.gnupghome.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.gnupghome / "gpg.conf").write_text("no-autostart\n")  # no agent left behind by 0install's gpg

    @property
    def trustdb(self) -> Path:
        return self.base / "config" / "injector" / "trustdb.xml"

    @property
    def implementations(self) -> Path:
        return self.base / "cache" / "implementations"

    @property
    def interfaces(self) -> Path:
        """Feeds as 0install accepted and cached them."""
        return self.base / "cache" / "interfaces"

    def env(self) -> dict[str, str]:
        env = dict(
            os.environ,
            ZEROINSTALL_PORTABLE_BASE=str(self.base),
            GNUPGHOME=str(self.gnupghome),
            LC_ALL="C.UTF-8",
            http_proxy="http://127.0.0.1:9",
            https_proxy="http://127.0.0.1:9",
            no_proxy="127.0.0.1",
        )
        env.pop("DISPLAY", None)
        return env

    def run_bytes(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """`0install ARGS`, stdin closed, output as bytes (manifests may hold names that are not UTF-8)."""
        return subprocess.run(
            ["0install", *map(str, args)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=self.env(),
            check=check,
            timeout=120,
        )

    def run(self, *args: str | Path, answer: str | None = None) -> subprocess.CompletedProcess[str]:
        """`0install ARGS` as text; stdin is closed unless ANSWER is given (its reply to a prompt)."""
        return subprocess.run(
            ["0install", *map(str, args)],
            input=answer,
            stdin=subprocess.DEVNULL if answer is None else None,
            capture_output=True,
            text=True,
            errors="replace",
            env=self.env(),
            timeout=120,
            check=False,
        )

    # -- feeds and trust ----------------------------------------------------------------------------

    def import_key(self, pub: Publisher) -> None:
        subprocess.run(
            ["gpg", "--batch", "--homedir", self.gnupghome, "--import"],
            input=pub.armored_public_key(),
            capture_output=True,
            check=True,
        )

    def download(self, url: str, answer: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("download", "--xml", url, answer=answer)

    # -- versions -----------------------------------------------------------------------------------

    def select_version(self, versions: list[str], version_range: str) -> str | None:
        """The version `0install select --version=VERSION_RANGE` picks from a local feed offering
        VERSIONS (implementations at a local path: nothing is downloaded); None if it finds none."""
        from xml.sax.saxutils import quoteattr

        from defusedxml import ElementTree

        impls = "".join(
            f'<implementation id="v{i}" version={quoteattr(v)} local-path={quoteattr(str(self.base))} main="none"/>'
            for i, v in enumerate(versions)
        )
        feed = self.base / "versions.xml"
        feed.write_text(
            '<?xml version="1.0" ?>\n<interface xmlns="http://zero-install.sourceforge.net/2004/injector/interface">'
            f"<name>versions</name><summary>which version 0install selects</summary>{impls}</interface>\n"
        )
        r = self.run("select", "--xml", f"--version={version_range}", feed)
        if r.returncode != 0:
            assert "Can't find all required implementations" in r.stderr, r.stderr
            return None
        ns = "{http://zero-install.sourceforge.net/2004/injector/interface}"
        selection = ElementTree.fromstring(r.stdout).find(f"{ns}selection")
        assert selection is not None, r.stdout
        return selection.get("version")

    # -- digests and the store ----------------------------------------------------------------------

    def digest(self, path: Path, extract: str | None = None) -> str:
        """`0install digest --algorithm=sha256new PATH [EXTRACT]`, without the `sha256new_` prefix."""
        args: list[str | Path] = ["digest", "--algorithm=sha256new", path]
        if extract:
            args.append(extract)
        out = self.run_bytes(*args).stdout.decode().strip()
        assert out.startswith("sha256new_"), out
        return out.removeprefix("sha256new_")

    def manifest(self, directory: Path) -> bytes:
        """The manifest `0install store manifest DIR sha256new` prints (its last line, the digest, cut)."""
        out = self.run_bytes("store", "manifest", directory, "sha256new").stdout
        body, _, last = out.rstrip(b"\n").rpartition(b"\n")
        assert last.startswith(b"sha256new_"), out
        return body + b"\n" if body else b""

    def store_add(self, digest: str, archive: Path) -> Path:
        self.run_bytes("store", "add", f"sha256new_{digest}", archive)
        return self.implementations / f"sha256new_{digest}"

    def verify(self, entry: Path) -> subprocess.CompletedProcess[bytes]:
        return self.run_bytes("store", "verify", entry, check=False)

    def download_retrieval(
        self, digest: str, retrieval: Retrieval, workdir: Path
    ) -> subprocess.CompletedProcess[bytes]:
        """`0install download` of a local (so unsigned) feed with one implementation of DIGEST."""
        from tests.support.archives import feed_xml

        feed = workdir / "oracle-feed.xml"
        feed.write_text(feed_xml(digest, retrieval))
        return self.run_bytes("download", "--console", feed, check=False)

    def retrieval_digest(self, retrieval: Retrieval, workdir: Path) -> str:
        """The digest of what 0install builds from RETRIEVAL. It is offered a feed with a wrong digest
        and refuses it, saying which digest the contents really have."""
        out = self.download_retrieval("A" * 52, retrieval, workdir)
        assert out.returncode != 0
        text = out.stderr.decode() + out.stdout.decode()
        line = next(ln for ln in text.splitlines() if ln.startswith("Actual digest: sha256new_"))
        return line.removeprefix("Actual digest: sha256new_").strip()
