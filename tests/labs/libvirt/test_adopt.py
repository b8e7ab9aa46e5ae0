"""Two operators' machines, one host (docs/fleet.md, "Reconciling with the hosts"): two ZEROXL_HOMEs reach
the lab's first "remote" host (its own qemu:///session libvirtd behind its own sshd) over qemu+ssh. What
A deploys, B sees as not adopted and cannot change; B adopts it (verifying the feed with its own trust)
and A can then change nothing; A, its records deleted, adopts it back. Tampered metadata is refused with
nothing changed on the adopting machine."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import libvirt
import pytest

from tests.labs.libvirt import lab, services
from tests.labs.libvirt.remote import RemoteHost
from tests.labs.libvirt.services import POOL
from tests.support.feeds import FeedSite
from tests.support.zx import Result, snapshot, wait_for, zx_process

pytestmark = pytest.mark.libvirt

NS = services.METADATA_NS
CONFIG = '[libvirt]\ndomain_type = "qemu"\nstop_timeout = 2\n'


def everything(home: Path) -> dict[str, str]:
    """snapshot() and what a remote host's records add: the records, volume notes and the operator id."""
    snap = snapshot(home)
    for top in ("hosts", "operator-id"):
        base = home / top
        paths = [base, *base.rglob("*")] if base.is_dir() else [base] if base.exists() else []
        for p in paths:
            if p.is_file() and "locks" not in p.parts:
                snap[str(p.relative_to(home))] = p.read_bytes().hex()
    return snap


@pytest.fixture
def homes(
    hosts: list[tuple[RemoteHost, libvirt.virConnect]],
    zhome: Path,
    tmp_path: Path,
) -> Iterator[tuple[Callable[..., Result], Callable[..., Result], Path, Path]]:
    """A (the test's ZEROXL_HOME) and B (another), each with the host h1 (the lab's first) added."""
    (h1, _c1), _ = hosts
    b_home = tmp_path / "zhome-b"
    b_home.mkdir(mode=0o700)
    (b_home / "config.toml").write_text(CONFIG)

    def a(*args: str) -> Result:
        return zx_process(*args, home=zhome, timeout=180)

    def b(*args: str) -> Result:
        return zx_process(*args, home=b_home, timeout=180)

    for zx in (a, b):
        r = zx("host", "add", "h1", h1.uri, "--pool", POOL)
        assert r.rc == 0, r
    yield a, b, zhome, b_home
    # The consoles are files libvirt made in the pool: the pool must know them for its cleaning to delete them.
    for _host, conn in hosts:
        with contextlib.suppress(libvirt.libvirtError):
            conn.storagePoolLookupByName(POOL).refresh(0)


def rows(r: Result) -> dict[str, dict]:
    assert r.rc == 0, r
    return {d["name"]: d for d in json.loads(r.out)}


def tamper(dom: libvirt.virDomain, pattern: str, replacement: str) -> str:
    """Rewrite 0xl's metadata of DOM (what anyone with write access to the host can do); returns the old."""
    old = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NS, 0)
    new, n = re.subn(pattern, replacement, old)
    assert n == 1, (pattern, old)
    set_metadata(dom, new)
    return str(old)


def owner(dom: libvirt.virDomain) -> str:
    found = re.findall(r"<(?:\w+:)?owner>([^<]*)</", dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NS, 0))
    return found[0] if found else ""


def set_metadata(dom: libvirt.virDomain, element: str) -> None:
    flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | (libvirt.VIR_DOMAIN_AFFECT_LIVE if dom.isActive() else 0)
    dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, element, "zeroxl", NS, flags)


def test_another_operators_machine_sees_adopts_and_takes_over_a_running_service(
    homes,
    hosts,
    site: FeedSite,
    guest_image: lab.GuestImage,
) -> None:
    a, b, a_home, b_home = homes
    (_h1, c1), _ = hosts
    url = services.publish(site, guest_image)
    r = a("add", "web", url, "--host", "h1", "--trust-key", site.publisher.fingerprint, "--backend", "libvirt",
          "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
    assert r.rc == 0, r
    r = a("run", "web", "--host", "h1")
    assert r.rc == 0, r
    # A changes a setting without a start: the domain's metadata says it too (what B will adopt).
    r = a("set", "web", "--restart", "always", "--host", "h1")
    assert r.rc == 0, r
    dom = c1.lookupByName("web")
    a_id = (a_home / "operator-id").read_text().strip()[:32]
    assert owner(dom) == a_id

    # B sees it, as not adopted, with A's id; B can change nothing of it.
    listed = rows(b("list", "--all-hosts", "--json"))
    assert listed["web"]["adopted"] is False and listed["web"]["owner"] == a_id, listed
    assert listed["web"]["state"] == "running" and listed["web"]["version"] == "1.0", listed
    assert "(not adopted)" in b("list", "--host", "h1").out
    before = everything(b_home)
    r = b("stop", "web", "--host", "h1")
    assert r.rc == 7 and "0xl host adopt web --host h1" in r.err, r
    assert dom.isActive() and everything(b_home) == before

    # B does not trust the publisher's key: adopting is refused as `add` refuses, nothing changed.
    r = b("host", "adopt", "web", "--host", "h1")
    assert r.rc != 0 and "not trusted" in r.err, r
    assert everything(b_home) == before and services.metadata(dom)["version"] == "1.0"
    # With the key: B owns it; it kept running (it was not restarted), with the same version and disk.
    cpu_before = dom.info()[4]
    r = b("host", "adopt", "web", "--host", "h1", "--trust-key", site.publisher.fingerprint)
    assert r.rc == 0 and "adopted web 1.0 on h1" in r.out, r
    assert dom.isActive() and dom.info()[4] >= cpu_before
    b_id = (b_home / "operator-id").read_text().strip()[:32]
    assert b_id != a_id
    assert owner(dom) == b_id
    r = b("status", "web", "--host", "h1", "--json")
    assert r.rc == 0, r
    status = json.loads(r.out)
    assert status["state"] == "running" and status["version"] == "1.0", status
    assert [(d["name"], d["location"]) for d in status["disks"]] == [("storage", f"{POOL}/0xl-web-storage")]
    assert status["args"] == {"tag": "web"} and status["restart"] == "always"

    # A's record is out of date: A sees the service with its new owner and can change nothing.
    r = a("status", "web", "--host", "h1", "--json")
    assert "owned by another operator's machine" in json.loads(r.out)["detail"], r
    a_before = everything(a_home)
    for command in (("stop", "web"), ("destroy", "web"), ("run", "web"), ("set", "web", "--restart", "always")):
        r = a(*command, "--host", "h1")
        assert r.rc == 7 and "0xl host adopt web --host h1" in r.err, (command, r)
    assert dom.isActive() and everything(a_home) == a_before

    # A loses its records, and adopts it back (it trusts the key already); B is now the one refused.
    import shutil

    shutil.rmtree(a_home / "hosts" / "h1")
    r = a("stop", "web", "--host", "h1")
    assert r.rc == 7 and "has no record of" in r.err, r
    r = a("host", "adopt", "--all", "--host", "h1")
    assert r.rc == 0 and "adopted web 1.0 on h1" in r.out, r
    r = b("stop", "web", "--host", "h1")
    assert r.rc == 7 and dom.isActive(), r
    r = a("stop", "web", "--host", "h1")
    assert r.rc == 0 and not dom.isActive(), r
    # Data stays: A destroys it with its disks (the volume note is A's again), B's record is then missing.
    r = a("destroy", "web", "--host", "h1", "--delete-disks")
    assert r.rc == 0 and "deleted disk storage" in r.out, r
    assert "0xl-web-storage" not in [v.name() for v in c1.storagePoolLookupByName(POOL).listAllVolumes(0)]
    r = b("status", "web", "--host", "h1", "--json")
    assert json.loads(r.out)["state"] == "missing", r
    r = b("destroy", "web", "--host", "h1")
    assert r.rc == 0 and "its domain was gone from the host" in r.out, r
    assert b("list", "--all-hosts", "--json").out.strip() == "[]"


@pytest.mark.parametrize(
    ("pattern", "replacement", "status", "words"),
    [
        (r'(<arg name="tag">)web<', r"\1BAD!<", 2, "does not match the pattern"),
        (
            r'name="storage"([^>]*?location="\w+/)0xl-web-storage"',
            r'name="other"\g<1>0xl-web-other"',
            2,
            "declares no such disk",
        ),
        (r'(<disk name="storage"[^>]*location=")[^"]*"', r'\1/etc/shadow"', 2, "not a volume 0xl makes"),
        (r"(<digest>)sha256new_\w+<", r"\1sha256new_AAAA<", 8, "adopts nothing unverified"),
        (r'size="\d+"', 'size="1024"', 2, "below the"),
        (r'key="[^"]*"', 'key="/etc/shadow"', 7, "its key differs"),
        (r'channel="stable"', 'channel="nightly"', 2, "invalid channel"),
    ],
)
def test_adopting_tampered_metadata_is_refused_and_changes_nothing(  # noqa: PLR0917 - fixtures and parameters
    homes,
    hosts,
    site: FeedSite,
    guest_image: lab.GuestImage,
    pattern: str,
    replacement: str,
    status: int,
    words: str,
) -> None:
    a, b, _a_home, b_home = homes
    (_h1, c1), _ = hosts
    url = services.publish(site, guest_image)
    r = a("add", "web", url, "--host", "h1", "--trust-key", site.publisher.fingerprint, "--backend", "libvirt",
          "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
    assert r.rc == 0, r
    dom = c1.lookupByName("web")
    tamper(dom, pattern, replacement)
    before = everything(b_home)
    r = b("host", "adopt", "web", "--host", "h1", "--trust-key", site.publisher.fingerprint)
    assert r.rc == status and words in r.err, r
    assert "internal error" not in r.err
    assert everything(b_home) == before
    r = b("host", "adopt", "--all", "--host", "h1", "--trust-key", site.publisher.fingerprint)
    assert r.rc == status and "web: " in r.err and words in r.err, r
    assert everything(b_home) == before
    assert services.metadata(dom)  # the domain is as the tamperer left it: B wrote nothing to it


def test_a_domain_an_older_0xl_defined_is_refused_clearly(
    homes,
    hosts,
    site: FeedSite,
    guest_image: lab.GuestImage,
) -> None:
    a, b, _a_home, b_home = homes
    (_h1, c1), _ = hosts
    url = services.publish(site, guest_image)
    r = a("add", "web", url, "--host", "h1", "--trust-key", site.publisher.fingerprint, "--backend", "libvirt",
          "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
    assert r.rc == 0, r
    dom = c1.lookupByName("web")
    old = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NS, 0)
    format1 = re.sub(r"<owner>.*</settings>", "", old, flags=re.S).replace(' format="2"', "")
    set_metadata(dom, format1)
    # Format 1 is still read: listed, not adopted, and the machine with the record still owns it.
    assert rows(b("list", "--host", "h1", "--json"))["web"]["adopted"] is False
    before = everything(b_home)
    r = b("host", "adopt", "web", "--host", "h1", "--trust-key", site.publisher.fingerprint)
    assert r.rc == 7 and "an older 0xl defined it" in r.err and "0xl run web --host h1" in r.err, r
    assert everything(b_home) == before
    r = a("run", "web", "--host", "h1")  # which writes format 2 again, with A as owner
    assert r.rc == 0, r
    assert wait_for(lambda: 'format="2"' in dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NS, 0), timeout=5)
    assert a("stop", "web", "--host", "h1").rc == 0


def test_a_record_older_than_what_runs_is_refused_and_adopting_refreshes_it(
    homes,
    hosts,
    site: FeedSite,
    guest_image: lab.GuestImage,
) -> None:
    """A ZEROXL_HOME restored from a backup: same owner, but the host runs a version its record predates."""
    a, _b, a_home, _b_home = homes
    (_h1, c1), _ = hosts
    url = services.publish(site, guest_image, "1.0", "2.0")
    r = a("add", "web", url, "--host", "h1", "--trust-key", site.publisher.fingerprint, "--backend", "libvirt",
          "--arg", "tag=web", "--disk", "storage=32M", "--version", "..!2")  # fmt: skip
    assert r.rc == 0 and "version 1.0" in r.out, r
    assert a("run", "web", "--host", "h1").rc == 0
    record = a_home / "hosts" / "h1" / "services" / "web" / "service.json"
    backup = record.read_bytes()
    assert a("set", "web", "--any-version", "--host", "h1").rc == 0
    r = a("update", "web", "--host", "h1")
    assert r.rc == 0, r
    dom = c1.lookupByName("web")
    assert services.metadata(dom)["version"] == "2.0" and dom.isActive()
    record.write_bytes(backup)  # the backup of before the update comes back
    before = everything(a_home)
    r = a("stop", "web", "--host", "h1")
    assert r.rc == 7 and "runs version 2.0, but this machine's record says 1.0" in r.err, r
    assert "0xl host adopt web --host h1" in r.err and dom.isActive() and everything(a_home) == before
    r = a("host", "adopt", "web", "--host", "h1")
    assert r.rc == 0 and "adopted web 2.0 on h1" in r.out, r
    assert json.loads(record.read_text())["current"]["version"] == "2.0"
    r = a("stop", "web", "--host", "h1")
    assert r.rc == 0 and not dom.isActive(), r
