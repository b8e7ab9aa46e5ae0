"""The argument builders for xl, xenstore-read and LVM: `--` before operands, and dangerous operands
refused by raising before anything runs; and the readers of what those tools print."""

from __future__ import annotations

import json

import pytest

from zeroxl.backends.xen import xl
from zeroxl.disks import lvm
from zeroxl.disks.base import KeptDisk
from zeroxl.errors import BackendError, ConfigError, UsageError
from zeroxl.state.service import Disk


def test_xl_commands_end_their_options_before_the_operand() -> None:
    assert xl.argv("create", config="/var/lib/0xl/services/mail/xen/xl.cfg.new") == [
        "xl",
        "create",
        "--",
        "/var/lib/0xl/services/mail/xen/xl.cfg.new",
    ]
    assert xl.argv("shutdown", "-w", domain="mail") == ["xl", "shutdown", "-w", "--", "mail"]
    assert xl.argv("list", "-v") == ["xl", "list", "-v", "--"]


@pytest.mark.parametrize(
    ("subcommand", "options", "kw"),
    [
        ("create", (), {"config": "relative.cfg"}),
        ("create", (), {"config": "/a/../../etc/shadow"}),
        ("create", (), {"config": "/a b"}),
        ("destroy", (), {"domain": "-F"}),
        ("destroy", (), {"domain": "Domain-0"}),
        ("destroy", (), {"domain": "mail;x"}),
        ("shutdown", ("-a",), {"domain": "mail"}),  # -a: every domain
        ("destroy", ("-f",), {"domain": "mail"}),
        ("cpupool-destroy", (), {"domain": "mail"}),
    ],
)
def test_xl_refuses_operands_and_options_it_does_not_expect(
    subcommand: str, options: tuple[str, ...], kw: dict[str, str]
) -> None:
    with pytest.raises(xl.UnsafeOperand):
        xl.argv(subcommand, *options, **kw)


def test_xenstore_read_takes_a_domain_uuid_only() -> None:
    uuid = "9a1c1b0e-56e2-4c43-a7f0-5b4c6a9d1e2f"
    assert xl.start_time_argv(uuid) == ["xenstore-read", "--", f"/vm/{uuid}/start_time"]
    for bad in ("../../local/domain/0", "-s", uuid + "/x"):
        with pytest.raises(xl.UnsafeOperand):
            xl.start_time_argv(bad)


XL_LIST_V = """\
Name                                        ID   Mem VCPUs      State   Time(s)   UUID                            Reason-Code    Security Label
Domain-0                                     0  1024     1     r-----      25.1 00000000-0000-0000-0000-000000000000        -                -
mail                                         3   128     1     -b----       2.4 9a1c1b0e-56e2-4c43-a7f0-5b4c6a9d1e2f        -                -
web                                          4   256     2     ----c-       0.9 1a1c1b0e-56e2-4c43-a7f0-5b4c6a9d1e2f        -                -
"""


def test_xl_list_is_read_by_columns() -> None:
    domains = xl.parse_list(XL_LIST_V)
    assert set(domains) == {"Domain-0", "mail", "web"}
    mail = domains["mail"]
    assert (mail.domid, mail.memory, mail.vcpus, mail.state, mail.cpu_seconds) == (3, 128, 1, "-b----", 2.4)
    assert domains["web"].flags == {"c"}


@pytest.mark.parametrize("text", ["", "xl: command not implemented\n", "Name ID\nmail x 1 1 r----- 1 u\n"])
def test_xl_list_output_that_makes_no_sense_is_an_error(text: str) -> None:
    with pytest.raises(BackendError, match="does not understand"):
        xl.parse_list(text)


# -- LVM -------------------------------------------------------------------------------------------------


def test_lvcreate_tags_the_volume_and_ends_options_before_the_volume_group() -> None:
    argv = lvm.lvcreate_argv("vg0", "0xl-mail-storage", 64 << 20, ["0xl", "0xl.service=mail", "0xl.disk=storage"])
    assert argv[0] == "lvcreate"
    assert argv[-2:] == ["--", "vg0"]
    assert argv[argv.index("--name") + 1] == "0xl-mail-storage"
    assert argv[argv.index("--size") + 1] == f"{64 << 20}b"
    tags = [argv[i + 1] for i, a in enumerate(argv) if a == "--addtag"]
    assert tags == ["0xl", "0xl.service=mail", "0xl.disk=storage"]


def test_lvremove_and_lvs_take_one_operand_after_the_end_of_options() -> None:
    assert lvm.lvremove_argv("vg0", "0xl-mail-storage") == ["lvremove", "--yes", "--", "vg0/0xl-mail-storage"]
    assert lvm.lvs_argv("vg0")[-2:] == ["--", "vg0"]


@pytest.mark.parametrize("vg", ["-vg", "vg/0", "vg 0", "", ".", "..", "vg0\n", "@tag", "a" * 128])
def test_volume_group_names_that_lvm_could_misread_are_refused(vg: str) -> None:
    with pytest.raises(ConfigError, match="not a volume group name"):
        lvm.LvmDisks(vg)
    with pytest.raises(ConfigError):
        lvm.lvs_argv(vg)


@pytest.mark.parametrize("name", ["root", "-0xl-a-b", "0xl-a-b/../root", "0xl-A-b", "0xl-a", "@0xl", "0xl-a-b c"])
def test_volume_names_that_0xl_does_not_make_are_refused(name: str) -> None:
    with pytest.raises(BackendError, match="not one 0xl makes"):
        lvm.lvremove_argv("vg0", name)
    with pytest.raises(BackendError):
        lvm.lvcreate_argv("vg0", name, 1 << 20, ["0xl"])


@pytest.mark.parametrize("tag", ["owner", "0xl.service=A", "0xl,x", "-0xl", "0xl.disk=a b"])
def test_tags_that_0xl_does_not_set_are_refused(tag: str) -> None:
    with pytest.raises(BackendError, match="not one 0xl sets"):
        lvm.lvcreate_argv("vg0", "0xl-a-b", 1 << 20, [tag])


def test_disk_names_that_lvm_reserves_are_refused() -> None:
    assert lvm.lv_name("mail", "storage") == "0xl-mail-storage"
    with pytest.raises(UsageError, match="'_tmeta', which LVM reserves"):
        lvm.lv_name("mail", "x_tmeta")


def test_sizes_must_be_positive() -> None:
    with pytest.raises(BackendError):
        lvm.lvcreate_argv("vg0", "0xl-a-b", 0, ["0xl"])


def lvs_json(*lvs: tuple[str, int, str]) -> str:
    return json.dumps({"report": [{"lv": [{"lv_name": n, "lv_size": str(s), "lv_tags": t} for n, s, t in lvs]}]})


def test_only_volumes_with_0xls_tags_are_0xls(monkeypatch: pytest.MonkeyPatch) -> None:
    from zeroxl import proc

    out = lvs_json(
        ("0xl-mail-storage", 64 << 20, "0xl,0xl.disk=storage,0xl.service=mail"),
        ("0xl-web-data", 64 << 20, ""),  # the name alone does not make it 0xl's
        ("0xl-db-data", 64 << 20, "0xl,0xl.disk=other,0xl.service=db"),  # tags that do not match the name
        # The service's and disk's tags, but not 0xl's own: someone else's volume, made to look like one.
        ("0xl-spoof-storage", 64 << 20, "0xl.disk=storage,0xl.service=spoof"),
        ("root", 8 << 30, "0xl"),
    )
    calls: list[list[str]] = []

    def fake_run(args: list[str], **_kw: object) -> proc.Completed:
        calls.append(list(args))
        assert args[0] == "lvs", "nothing but lvs may run"
        return proc.Completed(tuple(args), 0, out.encode(), b"")

    monkeypatch.setattr(proc, "run", fake_run)
    disks = lvm.LvmDisks("vg0")
    assert [(k.service, k.disk.name, k.disk.location) for k in disks.list()] == [
        ("mail", "storage", "vg0/0xl-mail-storage")
    ]
    assert disks.find("web", "data") is None
    assert disks.find("spoof", "storage") is None
    with pytest.raises(BackendError, match="does not carry 0xl's tags"):
        disks.delete(Disk("data", 64 << 20, "lvm", "vg0/0xl-web-data"))
    with pytest.raises(BackendError, match="does not carry 0xl's tags"):
        disks.delete(Disk("storage", 64 << 20, "lvm", "vg0/0xl-spoof-storage"))
    with pytest.raises(BackendError, match="not in the volume group vg0"):
        disks.delete(Disk("data", 64 << 20, "lvm", "vg1/0xl-web-data"))
    with pytest.raises(BackendError, match="not one 0xl makes"):
        disks.delete(Disk("data", 64 << 20, "lvm", "vg0/root"))
    assert all(c[0] == "lvs" for c in calls)


def test_lvs_output_that_makes_no_sense_is_an_error() -> None:
    with pytest.raises(BackendError, match="does not understand"):
        lvm.parse_lvs("  LV   VG\n")


# -- what `make mutate` found untested (docs/mutation.md): the same canned `lvs` as above; the real lvs,
# lvcreate and lvremove run in the Xen lab (tests/labs/xen/test_xen_backend.py).

MAIL = Disk("storage", 64 << 20, "lvm", "vg0/0xl-mail-storage")


@pytest.fixture
def lvm_host(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, object]]]:
    """LVM as lvs shows it on a host with 0xl's volumes and look-alikes; each command run and its options."""
    from zeroxl import proc

    out = lvs_json(
        ("0xl-mail-storage", 64 << 20, "0xl,0xl.disk=storage,0xl.service=mail"),
        ("0xl-mail-log", 16 << 20, "0xl,0xl.disk=log,0xl.service=mail"),  # listed after storage by lvs
        # LVM tags may hold '=': a value read up to the wrong '=' would give names that match these LVs.
        ("0xl-mail-cache", 64 << 20, "0xl,0xl.disk=cache,0xl.service=mail=evil"),
        ("0xl-web-cache", 64 << 20, "0xl,0xl.disk=cache,0xl.service=evil=web"),
        ("0xl-mail-tmp", 64 << 20, "0xl,0xl.disk=tmp=evil,0xl.service=mail"),
        ("0xl-mail-var", 64 << 20, "0xl,0xl.disk=evil=var,0xl.service=mail"),
        ("0xl-None-data", 64 << 20, "0xl,0xl.disk=data"),  # 0xl's tag but no service tag
        ("0xl-db-None", 64 << 20, "0xl,0xl.service=db"),  # nor disk tag
    )
    calls: list[tuple[list[str], dict[str, object]]] = []

    def run(args: list[str], **kw: object) -> proc.Completed:
        calls.append((list(args), kw))
        if args[0] == "lvs":
            return proc.Completed(tuple(args), 0, out.encode(), b"")
        assert args[0] == "lvremove", args
        return proc.Completed(tuple(args), 0, b"", b"")

    monkeypatch.setattr(proc, "run", run)
    return calls


def test_a_volume_is_0xls_only_with_every_tag_read_whole(lvm_host: list) -> None:
    disks = lvm.LvmDisks("vg0")
    assert disks.list() == [
        KeptDisk("mail", Disk("log", 16 << 20, "lvm", "vg0/0xl-mail-log")),
        KeptDisk("mail", MAIL),
    ]
    assert disks.find("mail", "storage") == MAIL
    assert disks.find("mail", "cache") is None
    assert disks.find("mail", "other") is None
    assert disks.find("web", "cache") is None
    assert disks.find("mail", "tmp") is None and disks.find("mail", "var") is None
    assert all(kw["timeout"] == lvm.TIMEOUT for _, kw in lvm_host)


def test_delete_removes_the_volume_it_was_asked_for_and_only_if_it_is_that_disk(lvm_host: list) -> None:
    disks = lvm.LvmDisks("vg0")
    with pytest.raises(BackendError, match="does not carry 0xl's tags for disk log"):
        disks.delete(Disk("log", 64 << 20, "lvm", "vg0/0xl-mail-storage"))
    with pytest.raises(BackendError, match="does not carry 0xl's tags"):
        disks.delete(Disk("cache", 64 << 20, "lvm", "vg0/0xl-mail-cache"))
    disks.delete(Disk("data", 64 << 20, "lvm", "vg0/0xl-gone-data"))  # gone already: nothing to do
    assert [args for args, _ in lvm_host if args[0] != "lvs"] == []
    disks.delete(MAIL)
    assert [(args, kw["timeout"]) for args, kw in lvm_host if args[0] != "lvs"] == [
        (["lvremove", "--yes", "--", "vg0/0xl-mail-storage"], lvm.TIMEOUT)
    ]


def test_lvm_failures_say_what_failed_and_what_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # Injected: a volume group that vanishes, or a volume held open, between two commands.
    from zeroxl import proc

    def fail(args: list[str], **_kw: object) -> proc.Completed:
        if args[0] == "lvs" and fail.lvs_ok:  # type: ignore[attr-defined]
            return proc.Completed(
                tuple(args),
                0,
                lvs_json(("0xl-mail-storage", 64 << 20, "0xl,0xl.disk=storage,0xl.service=mail")).encode(),
                b"",
            )
        raise proc.CommandFailed(f"{args[0]} exited with 5: in use")

    fail.lvs_ok = False  # type: ignore[attr-defined]
    monkeypatch.setattr(proc, "run", fail)
    with pytest.raises(BackendError) as e:
        lvm.LvmDisks("vg0").list()
    assert e.value.message == "cannot list the logical volumes of vg0: lvs exited with 5: in use"
    assert "[disks] volume_group" in (e.value.hint or "")
    fail.lvs_ok = True  # type: ignore[attr-defined]
    with pytest.raises(BackendError) as e:
        lvm.LvmDisks("vg0").delete(MAIL)
    assert e.value.message == "cannot delete the disk vg0/0xl-mail-storage: lvremove exited with 5: in use"
    assert "stop its service first" in (e.value.hint or "")


def test_service_names_with_dashes_make_volume_names() -> None:
    # The disk is what follows the last '-': service names may hold '-', disk names may not.
    assert lvm.lv_name("web-2", "data") == "0xl-web-2-data"


def test_lvs_reports_without_volumes_or_tags_are_read() -> None:
    assert lvm.parse_lvs(json.dumps({"report": [{}]})) == []
    assert lvm.parse_lvs(json.dumps({"report": [{"lv": [{"lv_name": "x", "lv_size": "1"}]}]})) == [
        {"lv_name": "x", "lv_size": 1, "lv_tags": set()}
    ]


def test_the_lvm_commands_are_written_out_in_full() -> None:
    # As the Xen lab's real LVM runs them (tests/labs/xen/test_xen_backend.py): wiped, zeroed, sized in bytes.
    assert lvm.lvcreate_argv("vg0", "0xl-mail-storage", 1, ["0xl"]) == [
        "lvcreate", "--yes", "--wipesignatures", "y", "--zero", "y", "--name", "0xl-mail-storage",
        "--size", "1b", "--addtag", "0xl", "--", "vg0",
    ]  # fmt: skip
    assert lvm.lvs_argv("vg0") == [
        "lvs", "--reportformat", "json", "--units", "b", "--nosuffix",
        "--options", "lv_name,lv_size,lv_tags", "--", "vg0",
    ]  # fmt: skip


def test_a_disk_name_lvm_reserves_says_to_name_it_otherwise() -> None:
    with pytest.raises(UsageError) as e:
        lvm.lv_name("mail", "x_tmeta")
    assert e.value.hint == "name the disk otherwise"
