"""What a `mirage configure -t xen` template says about a unikernel's needs.

mirage writes NAME.xl.in beside the build (mirage lib/devices/target.ml, `configure_main_xl
~substitutions:[] ~ext:"xl.in"`): placeholders the operator is meant to fill in with sed, one per thing
the unikernel needs from its host. For a unikernel with one block device `storage` and the default
network, mirage 4 writes (tests/unit/test_mirage.py has the exact texts, and docs/mirage.md the sources):

    name = '@NAME@'
    kernel = '@KERNEL@'
    type = 'pvh'                       (mirage 3.8 wrote 'pv'; mirage 3.0-3.7 builder = 'linux', a PV guest)
    memory = @MEMORY@
    on_crash = 'preserve'

    disk = [ 'format=raw, vdev=xvdb, access=rw, target=@BLOCK:storage@' ]

    # if your system uses openvswitch then either edit /etc/xen/xl.conf and set
    #     vif.default.script="vif-openvswitch"
    # or add "script=vif-openvswitch," before the "bridge=" below:
    vif = [ 'bridge=@NETWORK:0@' ]

From it come the guest type, the block devices, each with the Xen disk the unikernel looks for it at
(`vdev`: mirage numbers blocks from 1, so the first is xvdb; the list itself comes from a hash table, in
no useful order), and the networks (a Xen unikernel's default network is "0", the vif with device id 0;
mirage lists them newest first, so networks named by device ids are put in their order). Memory is taken
only where the template gives a number: mirage leaves it as `@MEMORY@`. Nothing else of the file is
used: 0xl writes VM configs itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from zeroxl.errors import UsageError
from zeroxl.host.devices import VDEV_RULE, check_network_positions, is_vdev, network_devid, vdev_number
from zeroxl.host.names import DISK_NAME, NETWORK_NAME
from zeroxl.host.units import MAX_DIGITS, whole_number

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<comment>\#[^\n]*)
      | (?P<string>'[^'\n]*'|"[^"\n]*")
      | (?P<placeholder>@[A-Za-z]+(?::[^@\s]*)?@)
      | (?P<number>[0-9]+)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<punct>[=\[\],;])
    )""",
    re.VERBOSE,
)
_BLOCK = re.compile(r"@BLOCK:([^@]*)@")
_NETWORK = re.compile(r"@NETWORK:([^@]*)@")


@dataclass(frozen=True)
class MirageNeeds:
    name: str  # NAME of NAME.xl.in: the kernel mirage builds is NAME.xen
    xen_type: str
    memory: int | None
    blocks: tuple[tuple[str, str], ...]  # (name, vdev), in device order
    networks: tuple[str, ...]


def read_template(path: Path) -> MirageNeeds:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"--from-mirage {path}: {e.strerror}") from e
    except UnicodeDecodeError:
        raise UsageError(f"--from-mirage {path}: not a text file") from None
    settings = _settings(text, path)
    where = f"--from-mirage {path}"
    xen_type = _xen_type(settings, where)
    memory = _memory(settings, where)
    disks = []
    for spec in _strings(settings.get("disk", []), "disk", where):
        options = dict(_option(o) for o in spec.split(","))
        target = options.get("target", "")
        block = _BLOCK.fullmatch(target)
        if block is None:
            raise UsageError(
                f"{where}: disk target {target!r} is not a @BLOCK:name@ placeholder",
                hint="give the NAME.xl.in template that mirage configure writes, not a filled-in .xl file",
            )
        name = _checked_block_name(block.group(1), where)
        vdev = options.get("vdev", "")
        if not is_vdev(vdev):
            raise UsageError(
                f"{where}: the disk of block {name} has vdev={vdev!r}, not {VDEV_RULE}",
                hint="mirage writes vdev=xvdb for the first block device; give the template it wrote",
            )
        disks.append((vdev, name))
    networks = []
    for spec in _strings(settings.get("vif", []), "vif", where):
        bridge = _option(next((o for o in spec.split(",") if o.strip().startswith("bridge=")), "bridge="))[1]
        network = _NETWORK.fullmatch(bridge)
        if network is None:
            raise UsageError(
                f"{where}: vif bridge {bridge!r} is not a @NETWORK:name@ placeholder",
                hint="give the NAME.xl.in template that mirage configure writes, or declare --network NAME",
            )
        networks.append(_checked_network_name(network.group(1), where))
    if len({v for v, _ in disks}) != len(disks):
        raise UsageError(f"{where}: two disks have the same vdev")
    name = path.name.removesuffix(".in").removesuffix(".xl")
    blocks = tuple((n, v) for v, n in sorted(disks, key=lambda d: vdev_number(d[0])))
    return MirageNeeds(name, xen_type, memory, blocks, _ordered_networks(networks, where))


def _ordered_networks(networks: list[str], where: str) -> tuple[str, ...]:
    """NETWORKS in the order of their vifs. mirage lists them newest first (network.ml prepends each to
    `all_networks`); on Xen a network is named by its vif's device id, which is its position in xl's list."""
    if networks and all(network_devid(n) is not None for n in networks):
        networks = sorted(networks, key=lambda n: network_devid(n) or 0)
    try:
        check_network_positions(networks)
    except ValueError as e:
        raise UsageError(
            f"{where}: {e}",
            hint="0xl attaches a unikernel's networks as the vifs 0, 1, 2, … in order: name them so in config.ml",
        ) from None
    return tuple(networks)


Value = str | int | list[str]


def _settings(text: str, path: Path) -> dict[str, Value]:
    """`KEY = VALUE` pairs of an xl.cfg-like file (values: strings, numbers, placeholders, lists)."""
    tokens = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            line = text.count("\n", 0, pos) + 1
            raise UsageError(f"--from-mirage {path}: cannot read line {line}", hint="is it a mirage .xl.in template?")
        pos = m.end()
        kind = m.lastgroup
        if kind is not None and kind != "comment":
            tokens.append((kind, m.group(kind)))
    settings: dict[str, Value] = {}
    i = 0
    while i < len(tokens):
        kind, word = tokens[i]
        if kind == "punct" and word == ";":
            i += 1
            continue
        if kind != "word" or i + 1 >= len(tokens) or tokens[i + 1] != ("punct", "="):
            raise UsageError(f"--from-mirage {path}: expected KEY = VALUE near {word!r}")
        i += 2
        if i >= len(tokens):
            raise UsageError(f"--from-mirage {path}: {word} has no value")
        vkind, vtext = tokens[i]
        if (vkind, vtext) == ("punct", "["):
            items: list[str] = []
            i += 1
            while i < len(tokens) and tokens[i] != ("punct", "]"):
                ikind, itext = tokens[i]
                if ikind == "string":
                    items.append(itext[1:-1])
                elif (ikind, itext) != ("punct", ","):
                    raise UsageError(f"--from-mirage {path}: unexpected {itext!r} in the list {word}")
                i += 1
            settings[word] = items
        elif vkind == "string":
            settings[word] = vtext[1:-1]
        elif vkind == "number":
            number = whole_number(vtext)
            if number is None:
                raise UsageError(f"--from-mirage {path}: {word} = {vtext[:20]}…: more than {MAX_DIGITS} digits")
            settings[word] = number
        elif vkind == "placeholder":
            settings[word] = vtext
        else:
            raise UsageError(f"--from-mirage {path}: unexpected {vtext!r} as the value of {word}")
        i += 1
    return settings


def _xen_type(settings: dict[str, Value], where: str) -> str:
    kind = settings.get("type")
    if kind is None:
        # xl's default is a PV guest; Mirage 3 templates say so with builder = 'linux'.
        builder = settings.get("builder", "linux")
        kind = "pv" if builder == "linux" else builder
    if kind not in ("pvh", "pv"):
        raise UsageError(f"{where}: guest type {kind!r} is not pvh or pv, the types 0xl runs unikernels as")
    return str(kind)


def _memory(settings: dict[str, Value], where: str) -> int | None:
    memory = settings.get("memory")
    if memory is None or (isinstance(memory, str) and memory == "@MEMORY@"):
        return None
    if not isinstance(memory, int):
        raise UsageError(f"{where}: memory = {memory!r} is neither a number of MiB nor @MEMORY@")
    return memory


def _strings(value: Value, key: str, where: str) -> list[str]:
    if isinstance(value, list):
        return value
    raise UsageError(f"{where}: {key} should be a list of strings")


def _option(text: str) -> tuple[str, str]:
    key, _, value = text.strip().partition("=")
    return key.strip(), value.strip()


def _checked_block_name(name: str, where: str) -> str:
    # The rule hosts apply to a feed's block names (feeds.parse): each becomes a disk of the service.
    if not DISK_NAME.fits(name):
        raise UsageError(
            f"{where}: the block device name {name!r} cannot be declared: 0xl disk names are {DISK_NAME.text}",
            hint="rename the block device in the unikernel's config.ml, or declare it by hand without --from-mirage",
        )
    return name


def _checked_network_name(name: str, where: str) -> str:
    if not NETWORK_NAME.fits(name):
        raise UsageError(
            f"{where}: the network name {name!r} cannot be declared: 0xl network names are {NETWORK_NAME.text}",
            hint="rename the network in the unikernel's config.ml, or declare it by hand without --from-mirage",
        )
    return name
