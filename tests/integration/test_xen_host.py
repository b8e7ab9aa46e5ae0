"""The xen backend on a host without Xen: what `add` records and refuses, what `0xl config` prints, and how
a failing `xl create` is undone. A signed Xen-x86_64 feed is served on 127.0.0.1 and `--backend xen`
forces the backend; the real xl, LVM and guests are in the Xen lab (tests/labs/xen/test_xen_backend.py).

The one fake here is an `xl` on PATH that fails `xl create` on demand, as a missing bridge makes the real
one fail, so that the undo path also runs in `make test`. Services with networks are added in a network
namespace the test makes, with real bridges (tests/support/netns.py), since `add` checks that they exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import netns
from tests.support.feeds import FeedSite, Impl
from tests.support.gpgkeys import Publisher
from tests.support.killing import Stoppable
from tests.support.zx import Result, snapshot
from tests.unit.test_macs import documented
from tests.unit.test_mirage import MIRAGE4_TWO_BLOCKS

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
        # The feed's one block, storage, names no disk: mirage's numbering puts the first block at xvdb.
        f'disk = [ "format=raw, vdev=xvdb, access=rw, target={zhome}/disks/mail/storage.img" ]',
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
        ("", ["--restart", "sometimes"], 2, "invalid choice"),
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


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        (
            '<s:block name="storage" vdev="xvdc"/><s:block name="logs" vdev="xvdc"/>',
            "blocks storage and logs are both at xvdc",
        ),
        ('<s:block name="storage"/><s:block name="logs" vdev="xvdb"/>', "blocks storage and logs are both at xvdb"),
        ('<s:block name="storage" vdev="xvdb, script=/x"/>', "is not a Xen disk name"),
    ],
)
def test_a_feed_with_two_blocks_at_one_disk_is_refused_and_creates_nothing(
    site: FeedSite, zx, zhome: Path, blocks: str, message: str
) -> None:
    url = publish(site, NEEDS.replace('<s:block name="storage" min-size="32M"/>', blocks))
    before = snapshot(zhome)
    r = zx("add", "mail", url, "--trust-key", site.publisher.fingerprint, "--backend", "xen", "--disk", "storage=32M")
    assert r.rc == 4 and message in r.err, r
    assert snapshot(zhome) == before


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


def test_config_of_a_unix_service_is_a_usage_error(site: FeedSite, zx) -> None:
    url = site.publish("web", [Impl("1.0")])
    assert zx("add", "web", url, "--trust-key", site.publisher.fingerprint).rc == 0
    r = zx("config", "web")
    assert r.rc == 2 and "runs on the unix backend, which has no VM config" in r.err, r
    r = zx("add", "web2", url, "--restart", "no")  # the unix backend has restart policies too now
    assert r.rc == 0, r
    assert json.loads(zx("status", "web2", "--json").out)["restart"] == "never"


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


# -- a Mirage unikernel's devices, and MACs unique to each host ------------------------------------------


@pytest.fixture
def ns() -> Iterator[netns.NetNs]:
    why = netns.available()
    if why:
        pytest.skip(why)
    space = netns.NetNs(("xenbr0", "xenbr1"))
    try:
        yield space
    finally:
        space.stop()


def publisher_0xl(*args: str | Path, home: Path, publisher: Publisher) -> Result:
    """`0xl ARGS` as the publisher runs it: their GNUPGHOME, a ZEROXL_HOME of their own."""
    env = dict(os.environ, ZEROXL_HOME=str(home / "publisher"), GNUPGHOME=str(publisher.gnupghome))
    p = subprocess.run(
        [sys.executable, "-m", "zeroxl", *map(str, args)], env=env, capture_output=True, text=True, timeout=60
    )
    r = Result(p.returncode, p.stdout, p.stderr)
    assert r.rc == 0, r
    return r


def mirage_feed(tmp_path: Path, ns: netns.NetNs, publisher: Publisher, template: str = MIRAGE4_TWO_BLOCKS) -> str:
    """A unikernel published as a publisher would: its build (dns.xen) and the dns.xl.in mirage wrote for it."""
    build, site = tmp_path / "build", tmp_path / "site"
    (build / "dist").mkdir(parents=True)
    site.mkdir()
    (build / "dist" / "dns.xen").write_bytes(b"\x7fELF not really a unikernel\n")
    (build / "dns.xl.in").write_text(template)
    publisher.publish_key(site)
    url = ns.serve(site) + "/dns.xml"
    feed = site / "dns.xml"
    for step in (
        ("feed", "init", feed, "--uri", url, "--name", "dns", "--summary", "a DNS server unikernel"),
        ("feed", "add", feed, "--version", "1.0", "--arch", "Xen-x86_64", "--dir", build / "dist",
         "--from-mirage", build / "dns.xl.in", "--block", "storage=32M", "--block", "logs=16M",
         "--memory", "64", "--stability", "stable"),
        ("feed", "sign", feed, "--key", publisher.fingerprint),
    ):  # fmt: skip
        publisher_0xl(*step, home=tmp_path, publisher=publisher)
    return url


def config_toml_for_bridges(home: Path) -> None:
    config_toml(home, '[policy]\nbridges = ["xenbr0", "xenbr1"]\n')


def test_a_mirage_unikernel_gets_its_blocks_where_the_template_says_and_each_host_its_own_macs(
    tmp_path: Path, ns: netns.NetNs, publisher: Publisher
) -> None:
    # mirage numbered storage 1 (xvdb) and logs 2 (xvdc), and listed logs first (tests/unit/test_mirage.py).
    url = mirage_feed(tmp_path, ns, publisher)
    macs = {}
    for host in ("host-a", "host-b"):
        home = tmp_path / host
        config_toml_for_bridges(home)
        args = ("--trust-key", publisher.fingerprint, "--backend", "xen", "--disk", "storage=64M", "--disk", "logs=32M")
        r = ns.run("add", "dns", url, *args, home=home)
        assert r.rc == 0, r
        r = ns.run("config", "dns", home=home)
        assert r.rc == 0, r
        disks = next(line for line in r.out.splitlines() if line.startswith("disk = "))
        assert disks == (
            f'disk = [ "format=raw, vdev=xvdb, access=rw, target={home}/disks/dns/storage.img", '
            f'"format=raw, vdev=xvdc, access=rw, target={home}/disks/dns/logs.img" ]'
        )
        # The expected MAC, computed here from the host's value with the formula of docs/xen.md.
        expected = documented(bytes.fromhex((home / "host-id").read_text()), "dns", 0)
        assert f'vif = [ "bridge=xenbr0, mac={expected}" ]' in r.out.splitlines()
        status = json.loads(ns.run("status", "dns", "--json", home=home).out)
        assert status["networks"] == [{"name": "0", "bridge": "xenbr0", "mac": expected}]
        shown = [line.split() for line in ns.run("status", "dns", home=home).out.splitlines()]
        assert ["network", "0:", "bridge", "xenbr0,", "mac", expected] in shown
        macs[host] = expected
    assert macs["host-a"] != macs["host-b"]


def test_a_mac_stays_across_destroy_and_add_and_an_operator_can_give_one(
    tmp_path: Path, ns: netns.NetNs, publisher: Publisher
) -> None:
    url = mirage_feed(tmp_path, ns, publisher)
    home = tmp_path / "host"
    config_toml_for_bridges(home)
    add = ("--trust-key", publisher.fingerprint, "--backend", "xen", "--disk", "storage=64M", "--disk", "logs=32M")

    def mac_of(name: str) -> str:
        return json.loads(ns.run("status", name, "--json", home=home).out)["networks"][0]["mac"]

    assert ns.run("add", "dns", url, *add, home=home).rc == 0
    first = mac_of("dns")
    assert ns.run("destroy", "dns", "--delete-disks", home=home).rc == 0
    assert ns.run("add", "dns", url, *add, home=home).rc == 0
    assert mac_of("dns") == first  # the host's value, the name and the index: the same MAC again

    r = ns.run("add", "dns2", url, *add, "--mac", "0=02:AA:00:00:00:01", home=home)
    assert r.rc == 0, r
    assert mac_of("dns2") == "02:aa:00:00:00:01"
    assert 'mac=02:aa:00:00:00:01" ]' in ns.run("config", "dns2", home=home).out

    before = snapshot(home)
    for extra, status, message in [
        (("--mac", "0=02:aa:00:00:00:01"), 7, "the MAC 02:aa:00:00:00:01 of dns3 is the one of the service dns2"),
        (("--mac", f"0={first}"), 7, f"the MAC {first} of dns3 is the one of the service dns"),
        (("--mac", "0=03:00:00:00:00:01"), 2, "is a multicast address"),
        (("--mac", "service=02:00:00:00:00:09"), 2, r"no such network (it declares: 0)"),
        (("--mac", "0=02:00:00:00:00:09", "--mac", "0=02:00:00:00:00:0a"), 2, "--mac 0 is given twice"),
    ]:
        r = ns.run("add", "dns3", url, *add, *extra, home=home)
        assert r.rc == status and message in r.err, r
        assert snapshot(home) == before


def test_a_damaged_host_value_is_reported_and_left_alone(tmp_path: Path, ns: netns.NetNs, publisher: Publisher) -> None:
    url = mirage_feed(tmp_path, ns, publisher)
    home = tmp_path / "host"
    config_toml_for_bridges(home)
    (home / "host-id").write_text("not 64 hexadecimal digits\n")
    before = snapshot(home)
    add = ("--trust-key", publisher.fingerprint, "--backend", "xen", "--disk", "storage=64M", "--disk", "logs=32M")
    r = ns.run("add", "dns", url, *add, home=home)
    assert r.rc == 1 and f"0xl: error: {home}/host-id is damaged" in r.err and "0xl: hint: restore it" in r.err, r
    assert "Traceback" not in r.err
    assert snapshot(home) == before


def test_two_adds_at_once_cannot_both_take_one_mac(tmp_path: Path, ns: netns.NetNs, publisher: Publisher) -> None:
    # The first add stops after its checks and its disks, before it records; the second records the MAC meanwhile.
    url = mirage_feed(tmp_path, ns, publisher)
    home = tmp_path / "host"
    config_toml_for_bridges(home)
    disks = ("--backend", "xen", "--disk", "storage=64M", "--disk", "logs=32M")
    assert ns.run("add", "first", url, "--trust-key", publisher.fingerprint, *disks, home=home).rc == 0
    assert ns.run("destroy", "first", "--delete-disks", home=home).rc == 0  # the key stays trusted
    add = (*disks, "--mac", "0=02:00:00:00:00:05")
    a = Stoppable(home, "add-disks-made", "add", "a", url, *add, prefix=ns.enter())
    a.wait_stopped()
    r = ns.run("add", "b", url, *add, home=home)
    assert r.rc == 0, r
    assert a.resume() == 7, a.output()
    assert "the MAC 02:00:00:00:00:05 of a is the one of the service b" in a.output()
    assert sorted(p.name for p in (home / "services").iterdir()) == ["b"]
    assert sorted(p.name for p in (home / "disks").iterdir()) == ["b"]  # a's disks were undone


def test_a_network_named_0_is_declared_and_shown_as_mirage_names_it(
    tmp_path: Path, ns: netns.NetNs, publisher: Publisher
) -> None:
    template = MIRAGE4_TWO_BLOCKS.replace("'bridge=@NETWORK:0@'", "'bridge=@NETWORK:1@', 'bridge=@NETWORK:0@'")
    url = mirage_feed(tmp_path, ns, publisher, template)
    home = tmp_path / "host"
    config_toml_for_bridges(home)
    r = ns.run(
        "add", "dns", url, "--trust-key", publisher.fingerprint, "--backend", "xen", "--disk", "storage=64M",
        "--disk", "logs=32M", "--net", "xenbr1", "--mac", "1=02:00:00:00:01:01", home=home,
    )  # fmt: skip
    assert r.rc == 0, r
    # vif 0 (network "0") on the bridge given first; network "1" with the MAC given for it.
    vifs = next(line for line in ns.run("config", "dns", home=home).out.splitlines() if line.startswith("vif"))
    derived = documented(bytes.fromhex((home / "host-id").read_text()), "dns", 0)
    assert vifs == f'vif = [ "bridge=xenbr1, mac={derived}", "bridge=xenbr0, mac=02:00:00:00:01:01" ]'
    assert [n["name"] for n in json.loads(ns.run("status", "dns", "--json", home=home).out)["networks"]] == ["0", "1"]


def test_a_mac_for_a_process_is_refused(site: FeedSite, zx, zhome: Path) -> None:
    url = site.publish("web", [Impl("1.0")])
    before = snapshot(zhome)
    r = zx("add", "web", url, "--trust-key", site.publisher.fingerprint, "--mac", "0=02:00:00:00:00:01")
    assert r.rc == 2 and "--mac: the unix backend gives a service no network interface" in r.err, r
    assert snapshot(zhome) == before


def test_a_xen_service_recorded_before_keeps_its_mac_and_gets_mirages_disk_numbering(
    tmp_path: Path, ns: netns.NetNs, publisher: Publisher
) -> None:
    # The record this 0xl writes, turned back into what 0xl wrote before (schema 2: no `macs`, blocks
    # without `vdev`), as an upgraded host has it.
    url = mirage_feed(tmp_path, ns, publisher)
    home = tmp_path / "host"
    config_toml_for_bridges(home)
    add = ("--trust-key", publisher.fingerprint, "--backend", "xen", "--disk", "storage=64M", "--disk", "logs=32M")
    assert ns.run("add", "dns", url, *add, home=home).rc == 0
    path = home / "services" / "dns" / "service.json"
    record = json.loads(path.read_text())
    del record["macs"]
    for block in record["current"]["needs"]["blocks"]:
        del block["vdev"]
    path.write_text(json.dumps({**record, "schema": 2}))

    r = ns.run("config", "dns", home=home)
    assert r.rc == 0, r
    # The MAC 0xl gave it then: 00:16:3e and the first 3 bytes of sha256("0xl-vif\0NAME\0INDEX") (docs/xen.md
    # of that 0xl); its blocks by mirage's numbering, in the order its feed declared them.
    old_mac = "00:16:3e:" + ":".join(f"{b:02x}" for b in hashlib.sha256(b"0xl-vif\x00dns\x000").digest()[:3])
    assert f'vif = [ "bridge=xenbr0, mac={old_mac}" ]' in r.out.splitlines()
    assert f"vdev=xvdb, access=rw, target={home}/disks/dns/storage.img" in r.out
    assert f"vdev=xvdc, access=rw, target={home}/disks/dns/logs.img" in r.out
    assert json.loads(ns.run("list", "--json", home=home).out)[0]["name"] == "dns"
    assert ns.run("destroy", "dns", "--delete-disks", home=home).rc == 0
