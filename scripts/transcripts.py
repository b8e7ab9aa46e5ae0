#!/usr/bin/env python3
"""The transcripts in README.md and docs/*.md, made by running 0xl: `scripts/transcripts.py` writes them,
`scripts/transcripts.py --check` says which no longer match what 0xl prints (tests/integration/
test_transcripts.py runs it). Writing keeps a block that differs only in what the check ignores.

A transcript is a fenced block between `<!-- transcript: NAME -->` and `<!-- /transcript -->`; NAME is a
scenario below. Each scenario runs real commands in a scratch directory: a publisher key made with gpg,
the sample service (examples/web) published with `0xl feed` and served on 127.0.0.1, a host with its own
ZEROXL_HOME. What differs from run to run and machine to machine is written as one stable value (the feed
server's port as 8000, the service's as 8080, the scratch directory as /tmp/demo, the publisher's key as
one fingerprint); the check also ignores times, durations, pids, CPU and memory figures, and how wide a
table's columns are (`normalise`).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import functools
import http.server
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "web"
FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(
    r"(?P<head><!-- transcript: (?P<name>[\w-]+) -->\n```\n)(?P<body>.*?)(?P<tail>```\n<!-- /transcript -->)", re.S
)
# The values written in place of the run's own (see the docstring).
SHOWN_FPR = "80357506505B49E586406AD6B10D2C604C157F19"
SHOWN_SITE_PORT, SHOWN_SERVICE_PORT = "8000", "8080"
SHOWN_WORK = "/tmp/demo"  # noqa: S108 -- only written in place of the real scratch directory


class StepFailed(Exception):
    pass


def zeroxl() -> list[str]:
    installed = Path(sys.executable).with_name("0xl")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "zeroxl"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(root: Path) -> Iterator[int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


class World:
    """The scratch directory, the publisher, the feed site and the host; `sh` runs a command and notes it
    with what it printed, in the transcript being written."""

    def __init__(self, work: Path, site_port: int) -> None:
        self.work = work
        self.site = work / "site"
        self.gnupghome = work / "publisher-gnupg"
        self.gnupghome.mkdir(mode=0o700)
        self.home = work / "home"
        self.site_port = site_port
        self.service_port = free_port()
        self.url = f"http://127.0.0.1:{site_port}/web.xml"
        base = {
            k: v for k, v in os.environ.items() if k not in ("ZEROXL_HOME", "GNUPGHOME") and "proxy" not in k.lower()
        }
        self.env = dict(base, LC_ALL="C.UTF-8", NO_COLOR="1", COLUMNS="200", ZEROXL_HOME=str(self.home))
        self.publisher_env = dict(self.env, GNUPGHOME=str(self.gnupghome))
        self.fpr = ""
        self.lines: list[str] = []

    def sh(self, *args: str, note: str = "", status: int = 0, publisher: bool = False, show: bool = True) -> str:
        """Run ARGS in the scratch directory; StepFailed unless it exits with STATUS."""
        argv = [*zeroxl(), *args[1:]] if args[0] == "0xl" else list(args)
        done = subprocess.run(
            argv, cwd=self.work, env=self.publisher_env if publisher else self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120, check=False,
        )  # fmt: skip
        if done.returncode != status:
            raise StepFailed(f"{shlex.join(args)} exited with {done.returncode}, not {status}:\n{done.stdout}")
        if show:
            command = shlex.join(args)
            self.lines.append(f"$ {command}" + (f"{' ' * max(1, 32 - len(command))} # {note}" if note else ""))
            self.lines += done.stdout.rstrip("\n").splitlines()
        return done.stdout

    def publish(self, version: str, *, program: str | None = None, stability: str = "stable") -> None:
        """Add VERSION of the sample service (or PROGRAM as its bin/web) to the feed and sign it again."""
        build = self.work / f"web-{version}"
        shutil.copytree(SAMPLE, build)
        (build / "VERSION").write_text(version + "\n")
        if program is not None:
            (build / "bin" / "web").write_text(program)
        if not (self.site / "web.xml").exists():
            self.sh("0xl", "feed", "init", "site/web.xml", "--uri", self.url, "--name", "web", "--summary",
                    "a tiny web server", show=False)  # fmt: skip
        self.sh(
            "0xl", "feed", "add", "site/web.xml", "--version", version, "--arch", "*-*", "--dir", build.name,
            "--command", "bin/web", "--stability", stability, "--arg", "port=[0-9]{1,5}", "--arg-required", "port",
            show=False,
        )  # fmt: skip
        self.sign(show=False)

    def sign(self, *, show: bool = True) -> None:
        # A feed must be signed later than the copy a host has (replay protection): whole seconds.
        time.sleep(1.05)
        self.sh("0xl", "feed", "sign", "site/web.xml", "--key", self.fpr, publisher=True, show=show)

    def make_key(self) -> None:
        subprocess.run(
            ["gpg", "--batch", "--passphrase", "", "--quick-generate-key", "Example Publisher <release@example.org>",
             "ed25519", "sign", "never"],
            env=self.publisher_env, capture_output=True, check=True,
        )  # fmt: skip
        listing = subprocess.run(
            ["gpg", "--batch", "--with-colons", "--list-secret-keys"],
            env=self.publisher_env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        self.fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))

    def shown(self, text: str) -> str:
        """TEXT with this run's own values replaced by the ones transcripts show."""
        fpr = self.fpr

        def grouped(f: str) -> str:
            return " ".join(f[i : i + 4] for i in range(0, 40, 4))

        for real, shown in (
            (str(self.work), SHOWN_WORK),
            (fpr, SHOWN_FPR),
            (grouped(fpr), grouped(SHOWN_FPR)),
            (fpr[-16:], SHOWN_FPR[-16:]),
        ):
            text = text.replace(real, shown)
        # The ports wherever they appear (`127.0.0.1:PORT`, `port=PORT`, `arg port:  PORT`).
        for port, shown in ((self.site_port, SHOWN_SITE_PORT), (self.service_port, SHOWN_SERVICE_PORT)):
            text = re.sub(rf"(?<![\d.]){port}(?![\d.])", shown, text)
        return text

    def take(self) -> str:
        text, self.lines = "\n".join(self.lines) + "\n", []
        return self.shown(text)


# -- the scenarios ------------------------------------------------------------------------------------


def publish(w: World) -> str:
    build = w.work / "web"
    shutil.copytree(SAMPLE, build)
    w.sh("0xl", "feed", "init", "site/web.xml", "--uri", w.url, "--name", "web", "--summary", "a tiny web server")
    w.sh(
        "0xl", "feed", "add", "site/web.xml", "--version", "1.0", "--arch", "*-*", "--dir", "web",
        "--command", "bin/web", "--stability", "stable", "--arg", "port=[0-9]{1,5}", "--arg-required", "port",
    )  # fmt: skip
    w.sign()
    w.sh("ls", "site")
    w.sh("0xl", "feed", "check", "site/web.xml", "--key", w.fpr)  # before upload: the archive beside it
    w.sh("0xl", "feed", "check", w.url, "--key", w.fpr)
    return w.take()


def deploy(w: World) -> str:
    port = f"port={w.service_port}"
    w.sh("0xl", "add", "web", w.url, status=4)
    w.sh("0xl", "add", "web", w.url, "--trust-key", w.fpr, "--arg", port, "--disk", "256M")
    w.sh("0xl", "run", "web")
    w.sh("curl", "-s", f"http://127.0.0.1:{w.service_port}/")
    w.sh("0xl", "list")
    w.sh("0xl", "status", "web")
    w.sh("0xl", "logs", "web")
    w.sh("0xl", "stop", "web")
    w.sh("0xl", "destroy", "web")
    w.sh("0xl", "disk", "list")
    w.sh("0xl", "trust", "list")
    w.sh("0xl", "disk", "delete", "web", "data", show=False)
    return w.take()


def updates(w: World) -> str:
    w.sh("0xl", "add", "web", w.url, "--arg", f"port={w.service_port}", show=False)
    w.sh("0xl", "run", "web", show=False)
    w.publish("2.0")
    w.sh("0xl", "update", "--all", "--check")
    w.sh("0xl", "update", "web")
    w.publish("3.0", program="#!/bin/sh\nexit 3\n")
    w.sh("0xl", "update", "web", note="3.0 exits at start", status=10)
    w.sh("0xl", "rollback", "web")
    w.sh("0xl", "rollback", "web", "--to", "2.0")
    w.publish("4.0", stability="testing")
    w.sh("0xl", "set", "web", "--channel", "testing", "--ready-tcp", f"127.0.0.1:{w.service_port}", "--settle", "5")
    w.sh("0xl", "update", "web")
    w.sh("0xl", "history", "web")
    w.sh("0xl", "destroy", "web", "--delete-disks", show=False)
    return w.take()


def private_home(w: World) -> str:
    """docs/home.md: a home an earlier 0xl left open to others is closed by the next command."""
    w.sh("0xl", "add", "web", w.url, "--version", "2.0..!3", "--arg", f"port={w.service_port}", show=False)
    w.sh("0xl", "run", "web", show=False)
    w.home.chmod(0o755)
    w.sh("0xl", "list")
    w.sh("0xl", "list")
    w.sh("0xl", "destroy", "web", "--delete-disks", show=False)
    return w.take()


# Run in this order, in one world: each starts from what the one before left.
SCENARIOS: dict[str, Callable[[World], str]] = {
    "publish": publish,
    "deploy": deploy,
    "updates": updates,
    "private-home": private_home,
}


def run_all() -> dict[str, str]:
    work = Path(tempfile.mkdtemp(prefix="0xl-transcripts-"))
    if os.geteuid() == 0:
        # Under root a unix service runs as a user of its own (docs/unix-backend.md), who must be able to
        # pass through here to its program in the store, as through /var/lib to /var/lib/0xl.
        work.chmod(0o711)
    try:
        (work / "site").mkdir()
        with serving(work / "site") as port:
            w = World(work, port)
            try:
                w.make_key()
                return {name: scenario(w) for name, scenario in SCENARIOS.items()}
            finally:
                subprocess.run([*zeroxl(), "destroy", "web", "--delete-disks"], env=w.env, capture_output=True,
                               check=False)  # fmt: skip
                subprocess.run(["gpgconf", "--homedir", str(w.gnupghome), "--kill", "all"], capture_output=True,
                               check=False)  # fmt: skip
    finally:
        _remove_tree(work)


def _remove_tree(path: Path) -> None:
    def writable(func: object, name: str, _exc: object) -> None:
        Path(name).parent.chmod(stat.S_IRWXU)  # store entries are read-only, as 0install makes them
        with contextlib.suppress(OSError):
            Path(name).chmod(stat.S_IRWXU)
        os.unlink(name) if not Path(name).is_dir() else shutil.rmtree(name)  # noqa: PTH108

    shutil.rmtree(path, onerror=writable)


# -- comparing --------------------------------------------------------------------------------------

_VARYING = [
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(Z| UTC)?"), "<TIME>"),
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), "<TIME>"),
    (re.compile(r"\bpid(:?)\s+\d+"), r"pid\1 <PID>"),
    (re.compile(r"\d+(\.\d+)? ?(ms|s|min|h|d)\b"), "<DURATION>"),
    (re.compile(r"\d+(\.\d+)?%"), "<PERCENT>"),
    (re.compile(r"\d+(\.\d+)? (B|KiB|MiB|GiB)\b"), "<BYTES>"),
    (re.compile(r"[ \t]+"), " "),  # table columns are as wide as what is in them
]


def normalise(text: str) -> str:
    for pattern, replacement in _VARYING:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.splitlines())


def blocks(path: Path) -> list[re.Match[str]]:
    return list(BLOCK.finditer(path.read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare, write nothing; exit 1 on a difference")
    a = parser.parse_args(argv)
    wanted = {m.group("name") for path in FILES for m in blocks(path)}
    unknown = wanted - set(SCENARIOS)
    if unknown:
        print(f"transcripts: no scenario for {', '.join(sorted(unknown))}", file=sys.stderr)
        return 1
    try:
        fresh = run_all()
    except StepFailed as e:
        print(f"transcripts: a step failed: {e}", file=sys.stderr)
        return 1
    differ = False
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        def written(m: re.Match[str]) -> str:
            # A block that differs only in what normalise() ignores is kept as it is: no churn in diffs.
            body, now = m.group("body"), fresh[m.group("name")]
            return m.group("head") + (body if normalise(body) == normalise(now) else now) + m.group("tail")

        new = BLOCK.sub(written, text)
        if a.check:
            for m in blocks(path):
                old, now = normalise(m.group("body")), normalise(fresh[m.group("name")])
                if old != now:
                    differ = True
                    name = f"{path.relative_to(REPO)} ({m.group('name')})"
                    sys.stdout.writelines(
                        difflib.unified_diff(old.splitlines(True), now.splitlines(True), f"{name} as written",
                                             f"{name} as 0xl prints it now", lineterm="\n")
                    )  # fmt: skip
                    print()
        elif new != text:
            path.write_text(new, encoding="utf-8")
            print(f"transcripts: wrote {path.relative_to(REPO)}")
    if differ:
        print("transcripts: run scripts/transcripts.py to write them again", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
