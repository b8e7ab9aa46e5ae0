"""The xl.cfg writer: whatever a feed or an operator gives, no value adds a key, a line, a quote or an option.

Each property feeds arbitrary text into one value and reads the result back with `read_xlcfg`, a reader of
the subset of xl.cfg syntax the writer may produce (one `key = value` a line; double-quoted strings
without escapes, whole numbers, flat lists of strings). The writer either refuses the value or writes a
file whose keys, lines and options are exactly the expected ones, with the value read back unchanged.
"""

from __future__ import annotations

import re
import string
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from zeroxl.backends.xen.cfgfile import DiskSpec, DomainConfig, VifSpec, XlCfgError, render

BASE = DomainConfig(
    name="mail",
    type="pvh",
    kernel="/var/lib/0xl/store/sha256new_AB/mail.xen",
    memory=256,
    cmdline=(("ipv4", "10.0.0.2/24"),),
    disks=(DiskSpec("xvdb", "/dev/vg0/0xl-mail-storage"),),
    vifs=(VifSpec("xenbr0", "00:16:3e:01:02:03"),),
)
KEYS = ["name", "type", "kernel", "cmdline", "memory", "vcpus", "on_poweroff", "on_reboot", "on_crash", "disk", "vif"]

_STRING = r'"[^"\'\\\x00-\x1f\x7f]*"'
_LINE = re.compile(rf"([a-z_]+) = ({_STRING}|[0-9]+|\[ (?:{_STRING}(?:, {_STRING})*)? \])")


def read_xlcfg(text: str) -> dict[str, Any]:
    """The settings in TEXT, which must hold nothing but comments and `key = value` lines, each key once."""
    assert text.endswith("\n")
    settings: dict[str, Any] = {}
    for line in text[:-1].split("\n"):
        if line.startswith("# "):
            assert '"' not in line and "\r" not in line
            continue
        m = _LINE.fullmatch(line)
        assert m, f"not a plain setting: {line!r}"
        key, value = m.groups()
        assert key not in settings, f"{key} twice"
        if value.startswith("["):
            settings[key] = [s[1:-1] for s in re.findall(_STRING, value[1:-1])]
        elif value.startswith('"'):
            settings[key] = value[1:-1]
        else:
            settings[key] = int(value)
    return settings


def options(spec: str) -> list[tuple[str, str]]:
    """A disk or vif spec as xl splits it: comma-separated key=value options."""
    out = []
    for opt in spec.split(","):
        key, sep, value = opt.strip().partition("=")
        assert sep, f"option without '=' in {spec!r}"
        out.append((key, value))
    return out


def written(cfg: DomainConfig) -> dict[str, Any] | None:
    """What the writer wrote, read back; None when it refused (it may only refuse with XlCfgError)."""
    try:
        text = render(cfg)
    except XlCfgError:
        return None
    return read_xlcfg(text)


def test_a_plain_config_reads_back_exactly() -> None:
    got = read_xlcfg(render(BASE))
    assert list(got) == KEYS
    assert got["name"] == "mail" and got["type"] == "pvh" and got["memory"] == 256 and got["vcpus"] == 1
    assert got["cmdline"] == "--ipv4=10.0.0.2/24"
    assert got["disk"] == ["format=raw, vdev=xvdb, access=rw, target=/dev/vg0/0xl-mail-storage"]
    assert got["vif"] == ["bridge=xenbr0, mac=00:16:3e:01:02:03"]
    assert (got["on_poweroff"], got["on_reboot"], got["on_crash"]) == ("destroy", "restart", "restart")


def test_ramdisk_and_several_disks_and_networks() -> None:
    cfg = replace(
        BASE,
        ramdisk="/s/initrd.img",
        disks=(DiskSpec("xvda", "/dev/vg0/a"), DiskSpec("xvdb", "/var/lib/0xl/disks/mail/log.img")),
        vifs=(VifSpec("xenbr0", "00:16:3e:00:00:01"), VifSpec("br-dmz", "00:16:3e:00:00:02")),
    )
    got = read_xlcfg(render(cfg))
    assert got["ramdisk"] == "/s/initrd.img"
    assert [options(d) for d in got["disk"]] == [
        [("format", "raw"), ("vdev", "xvda"), ("access", "rw"), ("target", "/dev/vg0/a")],
        [("format", "raw"), ("vdev", "xvdb"), ("access", "rw"), ("target", "/var/lib/0xl/disks/mail/log.img")],
    ]
    assert len(got["vif"]) == 2


def test_target_is_the_last_disk_option() -> None:
    spec = read_xlcfg(render(BASE))["disk"][0]
    assert options(spec)[-1][0] == "target"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Mail"}, "as name"),
        ({"type": "hvm"}, "type must be"),
        ({"kernel": "relative/mail.xen"}, "kernel path"),
        ({"kernel": '/x" extra = "1'}, "kernel path"),
        ({"memory": 0}, "memory must be"),
        ({"memory": True}, "memory must be"),
        ({"vcpus": 1000}, "vcpus must be"),
        ({"on_crash": "coredump-restart"}, "on_crash must be"),
        ({"cmdline": (("ipv4", "1 init=/bin/sh"),)}, "cannot be written on the kernel command line"),
        ({"cmdline": (("Bad", "1"),)}, "argument name"),
        ({"cmdline": (("a", "x" * 1100),)}, "cannot be written on the kernel command line|over Xen's"),
        ({"disks": (DiskSpec("xvda", "/a,script=/tmp/evil"),)}, "disk target"),
        ({"disks": (DiskSpec("xvda", "/a=b"),)}, "disk target"),
        ({"disks": (DiskSpec("sda", "/a"),)}, "disk vdev"),
        ({"disks": (DiskSpec("xvda", "/a"), DiskSpec("xvda", "/b"))}, "appears twice"),
        ({"disks": (DiskSpec("xvda", "/a", access="w!"),)}, "disk access"),
        ({"vifs": (VifSpec("xenbr0,script=/tmp/x", "00:16:3e:00:00:01"),)}, "vif bridge"),
        ({"vifs": (VifSpec("xenbr0", "01:16:3e:00:00:01"),)}, "vif mac"),
        ({"vifs": (VifSpec("a", "00:16:3e:00:00:01"), VifSpec("b", "00:16:3e:00:00:01"))}, "appears twice"),
    ],
)
def test_unwritable_values_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(XlCfgError, match=message):
        render(replace(BASE, **change))


def test_a_command_line_longer_than_xen_takes_is_refused() -> None:
    args = tuple((f"a{i}", "x" * 60) for i in range(20))
    with pytest.raises(XlCfgError, match="over Xen's 1024"):
        render(replace(BASE, cmdline=args))


# -- properties: arbitrary text in every value that a feed, an operator or the host chooses ---------------

anything = st.text(max_size=80)


def near(prefix: str) -> st.SearchStrategy[str]:
    """Arbitrary text, often after a PREFIX that passes the first check (a leading '/', a valid name)."""
    return st.one_of(anything, anything.map(lambda s: prefix + s))


# Text that the writer must accept: proves the properties below are not vacuous.
plain = st.text(alphabet=string.ascii_letters + string.digits + "._-", min_size=1, max_size=40)
SETTINGS = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(value=anything)
@example('1" on_crash = "preserve')
@example("1\nextra = 1")
@example("a b c")
@example("\\x")
def test_no_argument_value_escapes_its_word(value: str) -> None:
    got = written(replace(BASE, cmdline=(("ipv4", value), ("mode", "x"))))
    if got is None:
        return
    assert list(got) == KEYS
    assert got["cmdline"] == f"--ipv4={value} --mode=x"
    assert got["cmdline"].split() == [f"--ipv4={value}", "--mode=x"]


@SETTINGS
@given(name=near("ip"), value=plain)
def test_no_argument_name_escapes_its_word(name: str, value: str) -> None:
    got = written(replace(BASE, cmdline=((name, value),)))
    if got is None:
        return
    assert list(got) == KEYS
    assert got["cmdline"] == f"--{name}={value}"


@SETTINGS
@given(path=near("/"))
@example("/x,script=/tmp/evil")
@example('/x" ]\nbootloader = "/bin/sh')
def test_no_disk_path_adds_an_option_or_a_line(path: str) -> None:
    got = written(replace(BASE, disks=(DiskSpec("xvda", path),)))
    if got is None:
        return
    assert list(got) == KEYS
    assert options(got["disk"][0]) == [
        ("format", "raw"),
        ("vdev", "xvda"),
        ("access", "rw"),
        ("target", path),
    ]


@SETTINGS
@given(vdev=near("xvd"))
@example("xvdb, script=/tmp/evil")
@example('xvdb" ]\nbootloader = "/bin/sh')
@example("xvdb\n")
def test_no_vdev_adds_an_option_or_a_line(vdev: str) -> None:
    # The vdev comes from the feed (<s:block vdev>): the parser checks it, and the writer again.
    got = written(replace(BASE, disks=(DiskSpec(vdev, "/dev/vg0/a"),)))
    if got is None:
        return
    assert list(got) == KEYS
    assert options(got["disk"][0]) == [("format", "raw"), ("vdev", vdev), ("access", "rw"), ("target", "/dev/vg0/a")]
    assert re.fullmatch("xvd[a-z]", vdev)


@SETTINGS
@given(path=near("/"))
@example('/x" ramdisk = "/y')
def test_no_kernel_or_ramdisk_path_adds_a_key(path: str) -> None:
    got = written(replace(BASE, kernel=path, ramdisk=path))
    if got is None:
        return
    assert list(got) == ["name", "type", "kernel", "ramdisk", *KEYS[3:]]
    assert got["kernel"] == got["ramdisk"] == path


@SETTINGS
@given(bridge=near("xenbr"), mac=near("00:16:3e:00:00:0"))
@example("xenbr0, script=/tmp/evil", "00:16:3e:00:00:01")
def test_no_bridge_or_mac_adds_a_vif_option(bridge: str, mac: str) -> None:
    got = written(replace(BASE, vifs=(VifSpec(bridge, mac),)))
    if got is None:
        return
    assert options(got["vif"][0]) == [("bridge", bridge), ("mac", mac)]


@SETTINGS
@given(name=near("mail"), kind=near("pv"), action=near("destroy"))
def test_no_name_type_or_action_adds_anything(name: str, kind: str, action: str) -> None:
    got = written(replace(BASE, name=name, type=kind, on_crash=action))
    if got is None:
        return
    assert list(got) == KEYS
    assert (got["name"], got["type"], got["on_crash"]) == (name, kind, action)


@SETTINGS
@given(value=plain, segments=st.lists(plain, min_size=1, max_size=4), bridge=plain)
def test_plain_values_are_written(value: str, segments: list[str], bridge: str) -> None:
    assume(not bridge.startswith((".", "-")) and len(bridge) <= 15)
    path = "/" + "/".join(segments)
    got = written(
        replace(
            BASE,
            cmdline=(("a", value),),
            kernel=path,
            disks=(DiskSpec("xvda", path),),
            vifs=(VifSpec(bridge, "00:16:3e:aa:bb:cc"),),
        )
    )
    assert got is not None
    assert got["cmdline"] == f"--a={value}" and got["kernel"] == path


# -- what `make mutate` found untested (docs/mutation.md) ------------------------------------------------


def test_limits_are_inclusive_at_their_edge() -> None:
    every_vdev = tuple(DiskSpec(f"xvd{c}", f"/dev/vg0/d{c}") for c in string.ascii_lowercase)  # 26: xvda-xvdz
    # "--a=" plus 1020 characters is 1024, Xen's limit exactly.
    text = render(replace(BASE, vcpus=128, memory=1 << 20, cmdline=(("a", "x" * 1020),), disks=every_vdev))
    settings = read_xlcfg(text)
    assert (settings["vcpus"], settings["memory"], len(settings["cmdline"])) == (128, 1 << 20, 1024)
    assert len(settings["disk"]) == 26


@pytest.mark.parametrize(
    ("change", "message", "hint"),
    [
        ({"disks": (DiskSpec("xvda", "/a"), DiskSpec("xvda", "/b"))}, "the disk vdev xvda appears twice", None),
        (
            {"vifs": (VifSpec("a", "00:16:3e:00:00:01"), VifSpec("b", "00:16:3e:00:00:01"))},
            "the vif mac 00:16:3e:00:00:01 appears twice",
            None,
        ),
        ({"disks": (DiskSpec("xvda", "/a", format="qcow2"),)}, "disk format must be one of raw, not 'qcow2'", None),
        ({"kernel": "relative/mail.xen"}, "the kernel path 'relative/mail.xen'", "move ZEROXL_HOME to such a path"),
        ({"cmdline": (("ipv4", "1 init=/bin/sh"),)}, "the value of --ipv4", "may not hold blanks, quotes"),
        ({"ramdisk": "initrd.img"}, "the ramdisk path 'initrd.img'", None),
        ({"on_poweroff": "coredump-destroy"}, "on_poweroff must be one of", None),
        ({"on_reboot": "coredump-destroy"}, "on_reboot must be one of", None),
        ({"disks": (DiskSpec("xvda", "/a", access="r"),)}, "disk access must be one of rw, ro, not 'r'", None),
    ],
)
def test_refusals_name_the_value_and_say_what_to_do(change: dict[str, Any], message: str, hint: str | None) -> None:
    with pytest.raises(XlCfgError) as e:
        render(replace(BASE, **change))
    assert message in e.value.message
    if hint is not None:
        assert hint in (e.value.hint or "")


def test_the_least_memory_and_a_read_only_disk_are_written() -> None:
    settings = read_xlcfg(render(replace(BASE, memory=1, disks=(DiskSpec("xvdb", "/srv/data.img", access="ro"),))))
    assert settings["memory"] == 1
    assert settings["disk"] == ["format=raw, vdev=xvdb, access=ro, target=/srv/data.img"]
