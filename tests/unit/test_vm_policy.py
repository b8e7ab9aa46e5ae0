"""What a VM gets on this host: memory and bridges against the feed and the host's policy, stable MACs,
the restart policy, and the domain built from all of it (pure: no xl, no files)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from tests.support.words import refused, said
from zeroxl.backends.vmguest import disk_vdevs
from zeroxl.backends.xen.domain import ACTIONS, domain_config
from zeroxl.errors import BackendError, ConflictError, PolicyError, StateError, UsageError
from zeroxl.host.config import Policy
from zeroxl.host.needs import BlockDevice, BootArg, ServiceNeeds
from zeroxl.host.policy import DEFAULT_MEMORY, check_bridges, check_memory, check_restart, plan_bridges, vm_memory
from zeroxl.state.selected import Selected
from zeroxl.state.service import Disk, Service

NEEDS = ServiceNeeds(
    memory_min=64,
    memory=128,
    blocks=(BlockDevice("storage", 1 << 20), BlockDevice("log", 1 << 20)),
    networks=("service", "admin"),
    args=(BootArg("ipv4", r"[0-9./]+", required=True), BootArg("hostname", "[a-z]+")),
    xen_type="pvh",
)


def service(name: str = "mail", needs: ServiceNeeds = NEEDS, **kw: object) -> Service:
    sel = Selected("id", "1.0", "sha256new_X", "Xen-x86_64", "stable", "mail.xen", needs=needs)
    return Service(name=name, feed="http://x/mail.xml", backend="xen", target="Xen-x86_64", current=sel, **kw)  # type: ignore[arg-type]


# -- memory --------------------------------------------------------------------------------------------


def test_memory_is_the_operators_then_the_feeds_then_the_default() -> None:
    assert vm_memory(512, NEEDS) == 512
    assert vm_memory(None, NEEDS) == 128
    assert vm_memory(None, ServiceNeeds()) == DEFAULT_MEMORY
    assert vm_memory(None, ServiceNeeds(memory_min=1024)) == 1024


def test_memory_below_what_the_feed_needs_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="32 MiB of memory is below the 64 MiB"):
        check_memory("mail", 32, NEEDS, Policy(), [])


def test_memory_over_the_limit_per_service_is_refused_by_policy() -> None:
    with pytest.raises(PolicyError, match="over the host's limit of 256 MiB per service"):
        check_memory("mail", 512, NEEDS, Policy(max_memory=256), [])
    assert check_memory("mail", 256, NEEDS, Policy(max_memory=256), []) == 256


def test_total_memory_counts_the_other_services_configured_memory() -> None:
    others = [300, vm_memory(None, NEEDS)]  # a with --memory 300, b with what its feed recommends
    assert check_memory("mail", 572, NEEDS, Policy(max_total_memory=1000), others) == 572
    with pytest.raises(PolicyError, match=r"to 1001 MiB, over its limit of 1000 MiB in total \(428 MiB are taken\)"):
        check_memory("mail", 573, NEEDS, Policy(max_total_memory=1000), others)


# -- bridges -------------------------------------------------------------------------------------------


def test_bridges_map_in_order_and_the_policy_gives_the_default() -> None:
    policy = Policy(bridges=("xenbr0", "dmz"))
    assert plan_bridges(["dmz", "xenbr0"], NEEDS, policy) == ("dmz", "xenbr0")
    assert plan_bridges(["dmz"], NEEDS, policy) == ("dmz", "xenbr0")
    assert plan_bridges([], NEEDS, policy) == ("xenbr0", "xenbr0")


def test_without_a_bridge_list_every_network_needs_a_net() -> None:
    assert plan_bridges(["br1", "br2"], NEEDS, Policy()) == ("br1", "br2")
    with pytest.raises(UsageError, match="needs a bridge for its network 'admin'"):
        plan_bridges(["br1"], NEEDS, Policy())


def test_a_bridge_the_policy_does_not_list_is_refused() -> None:
    with pytest.raises(PolicyError, match="bridge br9 is not one the host allows"):
        plan_bridges(["br9", "xenbr0"], NEEDS, Policy(bridges=("xenbr0",)))
    with pytest.raises(PolicyError, match=r"allows services to use \(none\)"):
        plan_bridges(["br0", "br1"], NEEDS, Policy(bridges=()))


@pytest.mark.parametrize("bad", ["br0,script=/x", "", "-br", "a" * 16, "br 0", "br0\n", "../x"])
def test_bridge_names_are_plain(bad: str) -> None:
    with pytest.raises(UsageError, match="not a bridge name"):
        plan_bridges([bad], NEEDS, Policy())


def test_more_bridges_than_declared_networks_is_refused() -> None:
    with refused(UsageError, r"3 --net given, but the service declares 2 network\(s\)"):
        plan_bridges(["a", "b", "c"], NEEDS, Policy())


def test_restart_policies() -> None:
    assert [check_restart(p) for p in ("always", "on-failure", "never")] == ["always", "on-failure", "never"]
    assert check_restart("no") == "never"  # its name before `always` came
    with refused(UsageError, "invalid --restart 'sometimes'"):
        check_restart("sometimes")
    # (on_poweroff, on_reboot, on_crash)
    assert ACTIONS["always"] == ("restart", "restart", "restart")
    assert ACTIONS["on-failure"] == ("destroy", "restart", "restart")
    assert ACTIONS["never"] == ("destroy", "destroy", "preserve")


def test_a_record_of_before_always_came_loads_with_never() -> None:
    old = service(restart="no").to_json()
    assert Service.from_json(old).restart == "never"
    for field in ("enabled", "start_order", "user"):
        del old[field]  # a record written before boot, start order and users
    loaded = Service.from_json(old)
    assert (loaded.enabled, loaded.start_order, loaded.user) == (True, 50, None)


# -- the domain ----------------------------------------------------------------------------------------

DISKS = (
    Disk("log", 1 << 30, "file", "/var/lib/0xl/disks/mail/log.img"),
    Disk("storage", 1 << 30, "lvm", "vg0/0xl-mail-storage"),
)


MACS = ("02:00:00:00:00:01", "02:00:00:00:00:02")


def test_the_domain_is_built_from_the_record_and_the_feed() -> None:
    svc = service(
        args={"hostname": "mx", "ipv4": "10.0.0.2/24"},
        networks=("xenbr0", "dmz"),
        macs=MACS,
        disks=DISKS,
        restart="never",
    )
    cfg = domain_config(svc, kernel="/s/mail.xen", ramdisk=None, policy=Policy(), others=[])
    assert (cfg.name, cfg.type, cfg.kernel, cfg.memory, cfg.vcpus) == ("mail", "pvh", "/s/mail.xen", 128, 1)
    assert cfg.cmdline == (("ipv4", "10.0.0.2/24"), ("hostname", "mx"))  # in the feed's order
    # mirage's numbering: the first declared block device (storage) at xvdb, the second (log) at xvdc.
    assert [(d.vdev, d.target) for d in cfg.disks] == [
        ("xvdb", "/dev/vg0/0xl-mail-storage"),
        ("xvdc", "/var/lib/0xl/disks/mail/log.img"),
    ]
    assert [(v.bridge, v.mac) for v in cfg.vifs] == [("xenbr0", MACS[0]), ("dmz", MACS[1])]  # as recorded
    assert (cfg.on_poweroff, cfg.on_reboot, cfg.on_crash) == ("destroy", "destroy", "preserve")


def vdevs(svc: Service) -> list[tuple[str, str]]:
    return [(vdev, d.name) for vdev, d in disk_vdevs(svc)]


def test_disks_are_where_their_feed_declares_them_or_numbered_from_xvdb() -> None:
    assert vdevs(service(disks=DISKS)) == [("xvdb", "storage"), ("xvdc", "log")]
    declared = replace(NEEDS, blocks=(BlockDevice("storage", 1, "xvdq"), BlockDevice("log", 1, "xvda")))
    assert vdevs(service(needs=declared, disks=DISKS)) == [("xvda", "log"), ("xvdq", "storage")]


def test_a_disk_no_block_declares_takes_the_first_free_disk_from_xvdb() -> None:
    # `--disk 1G` for a feed that declares no block: the disk `data`, where mirage's first block would be.
    data = Disk("data", 1 << 30, "file", "/d/data.img")
    assert vdevs(service(needs=ServiceNeeds(), disks=(data,))) == [("xvdb", "data")]
    one = replace(NEEDS, blocks=(BlockDevice("storage", 1, "xvdb"), BlockDevice("log", 1, "xvdd")))
    assert vdevs(service(needs=one, disks=(*DISKS, data))) == [("xvdb", "storage"), ("xvdc", "data"), ("xvdd", "log")]


def test_a_record_with_two_blocks_at_one_disk_is_refused_when_the_domain_is_built() -> None:
    # Feeds are refused when parsed (test_parse.py); a record edited by hand meets the same rule here.
    clash = replace(NEEDS, blocks=(BlockDevice("storage", 1, "xvdc"), BlockDevice("log", 1)))
    svc = service(needs=clash, networks=("a", "b"), macs=MACS, disks=DISKS)
    with pytest.raises(StateError, match="blocks storage and log are both at xvdc"):
        domain_config(svc, kernel="/k", ramdisk=None, policy=Policy(), others=[])


def test_the_recorded_macs_are_checked_against_the_other_services() -> None:
    svc = service(networks=("a", "b"), macs=MACS)
    other = service("web", networks=("a",), macs=(MACS[1],))
    with pytest.raises(ConflictError, match="the MAC 02:00:00:00:00:02 of mail is the one of the service web"):
        domain_config(svc, kernel="/k", ramdisk=None, policy=Policy(), others=[other])
    with pytest.raises(StateError, match="has 1 MAC"):
        domain_config(replace(svc, macs=MACS[:1]), kernel="/k", ramdisk=None, policy=Policy(), others=[])


def test_an_undeclared_or_mismatching_argument_never_reaches_the_command_line() -> None:
    base = service(networks=("a", "b"), macs=MACS)
    with refused(UsageError, "--arg port is not an argument"):
        domain_config(replace(base, args={"port": "1"}), kernel="/k", ramdisk=None, policy=Policy(), others=[])
    with pytest.raises(UsageError, match="does not match the pattern"):
        domain_config(replace(base, args={"ipv4": "x y"}), kernel="/k", ramdisk=None, policy=Policy(), others=[])


def test_the_policy_is_checked_again_when_the_domain_is_built() -> None:
    svc = service(networks=("a", "b"), macs=MACS)
    with pytest.raises(PolicyError):
        domain_config(svc, kernel="/k", ramdisk=None, policy=Policy(max_memory=64), others=[])
    with pytest.raises(PolicyError):
        domain_config(svc, kernel="/k", ramdisk=None, policy=Policy(bridges=("a",)), others=[])
    with pytest.raises(UsageError, match="has 1 bridge"):
        domain_config(
            replace(svc, networks=("a",), macs=MACS[:1]), kernel="/k", ramdisk=None, policy=Policy(), others=[]
        )


def test_a_disk_of_an_unknown_kind_is_refused() -> None:
    svc = service(networks=("a", "b"), macs=MACS, disks=(Disk("storage", 1, "nbd", "x"),))
    with pytest.raises(BackendError, match="cannot attach"):
        domain_config(svc, kernel="/k", ramdisk=None, policy=Policy(), others=[])


# -- what `make mutate` found untested (docs/mutation.md) ----------------------------------------------


def test_memory_exactly_what_the_feed_needs_is_enough() -> None:
    assert check_memory("mail", 64, NEEDS, Policy(), []) == 64


def test_more_bridges_than_networks_says_the_feed_declares_none() -> None:
    with refused(UsageError, r"1 --net given, but the service declares 0 network\(s\) \(none\)"):
        plan_bridges(["br0"], ServiceNeeds(), Policy())


@pytest.mark.parametrize(
    ("refusal", "hint"),
    [
        (lambda: check_restart("sometimes"), "choose one of: always, on-failure, never"),
        (lambda: plan_bridges(["br 0"], NEEDS, Policy()), "e.g. xenbr0"),
        (lambda: check_memory("mail", 32, NEEDS, Policy(), []), "give --memory 64 or more"),
        (lambda: check_memory("mail", 512, NEEDS, Policy(max_memory=256), []), "raise [policy] max_memory"),
        (lambda: check_memory("mail", 512, NEEDS, Policy(max_total_memory=600), [300]), "destroy a service"),
        (lambda: plan_bridges(["br1"], NEEDS, Policy()), "--net BRIDGE (one per network, in order)"),
        (lambda: plan_bridges(["br9", "br1"], NEEDS, Policy(bridges=("br1",))), "add it to [policy] bridges"),
    ],
)
def test_each_refusal_says_what_to_do(refusal: Callable[[], object], hint: str) -> None:
    with pytest.raises((UsageError, PolicyError)) as e:
        refusal()
    assert hint in (said(e.value)[1] or "")


def test_refusals_list_the_networks_and_bridges_they_compare() -> None:
    with refused(UsageError, r"3 --net given, but the service declares 2 network\(s\) \(service, admin\)"):
        plan_bridges(["a", "b", "c"], NEEDS, Policy())
    with refused(PolicyError, r"allows services to use \(xenbr0, dmz\)"):
        plan_bridges(["br9", "dmz"], NEEDS, Policy(bridges=("xenbr0", "dmz")))
    # A record whose bridges no longer match the feed, as the domain is built from it.
    with refused(UsageError, r"declares 2 network\(s\) \(service, admin\) but has 1 bridge\(s\) \(br0\)$"):
        check_bridges(("br0",), NEEDS, Policy())
    with refused(UsageError, r"declares 0 network\(s\) \(none\) but has 1 bridge\(s\) \(br0\)$"):
        check_bridges(("br0",), ServiceNeeds(), Policy())
    with refused(UsageError, r"declares 2 network\(s\) \(service, admin\) but has 0 bridge\(s\) \(none\)$"):
        check_bridges((), NEEDS, Policy())
