"""The libvirt workflow of docs/libvirt.md and the README, run for real and printed as a transcript:
`python -m tests.labs.libvirt.transcript` (root; the lab's private libvirtd, the test guest as a signed
Virtio-x86_64 feed on 127.0.0.1). Nothing is edited: what is shown is what the commands printed."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from tests.labs.libvirt import guest
from tests.labs.libvirt.demo import demo_host


def main() -> int:
    with demo_host() as host:
        bindir = str(Path(sys.executable).parent)  # the venv's 0xl
        env = dict(os.environ, ZEROXL_HOME=str(host.home), PATH=f"{bindir}:{os.environ['PATH']}")
        uri = host.daemon.uri

        def sh(*argv: str, shown: str | None = None) -> None:
            print(f"$ {shown or shlex.join(argv)}")
            done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            sys.stdout.write(done.stdout + done.stderr)
            sys.stdout.flush()

        print(f"# ZEROXL_HOME={host.home}; the lab's libvirtd is at {uri}")
        sh("cat", str(host.home / "config.toml"), shown="cat $ZEROXL_HOME/config.toml")
        sh("0xl", "add", "web", host.url, "--trust-key", host.fingerprint, "--backend", "libvirt",
           "--disk", "storage=64M", "--arg", "tag=web")  # fmt: skip
        sh("virsh", "-c", uri, "list", "--all", shown="virsh list --all")
        sh("0xl", "config", "web")
        t = time.monotonic()
        sh("0xl", "run", "web")
        guest.Console(host.home / "services" / "web" / "libvirt" / "console.log").wait_for("^0XL-LIBVIRT-GUEST-READY")
        print(f"# (the guest was ready {time.monotonic() - t:.1f} s after 0xl run started)")
        sh("0xl", "list")
        sh("0xl", "status", "web")
        sh("virsh", "-c", uri, "metadata", "web", "urn:x-0xl:libvirt:1", shown="virsh metadata web urn:x-0xl:libvirt:1")
        sh("0xl", "logs", "web")
        sh("0xl", "disk", "list")
        sh("0xl", "stop", "web")
        sh("0xl", "destroy", "web")
        sh("virsh", "-c", uri, "list", "--all", shown="virsh list --all")
        sh("0xl", "disk", "list")
        sh("virsh", "-c", uri, "vol-list", "0xl", shown="virsh vol-list 0xl")
        sh("0xl", "disk", "delete", "web", "storage")
        sh("virsh", "-c", uri, "vol-list", "0xl", shown="virsh vol-list 0xl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
