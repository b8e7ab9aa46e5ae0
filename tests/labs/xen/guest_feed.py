"""The lab's test guest published as signed Xen-x86_64 feeds, the way a publisher does it: `0xl feed init`,
`0xl feed add --dir` and `0xl feed sign`, run on the host with a key made for the purpose.

Two feeds go into SITE, to be served from dom0 at http://127.0.0.1:8080/ (dom0 has no network to the
host): guest.xml (PVH) and guest-pv.xml (PV). Both are the lab's Debian kernel with its busybox initrd
(README.md, "The test guest") and declare what 0xl needs to run it: memory, a ramdisk, a block device
`storage`, a network `service` and the arguments the guest reads from its command line.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.labs.xen import lab
from tests.support.gpgkeys import Publisher

SITE_URL = "http://127.0.0.1:8080"
ARGS = ("tag=[a-z0-9-]{1,20}", r"ip=[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}", "once=yes")


def zeroxl(*args: str | Path, home: Path, publisher: Publisher) -> str:
    """`0xl ARGS` on the host, as the publisher runs it (their GNUPGHOME, a scratch ZEROXL_HOME)."""
    env = dict(os.environ, ZEROXL_HOME=str(home), GNUPGHOME=str(publisher.gnupghome))
    done = subprocess.run(
        [sys.executable, "-m", "zeroxl", *map(str, args)], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"0xl {' '.join(map(str, args))} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


FEEDS = {"guest": "pvh", "guest-pv": "pv"}


# A broken build of the guest, for updates that must fail their health check: this replaces its init
# script, says so on the console and powers off at once, before touching its disk.
BROKEN_RCS = """\
#!/bin/sh
mount -t devtmpfs devtmpfs /dev
[ -c /dev/hvc0 ] && exec > /dev/hvc0 2>&1
echo "0XL-LAB-GUEST-BROKEN"
poweroff -f
"""


def broken_initrd(good: Path, out: Path, scratch: Path) -> None:
    """GOOD with a second archive appended that replaces /etc/init.d/rcS: the kernel unpacks concatenated
    initramfs archives in order, so the later file wins."""
    tree = scratch / "broken"
    (tree / "etc" / "init.d").mkdir(parents=True, exist_ok=True)
    rcs = tree / "etc" / "init.d" / "rcS"
    rcs.write_text(BROKEN_RCS)
    rcs.chmod(0o755)
    listing = b"etc\netc/init.d\netc/init.d/rcS\n"
    cpio = subprocess.run(
        ["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], input=listing, cwd=tree, capture_output=True, check=True
    ).stdout
    out.write_bytes(good.read_bytes() + gzip.compress(cpio, mtime=0))


def publish(
    site: Path,
    publisher: Publisher,
    scratch: Path,
    *,
    version: str = "1.0",
    feeds: dict[str, str] = FEEDS,
    broken: bool = False,
) -> dict[str, str]:
    """Publish VERSION of the guest into SITE, one feed per name in FEEDS (name: xen-type); returns their URLs.

    A BROKEN version powers off as soon as it boots (broken_initrd).
    """
    dist = scratch / f"dist-{version}"
    dist.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(lab.lab_dir() / "guest" / "vmlinuz", dist / "vmlinuz")
    if broken:
        broken_initrd(lab.lab_dir() / "guest" / "initrd.img", dist / "initrd.img", scratch)
    else:
        shutil.copyfile(lab.lab_dir() / "guest" / "initrd.img", dist / "initrd.img")
    (dist / "VERSION").write_text(f"{version}\n")  # so that each version has contents of its own
    site.mkdir(parents=True, exist_ok=True)
    urls = {}
    for feed, xen_type in feeds.items():
        path = site / f"{feed}.xml"
        urls[feed] = f"{SITE_URL}/{feed}.xml"
        if not path.exists():
            zeroxl("feed", "init", path, "--uri", urls[feed], "--name", feed, "--summary",
                   f"the Xen lab's test guest ({xen_type})", home=scratch, publisher=publisher)  # fmt: skip
        args = [arg for spec in ARGS for arg in ("--arg", spec)]
        zeroxl(
            "feed", "add", path, "--version", version, "--arch", "Xen-x86_64", "--dir", dist,
            "--command", "vmlinuz", "--ramdisk", "initrd.img", "--xen-type", xen_type,
            "--memory", "128", "--memory-min", "64", "--block", "storage=32M", "--network", "service",
            *args, "--stability", "stable",
            home=scratch, publisher=publisher,
        )  # fmt: skip
        zeroxl("feed", "sign", path, "--key", publisher.fingerprint, home=scratch, publisher=publisher)
    return urls


def main(argv: list[str]) -> int:
    """`python -m tests.labs.xen.guest_feed SHARE [NAME]`: a new key, NAME.xml (default guest) in SHARE/site.

    For a hand-made run in the lab (docs/xen.md's transcript): the fingerprint goes to SHARE/fingerprint.
    """
    import tempfile

    from tests.support.gpgkeys import make_publisher

    share = Path(argv[0])
    name = argv[1] if len(argv) > 1 else "guest"
    with tempfile.TemporaryDirectory() as tmp:
        publisher = make_publisher(Path(tmp) / "gnupg", "Example Publisher", "release@example.org")
        urls = publish(share / "site", publisher, Path(tmp) / "scratch", feeds={name: "pvh"})
        subprocess.run(["gpgconf", "--homedir", str(publisher.gnupghome), "--kill", "gpg-agent"], check=False)
    (share / "fingerprint").write_text(publisher.fingerprint)
    print(f"published {urls[name]} in {share / 'site'}, signed by {publisher.fingerprint}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
