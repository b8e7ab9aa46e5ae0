"""What a `mirage configure -t xen` template says about a unikernel's needs.

mirage writes NAME.xl.in beside the build (mirage `lib/mirage/target/xen.ml`, `configure_main_xl` with
no substitutions): placeholders the operator is meant to fill in with sed, one per thing the unikernel
needs from its host:

    name = '@NAME@'
    kernel = '@KERNEL@'
    type = 'pvh'                       (Mirage 4; Mirage 3 wrote builder = 'linux', a PV guest)
    memory = @MEMORY@
    on_crash = 'preserve'
    disk = [ 'format=raw, vdev=xvda, access=rw, target=@BLOCK:storage@' ]
    vif = [ 'bridge=@NETWORK:service@' ]

From it come the guest type, the block devices (named as the unikernel opens them, in device order)
and the networks (in the unikernel's order). Memory is taken only where the template gives a number:
mirage leaves it as `@MEMORY@`. Nothing else of the file is used: 0xl writes VM configs itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from zeroxl.errors import UsageError
from zeroxl.names import DISK_NAME_RULE, is_disk_name
from zeroxl.units import MAX_DIGITS, whole_number

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
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
_VDEV = re.compile(r"xvd([a-z]+)")


@dataclass(frozen=True)
class MirageNeeds:
    name: str  # NAME of NAME.xl.in: the kernel mirage builds is NAME.xen
    xen_type: str
    memory: int | None
    blocks: tuple[str, ...]
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
        vdev = _VDEV.fullmatch(options.get("vdev", ""))
        order = (len(vdev.group(1)), vdev.group(1)) if vdev else (99, "")
        disks.append((order, _checked_block_name(block.group(1), where)))
    networks = []
    for spec in _strings(settings.get("vif", []), "vif", where):
        bridge = _option(next((o for o in spec.split(",") if o.strip().startswith("bridge=")), "bridge="))[1]
        network = _NETWORK.fullmatch(bridge)
        if network is None:
            raise UsageError(
                f"{where}: vif bridge {bridge!r} is not a @NETWORK:name@ placeholder",
                hint="give the NAME.xl.in template that mirage configure writes, or declare --network NAME",
            )
        networks.append(_checked_name(network.group(1), "network", where))
    name = path.name.removesuffix(".in").removesuffix(".xl")
    return MirageNeeds(name, xen_type, memory, tuple(n for _, n in sorted(disks)), tuple(networks))


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
    if not is_disk_name(name):
        raise UsageError(
            f"{where}: the block device name {name!r} cannot be declared: 0xl disk names are {DISK_NAME_RULE}",
            hint="rename the block device in the unikernel's config.ml, or declare it by hand without --from-mirage",
        )
    return name


def _checked_name(name: str, what: str, where: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"{where}: the {what} name {name!r} cannot be declared: 0xl names are [a-z][a-z0-9_-]{{0,31}}",
            hint=f"rename the {what} in the unikernel's config.ml, or declare it by hand without --from-mirage",
        )
    return name
