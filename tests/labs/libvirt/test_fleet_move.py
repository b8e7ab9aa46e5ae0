"""`0xl move NAME --to HOST` between the lab's two "remote" hosts (docs/fleet.md, "Moving a service"): the
guest counts its boots in a marker on its disk (README.md, "The test guest"), so its console on the new
host says whether the disk it found there holds what it wrote on the old one: with --with-data it does,
without it the disk is new and empty. A move whose new host dies midway leaves the service running where
it was, and `0xl doctor` undoes what it made on the new host once that answers; a killed move is finished
by `0xl doctor`."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import libvirt
import pytest

from tests.labs.libvirt import guest, lab, services, support
from tests.labs.libvirt.remote import RemoteHost
from tests.labs.libvirt.services import POOL, volumes
from tests.support.feeds import FeedSite
from tests.support.killing import Stoppable
from tests.support.zx import snapshot, wait_for

pytestmark = pytest.mark.libvirt


def add_and_run(zx, site: FeedSite, guest_image: lab.GuestImage, host: str) -> None:
    url = services.publish(site, guest_image, "1.0")
    r = zx("add", "web", url, "--host", host, "--trust-key", site.publisher.fingerprint, "--backend", "libvirt",
           "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
    assert r.rc == 0, r
    assert zx("run", "web", "--host", host).rc == 0
    wait_logs(zx, host, "0XL-LIBVIRT-GUEST-READY tag=web boot=1")


def wait_logs(zx, host: str, line: str) -> None:
    assert wait_for(lambda: line in zx("logs", "web", "--host", host).out, timeout=180, interval=1), zx(
        "logs", "web", "--host", host
    )


def domains(conn: libvirt.virConnect) -> dict[str, bool]:
    return {d.name(): bool(d.isActive()) for d in conn.listAllDomains()}


def marker(conn: libvirt.virConnect) -> tuple[int, str, str] | None:
    """What the guest wrote in sector 0 of the volume 0xl-web-storage, read through a volume download."""
    volume = conn.storagePoolLookupByName(POOL).storageVolLookupByName("0xl-web-storage")
    return guest.parse_marker(support.download(conn, volume, 512))


def whole_volume(conn: libvirt.virConnect) -> bytes:
    return support.download(conn, conn.storagePoolLookupByName(POOL).storageVolLookupByName("0xl-web-storage"))


def homes(zhome: Path) -> dict[str, dict[str, str]]:
    return {str(h): snapshot(h) for h in (zhome, zhome / "hosts" / "h1", zhome / "hosts" / "h2")}


def test_a_service_moves_with_its_data_only_when_told_to(  # noqa: PLR0917 - the lab's fixtures
    hosts: list[tuple[RemoteHost, libvirt.virConnect]],
    zx,
    zhome: Path,
    site: FeedSite,
    guest_image: lab.GuestImage,
    lab_timings: dict[str, list[float]],
) -> None:
    (h1, c1), (h2, c2) = hosts
    for name, host in (("h1", h1), ("h2", h2)):
        assert zx("host", "add", name, host.uri, "--pool", POOL).rc == 0
    add_and_run(zx, site, guest_image, "h1")

    # Without --with-data: new, empty disks on h2; h1 keeps its volume, with what the guest wrote there.
    r = zx("move", "web", "--host", "h1", "--to", "h2", timeout=300)
    assert r.rc == 0, r
    assert "moved web from h1 to h2 with new empty disks" in r.out and "web runs on h2" in r.out, r
    assert "kept disk storage on h1 (images/0xl-web-storage)" in r.out, r
    assert "web" not in domains(c1) and domains(c2) == {"web": True}
    assert marker(c1) == (1, "up", "web")
    wait_logs(zx, "h2", "0XL-LIBVIRT-GUEST-READY tag=web boot=1")
    assert "0XL-LIBVIRT-GUEST-PREVIOUS none" in zx("logs", "web", "--host", "h2").out
    assert not (zhome / "hosts" / "h1" / "services" / "web").exists()
    assert zx("status", "web", "--host", "h1").rc == 3
    status = json.loads(zx("status", "web", "--host", "h2", "--json").out)
    assert (status["state"], status["version"]) == ("running", "1.0"), status
    history = zx("history", "web", "--host", "h2").out
    assert "add" in history and "moved from the host h1 to h2 with new empty disks" in history, history

    # Back to h1 with its data: refused while h1 keeps the volume of before, and nothing changes.
    before = homes(zhome)
    r = zx("move", "web", "--host", "h2", "--to", "h1", "--with-data", timeout=300)
    assert r.rc == 7 and "the host h1 keeps a disk storage of an earlier service web" in r.err, r
    assert homes(zhome) == before and domains(c2) == {"web": True} and "web" not in domains(c1)
    r = zx("disk", "delete", "web", "storage", "--host", "h1")
    assert r.rc == 0 and "0xl-web-storage" not in volumes(c1), r

    started = time.monotonic()
    r = zx("move", "web", "--host", "h2", "--to", "h1", "--with-data", timeout=600)
    assert r.rc == 0, r
    lab_timings.setdefault("0xl move --with-data of a running service, one 32 MiB disk", []).append(
        time.monotonic() - started
    )
    copied = re.search(r"disk storage on h1 \(images/0xl-web-storage\): copied, SHA-256 ([0-9a-f]{64})", r.out)
    assert copied, r
    # h2 keeps its volume, stopped as it was copied: the copy on h1 had the same contents.
    assert support.sha256(whole_volume(c2)) == copied.group(1)
    assert marker(c2) == (1, "up", "web")
    assert "web" not in domains(c2) and domains(c1) == {"web": True}
    # The guest on h1 found what it wrote on h2.
    wait_logs(zx, "h1", "0XL-LIBVIRT-GUEST-READY tag=web boot=2")
    assert (
        "0XL-LIBVIRT-GUEST-PREVIOUS 0XL-LIBVIRT-GUEST-DISK boot=1 state=up tag=web"
        in zx("logs", "web", "--host", "h1").out
    )
    r = zx("list", "--all-hosts", "--json")
    assert [(d["host"], d["name"], d["state"]) for d in json.loads(r.out)] == [("h1", "web", "running")], r
    assert zx("destroy", "web", "--host", "h1", "--delete-disks").rc == 0
    assert zx("disk", "delete", "web", "storage", "--host", "h2").rc == 0


def test_a_move_whose_new_host_dies_leaves_the_service_where_it_was_and_a_killed_move_is_finished_by_doctor(
    hosts: list[tuple[RemoteHost, libvirt.virConnect]],
    zx,
    zhome: Path,
    site: FeedSite,
    guest_image: lab.GuestImage,
) -> None:
    (h1, c1), (h2, c2) = hosts
    for name, host in (("h1", h1), ("h2", h2)):
        assert zx("host", "add", name, host.uri, "--pool", POOL).rc == 0
    add_and_run(zx, site, guest_image, "h1")

    # h2's daemon dies once the move has made the volume there, before the data is copied.
    move = Stoppable(zhome, "move-disks-made", "move", "web", "--host", "h1", "--to", "h2", "--with-data")
    move.wait_stopped(timeout=180)
    assert "0xl-web-storage" in volumes(c2) and not domains(c1)["web"]  # stopped, to be copied
    h2.kill_daemon()
    try:
        assert move.resume(timeout=300) == 6, move.output()  # BACKEND: h2 cannot be reached
        out = move.output()
        assert "web was not moved to h2: " in out and "it runs on h1 as before" in out, out
        assert "0xl doctor undoes it once h2 answers" in out, out
        # Where it was, running again on its own disk.
        assert domains(c1) == {"web": True}
        wait_logs(zx, "h1", "0XL-LIBVIRT-GUEST-READY tag=web boot=2")
        r = zx("list", "--all-hosts", "--json", "--timeout", "30")
        assert [(d["host"], d["name"]) for d in json.loads(r.out)] == [("h1", "web")], r
        # Another move waits for doctor.
        r = zx("move", "web", "--host", "h1", "--to", "h2")
        assert r.rc == 7 and "a move of web to the host h2 was interrupted" in r.err, r
    finally:
        h2.start_daemon()
    c2 = libvirt.open(h2.uri)  # the test's connection died with the daemon
    r = zx("doctor", timeout=120)
    assert r.rc == 0 and "undid the interrupted move of web to h2" in r.out, r
    assert "0xl-web-storage" not in volumes(c2) and "web" not in domains(c2)
    assert not (zhome / "hosts" / "h2" / "services" / "web").exists()
    assert domains(c1) == {"web": True}

    # A move killed once the record is saved on h2 (the service is defined there, not started; h1's domain
    # still runs) is finished by doctor: h1's domain goes, its volume stays, and web runs on h2.
    move = Stoppable(zhome, "move-recorded", "move", "web", "--host", "h1", "--to", "h2")
    move.wait_stopped(timeout=180)
    move.kill()
    assert domains(c2) == {"web": False} and domains(c1) == {"web": True}
    r = zx("doctor", timeout=300)
    assert r.rc == 0 and "finished the interrupted move of web from h1 to h2" in r.out, r
    assert "web" not in domains(c1) and domains(c2) == {"web": True}
    assert "0xl-web-storage" in volumes(c1)
    wait_logs(zx, "h2", "0XL-LIBVIRT-GUEST-READY tag=web boot=1")
    assert not (zhome / "hosts" / "h1" / "services" / "web").exists()
    assert not (zhome / "hosts" / "h2" / "services" / "web" / "moving.json").exists()
    assert "moved from the host h1 to h2" in zx("history", "web", "--host", "h2").out
