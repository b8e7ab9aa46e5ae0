#!/usr/bin/env python3
"""What `make demo` runs: publish the sample service as a signed feed, then deploy it from that feed.

Everything happens in a temporary directory: a publisher key in its own GNUPGHOME, the feed and its
archive served on 127.0.0.1, and a host (its own ZEROXL_HOME) that adds, runs, stops and destroys the
service. Each command is printed as `$ …` with its real output. Any failing step stops the demo with
a non-zero exit status; whatever the demo started (the service, the web server, the gpg-agent that
signing started) is stopped, and the directory removed, however it ends.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "web"


class StepFailed(Exception):
    pass


def zeroxl() -> list[str]:
    """The installed `0xl` beside this Python (the venv's), else the module."""
    installed = Path(sys.executable).with_name("0xl")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "zeroxl"]


class Demo:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.env = dict(os.environ, LC_ALL="C.UTF-8")
        self.env.pop("ZEROXL_HOME", None)

    def run(self, *args: str, show: str | None = None, env: dict[str, str] | None = None) -> str:
        """Run ARGS in the work directory, print `$ SHOW` and what it printed; StepFailed if it fails."""
        shown = show or shlex.join(args)
        print(f"$ {shown}", flush=True)
        argv = [*zeroxl(), *args[1:]] if args[0] == "0xl" else list(args)
        done = subprocess.run(
            argv, cwd=self.work, env=env or self.env, capture_output=True, text=True, timeout=120, check=False
        )
        output = done.stdout + done.stderr
        if output:
            print(output.rstrip("\n"), flush=True)
        if done.returncode != 0:
            raise StepFailed(f"{shown} exited with status {done.returncode}")
        return done.stdout

    @staticmethod
    def note(text: str) -> None:
        print(f"\n# {text}", flush=True)


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - http://127.0.0.1 only
                return str(r.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def demo(d: Demo, gnupghome: Path, host_home: Path) -> None:
    site = d.work / "site"
    site.mkdir()
    shutil.copytree(SAMPLE, d.work / "web")
    publisher = dict(d.env, GNUPGHOME=str(gnupghome))
    operator = dict(d.env, ZEROXL_HOME=str(host_home))

    d.note(f"The publisher makes a signing key (GNUPGHOME={gnupghome}).")
    d.run(
        "gpg", "--batch", "--passphrase", "", "--quick-generate-key", "Demo Publisher <demo@example.org>",
        "ed25519", "sign", "never", env=publisher,
    )  # fmt: skip
    d.run("gpg", "--batch", "--list-secret-keys", env=publisher)
    listing = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys"],
        env=publisher, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))

    with serving(site) as port:
        url = f"http://127.0.0.1:{port}/web.xml"
        d.note(f"The publisher turns the build in web/ into a signed feed in site/, served at {url}.")
        d.run("0xl", "feed", "init", "site/web.xml", "--uri", url, "--name", "web", "--summary", "a tiny web server")
        d.run(
            "0xl", "feed", "add", "site/web.xml", "--version", "1.0", "--arch", "*-*", "--dir", "web",
            "--command", "bin/web", "--stability", "stable", "--arg", "port=[0-9]{1,5}", "--arg-required", "port",
        )  # fmt: skip
        d.run("0xl", "feed", "sign", "site/web.xml", "--key", fpr, env=publisher)
        d.run("ls", "site")
        d.run("0xl", "feed", "check", url, "--key", fpr)

        service_port = free_port()
        d.note(f"An operator deploys it on a host (ZEROXL_HOME={host_home}).")
        d.run("0xl", "add", "web", url, "--trust-key", fpr, "--arg", f"port={service_port}", env=operator)
        d.run("0xl", "run", "web", env=operator)
        answer = get(f"http://127.0.0.1:{service_port}/")
        print(f"GET http://127.0.0.1:{service_port}/ -> {answer.rstrip()}", flush=True)
        if answer != "hello from web 1.0\n":
            raise StepFailed(f"the service answered {answer!r}")
        d.run("0xl", "status", "web", env=operator)
        d.run("0xl", "stop", "web", env=operator)
        d.run("0xl", "destroy", "web", env=operator)


def clean_up(d: Demo, gnupghome: Path, host_home: Path) -> None:
    env = dict(d.env, ZEROXL_HOME=str(host_home))
    if (host_home / "services" / "web").exists():
        subprocess.run([*zeroxl(), "destroy", "web", "--delete-disks"], env=env, capture_output=True, check=False)
    # Signing started the publisher's gpg-agent (and key generation may have); it is ours to stop.
    subprocess.run(["gpgconf", "--homedir", str(gnupghome), "--kill", "all"], capture_output=True, check=False)


def remove_tree(path: Path) -> None:
    def writable(func: object, name: str, _exc: object) -> None:
        Path(name).parent.chmod(stat.S_IRWXU)  # store entries are read-only, as 0install makes them
        with contextlib.suppress(OSError):
            Path(name).chmod(stat.S_IRWXU)
        os.unlink(name) if not Path(name).is_dir() else shutil.rmtree(name)  # noqa: PTH108

    shutil.rmtree(path, onerror=writable)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="0xl-demo-"))
    gnupghome, host_home = work / "publisher-gnupg", work / "host"
    gnupghome.mkdir(mode=0o700)
    d = Demo(work)
    print(f"# 0xl demo in {work}", flush=True)
    try:
        demo(d, gnupghome, host_home)
    except (StepFailed, OSError, subprocess.SubprocessError) as e:
        print(f"\ndemo failed: {e}", file=sys.stderr)
        return 1
    finally:
        clean_up(d, gnupghome, host_home)
        remove_tree(work)
    print("\n# done: published, served, deployed, answered, stopped and destroyed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
