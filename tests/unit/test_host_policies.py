"""Per-host policy in config.toml ([hosts.NAME.policy], docs/fleet.md): parsed over [policy], refused
when it names an unknown key or a host the registry does not have, and carried by a host's Context."""

from __future__ import annotations

from pathlib import Path

import pytest

from zeroxl.app.context import Context
from zeroxl.errors import ConfigError
from zeroxl.host import config
from zeroxl.host.config import Policy
from zeroxl.host.paths import Home, HostHome
from zeroxl.state.hosts import Hosts


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_a_hosts_table_replaces_the_keys_it_gives_and_keeps_the_others(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[policy]\nmax_memory = 512\nmax_total_memory = 1024\nbridges = ["br0"]\n'
        '[hosts.big.policy]\nmax_total_memory = 8192\nmax_disk_size = "1G"\n'
        "[hosts.local.policy]\nmax_memory = 128\n",
    )
    loaded = config.load(path)
    assert loaded.policy == Policy(512, 1024, None, ("br0",))
    assert loaded.policy_of("big") == Policy(512, 8192, 1 << 30, ("br0",))
    assert loaded.policy_of("local") == Policy(128, 1024, None, ("br0",))
    assert loaded.policy_of("other") == loaded.policy


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("[hosts.big.policy]\nmax_memroy = 1\n", "unknown key [hosts.big.policy] max_memroy", "max_memory"),
        ("[hosts.big.polcy]\nmax_memory = 1\n", "unknown table [hosts.big.polcy]", "[hosts.big.policy]"),
        ("[hosts]\nbig = 3\n", "[hosts.big] must be a table", "[hosts.big.policy]"),
        ("[hosts.big]\npolicy = 3\n", "[hosts.big.policy] must be a table", ""),
        ('[hosts.big.policy]\nmax_memory = "x"\n', "[hosts.big.policy] max_memory has the wrong type", ""),
        ("[hosts.big.policy]\nbridges = [1]\n", "[hosts.big.policy] bridges must be a list of names", ""),
    ],
)
def test_a_hosts_table_with_what_0xl_does_not_know_is_refused(
    tmp_path: Path, text: str, message: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as e:
        config.load(write(tmp_path, text))
    assert message in e.value.message
    assert hint in str(e.value.hint or "")
    assert e.value.exit_status == 11


def test_a_hosts_context_carries_that_hosts_policy_and_an_unknown_host_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "[policy]\nmax_memory = 512\n[hosts.kvm1.policy]\nmax_memory = 2048\n")
    with pytest.raises(ConfigError) as e:
        _ = Context(Home(tmp_path)).config
    assert "[hosts.kvm1.policy] names no host" in e.value.message and e.value.exit_status == 11
    Hosts(tmp_path).add("kvm2", "qemu+ssh://root@kvm2/system")
    with pytest.raises(ConfigError) as e:
        _ = Context(Home(tmp_path)).config
    assert e.value.hint == "did you mean [hosts.kvm2.policy]?"

    Hosts(tmp_path).add("kvm1", "qemu+ssh://root@kvm1/system")
    assert Context(Home(tmp_path)).config.policy.max_memory == 512
    kvm1 = Context(HostHome(tmp_path, "kvm1"), libvirt_uri="qemu+ssh://root@kvm1/system")
    assert kvm1.host == "kvm1" and kvm1.config.policy.max_memory == 2048
    assert Context(HostHome(tmp_path, "kvm2")).config.policy.max_memory == 512


# -- placement's rule (app.fleet.choose) -----------------------------------------------------------------


def test_placement_takes_the_host_that_fits_with_the_most_free_memory_ties_by_name() -> None:
    from zeroxl.app.fleet import Verdict, choose

    mib = 1 << 20
    verdicts = [
        Verdict("a", False, "over its limit", 9000 * mib),
        Verdict("c", True, "", 800 * mib),
        Verdict("b", True, "", 800 * mib),
        Verdict("d", True, "", 500 * mib),
    ]
    chosen = choose(verdicts)
    assert chosen is not None and chosen.host == "b"
    assert choose([*verdicts[:1], Verdict("e", True, "", 900 * mib)]).host == "e"  # type: ignore[union-attr]
    assert choose(verdicts[:1]) is None


def test_no_host_may_be_named_auto(tmp_path: Path) -> None:
    from zeroxl.errors import UsageError

    with pytest.raises(UsageError):
        Hosts(tmp_path).add("auto", "qemu+ssh://root@kvm1/system")


def test_a_service_of_one_name_on_two_hosts_has_a_lock_of_its_own_on_each(tmp_path: Path) -> None:
    """update --all --all-hosts updates web on h1 while web on h2 is updated: neither waits nor is refused."""
    from zeroxl.app import session
    from zeroxl.errors import ConflictError

    (tmp_path / "locks").mkdir()
    local, h1, h2 = Context(Home(tmp_path)), Context(HostHome(tmp_path, "h1")), Context(HostHome(tmp_path, "h2"))
    again = Context(HostHome(tmp_path, "h1"))
    with (
        session.service_lock(h1, "web"),
        session.service_lock(h2, "web"),
        session.service_lock(local, "web"),
        pytest.raises(ConflictError),
        session.service_lock(again, "web"),
    ):
        pass
