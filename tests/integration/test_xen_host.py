"""The xen backend on a host without Xen: what `add` records and refuses, what `0xl config` prints, and how
a failing `xl create` is undone. A signed Xen-x86_64 feed is served on 127.0.0.1 and `--backend xen`
forces the backend; the real xl, LVM and guests are in the Xen lab (tests/labs/xen/test_xen_backend.py).

The one fake here is an `xl` on PATH that fails `xl create` on demand, as a missing bridge makes the real
one fail, so that the undo path also runs in `make test`.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.zx import snapshot
from zeroxl.backends.xenconfig import mac_for

NEEDS = (
    '<s:needs xmlns:s="urn:x-0xl:service:1" memory-min="64" memory="128" xen-type="pvh" ramdisk="initrd.img">'
    '<s:block name="storage" min-size="32M"/>'
    '<s:arg name="tag" pattern="[a-z0-9-]{1,20}"/><s:arg name="ip" pattern="[0-9.]+/[0-9]+"/>'
    "</s:needs>"
)
FILES = {"guest.xen": (b"\x7fELF not really a kernel\n", 0o644), "initrd.img": (b"initrd\n", 0o644)}


def publish(site: FeedSite, needs: str = NEEDS) -> str:
    return site.publish("guest", [Impl("1.0", files=FILES, arch="Xen-x86_64", command="guest.xen", needs_xml=needs)])


def config_toml(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(textwrap.dedent(text))


def test_add_records_a_xen_service_and_config_prints_its_xl_cfg(site: FeedSite, zx, zhome: Path) -> None:
    url = publish(site)
    fpr = site.publisher.fingerprint
    r = zx("add", "mail", url, "--trust-key", fpr, "--backend", "xen", "--disk", "64M", "--arg", "tag=mail")
    assert r.rc == 0, r
    assert "for Xen-x86_64 (xen)" in r.out

    r = zx("config", "mail")
    assert r.rc == 0, r
    digest = json.loads((zhome / "services" / "mail" / "service.json").read_text())["current"]["digest"]
    store = zhome / "store" / digest
    lines = r.out.splitlines()
    assert lines[0].startswith("# Written by 0xl for the service mail")
    assert lines[2:] == [
        'name = "mail"',
        'type = "pvh"',
        f'kernel = "{store}/guest.xen"',
        f'ramdisk = "{store}/initrd.img"',
        'cmdline = "--tag=mail"',
        "memory = 128",
        "vcpus = 1",
        'on_poweroff = "destroy"',
        'on_reboot = "restart"',
        'on_crash = "restart"',
        f'disk = [ "format=raw, vdev=xvda, access=rw, target={zhome}/disks/mail/storage.img" ]',
    ]
    # Printing it wrote nothing: the file is written by `run`.
    assert not (zhome / "services" / "mail" / "xen").exists()


def test_on_a_host_without_xen_nothing_runs_and_destroy_still_works(site: FeedSite, zx, zhome: Path) -> None:
    url = publish(site)
    assert (
        zx("add", "mail", url, "--trust-key", site.publisher.fingerprint, "--backend", "xen", "--disk", "32M").rc == 0
    )
    assert json.loads(zx("status", "mail", "--json").out)["state"] == "stopped"
    if shutil.which("xl") is None:
        before = snapshot(zhome)
        r = zx("run", "mail")
        assert r.rc == 6 and "mail cannot start: xl is not installed" in r.err, r
        assert snapshot(zhome) == before
    r = zx("destroy", "mail", "--delete-disks")
    assert r.rc == 0 and "deleted disk storage" in r.out, r
    assert not (zhome / "disks" / "mail").exists()


def test_restart_policy_no_keeps_a_crashed_domain(site: FeedSite, zx) -> None:
    url = publish(site)
    args = ("--trust-key", site.publisher.fingerprint, "--backend", "xen", "--disk", "32M", "--restart", "no")
    assert zx("add", "mail", url, *args).rc == 0
    out = zx("config", "mail").out
    assert 'on_reboot = "destroy"' in out and 'on_crash = "preserve"' in out


@pytest.mark.parametrize(
    "case",
    [
        ("[policy]\nmax_memory = 100\n", [], 9, "over the host's limit of 100 MiB per service"),
        ("[policy]\nmax_total_memory = 100\n", [], 9, "over its limit of 100 MiB in total"),
        ("", ["--memory", "32"], 2, "below the 64 MiB the service needs"),
        ('[policy]\nmax_disk_size = "16M"\n', [], 9, "over the host's limit of 16M"),
        ("", ["--net", "xenbr0"], 2, "the service declares 0 network"),
        ("", ["--arg", "tag=A B"], 2, "does not match the pattern"),
        ("", ["--restart", "always"], 2, "invalid choice"),
    ],
)
def test_a_request_over_the_policy_or_against_the_feed_creates_nothing(
    site: FeedSite, zx, zhome: Path, case: tuple[str, list[str], int, str]
) -> None:
    toml, extra, status, message = case
    url = publish(site)
    config_toml(zhome, toml)
    before = snapshot(zhome)
    r = zx("add", "mail", url, "--trust-key", site.publisher.fingerprint, "--backend", "xen", "--disk", "32M", *extra)
    assert r.rc == status, r
    assert message in r.err
    assert snapshot(zhome) == before
    assert not (zhome / "store").exists() or not any((zhome / "store").iterdir())  # nothing was even fetched


def test_the_total_memory_counts_the_services_already_added(site: FeedSite, zx, zhome: Path) -> None:
    url = publish(site)
    config_toml(zhome, "[policy]\nmax_total_memory = 300\n")
    args = ("--backend", "xen", "--disk", "32M")
    assert zx("add", "a", url, "--trust-key", site.publisher.fingerprint, *args, "--memory", "200").rc == 0
    r = zx("add", "b", url, *args)  # 128 MiB recommended: 328 in all
    assert r.rc == 9 and "(200 MiB are taken)" in r.err, r
    assert zx("add", "b", url, *args, "--memory", "100").rc == 0


def test_networks_take_the_policys_default_bridge_and_a_missing_bridge_is_refused(
    site: FeedSite, zx, zhome: Path
) -> None:
    needs = NEEDS.replace("<s:arg ", '<s:network name="service"/><s:arg ', 1)
    url = publish(site, needs)
    config_toml(zhome, '[policy]\nbridges = ["0xl-test-nobr"]\n')
    before = snapshot(zhome)
    r = zx("add", "mail", url, "--trust-key", site.publisher.fingerprint, "--backend", "xen", "--disk", "32M")
    assert r.rc == 3 and "there is no bridge 0xl-test-nobr on this host" in r.err, r
    assert snapshot(zhome) == before
    r = zx(
        "add",
        "mail",
        url,
        "--trust-key",
        site.publisher.fingerprint,
        "--backend",
        "xen",
        "--disk",
        "32M",
        "--net",
        "br1",
    )
    assert r.rc == 9 and "bridge br1 is not one the host allows" in r.err, r


def test_mac_is_derived_from_the_service_name() -> None:
    # What docs/xen.md promises: the same MAC at every start, and after destroy and add of the same name.
    assert mac_for("mail", 0) == "00:16:3e:1a:3f:c8"


def test_config_of_a_unix_service_is_a_usage_error(site: FeedSite, zx) -> None:
    url = site.publish("web", [Impl("1.0")])
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint).rc == 0
    r = zx("config", "web")
    assert r.rc == 2 and "runs on the unix backend, which has no VM config" in r.err, r
    r = zx("add", "web2", url, "--restart", "no")
    assert r.rc == 2 and "the unix backend restarts a service that fails" in r.err, r


FAKE_XL = """\
#!/bin/sh
# A stand-in for xl that fails `xl create` as a missing bridge makes the real one fail.
echo "xl $*" >> "$FAKE_XL_LOG"
case "$1" in
  list) echo "Name  ID   Mem VCPUs  State   Time(s)   UUID  Reason-Code  Security Label"
        echo "Domain-0  0  1024  1  r-----  1.0  00000000-0000-0000-0000-000000000000  -  -" ;;
  create) echo "libxl: error: libxl_exec.c:117: /etc/xen/scripts/vif-bridge online exited with error status 1" >&2
          exit 3 ;;
  *) echo "xl: unable to find domain" >&2; exit 1 ;;
esac
"""


def test_a_failed_xl_create_is_undone_and_records_nothing(
    site: FeedSite, zx, zhome: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = publish(site)
    assert (
        zx("add", "mail", url, "--trust-key", site.publisher.fingerprint, "--backend", "xen", "--disk", "32M").rc == 0
    )
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "xl").write_text(FAKE_XL)
    (bindir / "xl").chmod(0o755)
    log = tmp_path / "xl.log"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_XL_LOG", str(log))
    before = snapshot(zhome)

    r = zx("run", "mail")
    assert r.rc == 6, r
    assert "mail did not start" in r.err and "vif-bridge online exited with error status 1" in r.err
    calls = log.read_text().splitlines()
    create = next(c for c in calls if c.startswith("xl create"))
    assert create == f"xl create -- {zhome}/services/mail/xen/xl.cfg.new"
    # Undone: the domain destroyed (in case xl left it half built) and found gone, the config removed.
    assert calls[calls.index(create) + 1 :][:2] == ["xl destroy -- mail", "xl domid -- mail"]
    assert snapshot(zhome) == before
    assert not (zhome / "services" / "mail" / "xen" / "xl.cfg.new").exists()
    assert json.loads((zhome / "services" / "mail" / "service.json").read_text())["desired"] == "stopped"
