"""What the operator types is checked before anything is written: names, sizes, arguments, disks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.words import refused, said
from zeroxl.app.fits import check_args, parse_args, parse_disk_specs, plan_disks
from zeroxl.errors import ConfigError, ExitStatus, PolicyError, UsageError
from zeroxl.host import config
from zeroxl.host.names import check_service_name
from zeroxl.host.needs import BlockDevice, BootArg, ServiceNeeds
from zeroxl.host.units import format_size, parse_size


@pytest.mark.parametrize("bad", ["../x", "a b", "", "A", "1abc", "x" * 32, "web-", "we/b", "web.1", "-web", "wéb"])
def test_unsafe_service_names_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="invalid service name"):
        check_service_name(bad)


@pytest.mark.parametrize("good", ["web", "mail-2", "a", "x" * 31])
def test_plain_service_names_are_accepted(good: str) -> None:
    assert check_service_name(good) == good


@pytest.mark.parametrize(
    ("text", "n"), [("256M", 256 << 20), ("1G", 1 << 30), ("4096", 4096), ("2k", 2048), ("1GiB", 1 << 30)]
)
def test_sizes(text: str, n: int) -> None:
    assert parse_size(text) == n


@pytest.mark.parametrize("bad", ["-1", "1Q", "0", "", "M", "1.5G", "0M", " ", "1e9"])
def test_bad_sizes_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="invalid size|greater than zero"):
        parse_size(bad)


def test_format_size_round_trips() -> None:
    for n in (1, 1024, 256 << 20, 3 << 30, 1000):
        assert parse_size(format_size(n)) == n


def test_args_are_key_value_pairs() -> None:
    assert parse_args(["port=8080", "ipv4=10.0.0.2/24", "empty="]) == {
        "port": "8080",
        "ipv4": "10.0.0.2/24",
        "empty": "",
    }
    for bad in (["port"], ["Port=1"], ["--port=1"], ["a=1", "a=2"], ["a=x\ny"]):
        with pytest.raises(UsageError):
            parse_args(bad)


NEEDS = ServiceNeeds(args=(BootArg("ipv4", r"[0-9./]+", required=True), BootArg("mode", "a|b", default="a")))


def test_declared_args_must_match_their_patterns() -> None:
    assert check_args({"ipv4": "10.0.0.2/24"}, NEEDS, declared_only=True)
    with pytest.raises(UsageError, match="does not match"):
        check_args({"ipv4": "10.0.0.2 extra=1"}, NEEDS, declared_only=True)
    with pytest.raises(UsageError, match="does not declare"):
        check_args({"ipv4": "1", "console": "x"}, NEEDS, declared_only=False)
    with refused(UsageError, "needs --arg ipv4"):
        check_args({"mode": "b"}, NEEDS, declared_only=True)


def test_undeclared_args_pass_only_to_processes_of_feeds_that_declare_none() -> None:
    assert check_args({"port": "80"}, ServiceNeeds(), declared_only=False) == {"port": "80"}
    with pytest.raises(UsageError):
        check_args({"port": "80"}, ServiceNeeds(), declared_only=True)


def test_disks_map_onto_declared_blocks() -> None:
    needs = ServiceNeeds(blocks=(BlockDevice("storage", 64 << 20), BlockDevice("log", 1 << 20)))
    assert plan_disks(parse_disk_specs(["256M", "log=8M"]), needs, None) == [("storage", 256 << 20), ("log", 8 << 20)]
    with pytest.raises(UsageError, match="below"):
        plan_disks(parse_disk_specs(["1M", "log=1M"]), needs, None)
    with pytest.raises(UsageError, match="needs a disk 'log'"):
        plan_disks(parse_disk_specs(["256M"]), needs, None)
    with pytest.raises(UsageError, match="declares no such disk"):
        plan_disks(parse_disk_specs(["256M", "log=1M", "other=1M"]), needs, None)
    with pytest.raises(PolicyError, match="over the host's limit"):
        plan_disks(parse_disk_specs(["2G", "log=1M"]), needs, 1 << 30)


def test_one_unnamed_disk_without_declared_blocks_is_called_data() -> None:
    assert plan_disks(parse_disk_specs(["256M"]), ServiceNeeds(), None) == [("data", 256 << 20)]
    with pytest.raises(UsageError, match="more unnamed"):
        plan_disks(parse_disk_specs(["1M", "2M"]), ServiceNeeds(), None)
    for bad in (["x=0"], ["-1"], ["1Q"], ["../a=1M"]):
        with pytest.raises(UsageError):
            parse_disk_specs(bad)


def test_config_is_typed(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert config.load(path) == config.Config()
    path.write_text(
        '[policy]\nmax_memory = 512\nmax_disk_size = "10G"\nbridges = ["xenbr0"]\n[disks]\nvolume_group = "vg0"\n'
    )
    c = config.load(path)
    assert (c.policy.max_memory, c.policy.max_disk_size, c.policy.bridges, c.volume_group) == (
        512,
        10 << 30,
        ("xenbr0",),
        "vg0",
    )
    for bad in ('[policy]\nmax_memory = "lots"\n', "[policy\n", '[policy]\nbridges = "xenbr0"\n', "policy = 1\n"):
        path.write_text(bad)
        with pytest.raises(ConfigError, match="config.toml|not valid TOML"):
            config.load(path)


def test_core_messages_name_the_setting_and_the_cli_calls_it_by_its_option() -> None:
    with pytest.raises(UsageError) as e:
        parse_args(["port"])
    assert (e.value.message, e.value.hint) == (
        "invalid argument 'port'",
        "write KEY=VALUE with a lower-case KEY, e.g. argument port=8080",
    )
    assert said(e.value) == ("invalid --arg 'port'", "write KEY=VALUE with a lower-case KEY, e.g. --arg port=8080")


def test_a_broken_config_toml_is_a_config_error_not_a_wrong_option(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    for bad in ("[policy\n", '[policy]\nmax_disk_size = "1Q"\n', "[disks]\nvolume_group = 7\n"):
        path.write_text(bad)
        with pytest.raises(ConfigError) as e:
            config.load(path)
        assert not isinstance(e.value, UsageError)
        assert e.value.exit_status == ExitStatus.CONFIG == 11  # its own status (docs/exit-status.md)


@pytest.mark.parametrize(
    ("toml", "message", "hint"),
    [
        (
            '[policy]\nmax_disk_sise = "1G"\n',
            "unknown key [policy] max_disk_sise",
            "did you mean [policy] max_disk_size?",
        ),
        ("[unix]\nrestart_limt = 0\n", "unknown key [unix] restart_limt", "did you mean [unix] restart_limit?"),
        ("[polcy]\nmax_memory = 1\n", "unknown table [polcy]", "did you mean [policy]?"),
        (
            "[store]\nzzz = 1\n",
            "unknown key [store] zzz",
            "known: [store] keep, [store] max_unpack_ratio, [store] max_unpacked_size",
        ),
    ],
)
def test_a_typo_in_config_toml_is_an_error_naming_the_closest_key(
    tmp_path: Path, toml: str, message: str, hint: str
) -> None:
    # A misspelt limit used to be ignored: `max_disk_sise` meant no disk limit at all.
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as e:
        config.load(path)
    assert e.value.message == f"config.toml: {message}"
    assert e.value.hint is not None and e.value.hint.startswith(hint), e.value.hint
    assert e.value.exit_status == ExitStatus.CONFIG


def test_mirrors_keys_are_origins_not_known_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[mirrors]\n"https://example.org/feeds/" = "http://mirror.lan/example/"\n')
    assert config.load(path).mirrors == {"https://example.org/feeds/": "http://mirror.lan/example/"}
