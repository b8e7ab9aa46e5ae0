"""Health checks and automatic rollback on a remote host (docs/fleet.md, "Health checks on a remote
host"): the console is a file in the host's pool that 0xl pulls again through a volume download while it
watches (only the bytes it has not seen yet), so `--ready-log` sees the new run's lines and the Solo5 exit
of a broken version is found there; and a run's check never matches a line an earlier run wrote."""

from __future__ import annotations

import json
import time
from pathlib import Path

import libvirt
import pytest

from tests.labs.libvirt import lab, services
from tests.labs.libvirt.remote import RemoteHost
from tests.labs.libvirt.services import POOL
from tests.support.feeds import FeedSite
from tests.support.killing import Stoppable
from tests.support.zx import wait_for

pytestmark = pytest.mark.libvirt

READY = "^0XL-LIBVIRT-GUEST-READY tag=web boot={}$"


def ready(boot: int, timeout: int = 120) -> list[str]:
    return ["--ready-log", READY.format(boot), "--ready-timeout", str(timeout), "--settle", "1"]


def add_and_run(zx, site: FeedSite, url: str, host: str) -> None:
    r = zx("add", "web", url, "--host", host, "--trust-key", site.publisher.fingerprint, "--backend", "libvirt",
           "--arg", "tag=web", "--disk", "storage=32M")  # fmt: skip
    assert r.rc == 0, r
    assert zx("run", "web", "--host", host).rc == 0
    assert wait_for(
        lambda: "0XL-LIBVIRT-GUEST-READY tag=web boot=1" in zx("logs", "web", "--host", host).out,
        timeout=120,
        interval=1,
    ), zx("logs", "web", "--host", host)


def state(zx, host: str) -> tuple[str, str]:
    status = json.loads(zx("status", "web", "--host", host, "--json").out)
    return status["state"], status["version"]


def test_a_remote_update_passes_its_log_check_and_a_broken_one_is_rolled_back_on_its_own(  # noqa: PLR0917 - the lab's fixtures
    hosts: list[tuple[RemoteHost, libvirt.virConnect]],
    zx,
    zhome: Path,
    site: FeedSite,
    guest_image: lab.GuestImage,
    tmp_path: Path,
    lab_timings: dict[str, list[float]],
) -> None:
    (h1, c1), _ = hosts
    assert zx("host", "add", "h1", h1.uri, "--pool", POOL).rc == 0
    url = services.publish(site, guest_image, "1.0")
    add_and_run(zx, site, url, "h1")

    # The new run's READY line (boot=2: the guest counts its boots on its disk) comes after the watch began:
    # the console pulled at the start of the check does not have it.
    site.publish("guest", [services.guest_impl(guest_image, v) for v in ("1.0", "2.0")])
    r = zx("update", "web", "--host", "h1", *ready(2), timeout=300)
    assert r.rc == 0, r
    assert state(zx, "h1") == ("running", "2.0")
    assert services.metadata(c1.lookupByName("web"))["version"] == "2.0"

    # A broken 3.0 exits as a Solo5 unikernel does: found on the remote console at once (libvirt still says
    # "running"), not after the ready timeout, and 2.0 runs again.
    impls = [services.guest_impl(guest_image, v) for v in ("1.0", "2.0")]
    site.publish("guest", [*impls, services.broken_impl(guest_image, "3.0", tmp_path)])
    r = zx("update", "web", "--host", "h1", *ready(3, timeout=600), timeout=600)
    assert r.rc == 10, r  # ROLLED_BACK
    assert "exited with status 3" in r.err and "rolled back to 2.0" in r.err, r
    assert state(zx, "h1") == ("running", "2.0")
    logs = zx("logs", "web", "--host", "h1").out
    assert "0XL-LIBVIRT-GUEST-BROKEN" in logs and "0XL-LIBVIRT-GUEST-READY tag=web boot=3" in logs, logs
    history = zx("history", "web", "--host", "h1").out
    assert "auto-rollback" in history, history

    # What a look at a remote console costs (measured, never asserted): a console grown by 8 MiB pulled
    # whole (no copy here yet), then again with nothing new (only its size is asked).
    console = h1.home / "pool-images" / "0xl-console.web.log"
    h1.as_user(
        "sh",
        "-c",
        f"yes 0XL-FILLER-LINE-OF-SIXTY-FOUR-BYTES-FOR-THE-COST-OF-A-PULL------- | head -n 131072 >> {console}",
    )
    copy = zhome / "hosts" / "h1" / "services" / "web" / "libvirt" / "console.log"
    copy.unlink()
    for what in ("whole console of 8 MiB", "nothing new"):
        started = time.monotonic()
        assert zx("logs", "web", "--host", "h1").rc == 0
        lab_timings.setdefault(f"0xl logs on a remote host, {what}", []).append(time.monotonic() - started)
    assert copy.stat().st_size == console.stat().st_size


def test_a_check_never_matches_a_line_of_the_run_before_it_remote(
    hosts: list[tuple[RemoteHost, libvirt.virConnect]],
    zx,
    site: FeedSite,
    guest_image: lab.GuestImage,
) -> None:
    """The pattern matches boot 1's READY line, which the console holds before the update: the new run
    (boot 2) never prints one that matches, so its check must fail after the ready timeout, and 1.0 runs
    again (boot 3, whose line the rollback's check matches)."""
    (h1, _c1), _ = hosts
    assert zx("host", "add", "h1", h1.uri, "--pool", POOL).rc == 0
    url = services.publish(site, guest_image, "1.0")
    add_and_run(zx, site, url, "h1")
    site.publish("guest", [services.guest_impl(guest_image, v) for v in ("1.0", "2.0")])
    # Boot 3 is 1.0 again, after the rollback: its check passes on a line of its own.
    pattern = "^0XL-LIBVIRT-GUEST-READY tag=web boot=(1|3)$"
    r = zx("update", "web", "--host", "h1", "--ready-log", pattern, "--ready-timeout", "20", "--settle", "1",
           timeout=300)  # fmt: skip
    assert r.rc == 10 and "no log line matched" in r.err, r
    assert state(zx, "h1") == ("running", "1.0")


def test_a_remote_update_killed_after_the_new_version_started_is_undone_by_its_guardian(
    hosts: list[tuple[RemoteHost, libvirt.virConnect]],
    zx,
    zhome: Path,
    site: FeedSite,
    guest_image: lab.GuestImage,
) -> None:
    """The guardian works on the host of the update it watches (its records under hosts/NAME, reached at
    the host's URI): before, it took hosts/NAME for a home of its own, with no URI, and left 2.0 running
    under a record of 1.0."""
    (h1, c1), _ = hosts
    assert zx("host", "add", "h1", h1.uri, "--pool", POOL).rc == 0
    url = services.publish(site, guest_image, "1.0")
    add_and_run(zx, site, url, "h1")
    site.publish("guest", [services.guest_impl(guest_image, v) for v in ("1.0", "2.0")])
    update = Stoppable(zhome, "started", "update", "web", "--host", "h1", *ready(2))
    update.wait_stopped(timeout=180)
    assert services.metadata(c1.lookupByName("web"))["version"] == "2.0"  # the new one runs, unrecorded
    update.kill()
    assert wait_for(lambda: services.metadata(c1.lookupByName("web"))["version"] == "1.0", timeout=180), (
        zhome / "hosts" / "h1" / "guardian.log"
    ).read_text()
    assert wait_for(lambda: "interrupted" in zx("history", "web", "--host", "h1").out, timeout=180), zx(
        "history", "web", "--host", "h1"
    )
    assert state(zx, "h1") == ("running", "1.0")
    # 1.0 boots again on its disk (boot 2 or 3: 2.0 may have been stopped before it counted its boot).
    assert wait_for(
        lambda: zx("logs", "web", "--host", "h1").out.count("0XL-LIBVIRT-GUEST-READY tag=web") >= 2,
        timeout=180,
        interval=1,
    ), zx("logs", "web", "--host", "h1")
