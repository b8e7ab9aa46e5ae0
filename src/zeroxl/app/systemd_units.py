"""`0xl systemd install`: write 0xl's systemd units (the boot unit, the daily update and its timer, the
status page) with the absolute path of the `0xl` that runs this command and the ZEROXL_HOME it uses, and
enable them with `systemctl enable`.

The shipped units (zeroxl/systemd/) say `ExecStart=0xl …`, and systemd looks a bare name up in its own
fixed search path, where a `pipx install` or a venv's `0xl` is not: so the path is written in. Only
what 0xl itself ships is written, and a command path 0xl would have to quote is refused rather than
quoted (the unit files are read by a parser with rules of its own).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from zeroxl import proc
from zeroxl.errors import BackendError, UsageError
from zeroxl.state import atomic

# What is written, and which of them `systemctl enable` is given (0xl-update.service is started by its
# timer; the status page listens on a port, so it is enabled only when asked for: `--web`).
UNITS = ("0xl.service", "0xl-update.service", "0xl-update.timer", "0xl-web.service")
ENABLED = ("0xl.service", "0xl-update.timer")
WEB = "0xl-web.service"
UNIT_DIR = "etc/systemd/system"  # under --root, or /
SYSTEMCTL = "systemctl"
# A path systemd reads as it is, without quotes or escapes (systemd.syntax(7), systemd.service(5)).
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._+@:/-]*")


@dataclass(frozen=True)
class Installed:
    unit_dir: str
    written: tuple[str, ...]
    enabled: tuple[str, ...]  # what `systemctl enable` was given
    not_enabled: str | None  # why nothing was enabled (no systemctl), or None
    texts: dict[str, str]  # each unit as written (or, with dry_run, as it would be)


def render(name: str, command: list[str], home: str) -> str:
    """The shipped unit NAME with COMMAND (the `0xl` to run, as an argument list) in its ExecStart and
    HOME as its ZEROXL_HOME."""
    for word in [*command, home]:
        if not _PLAIN_PATH.fullmatch(word) and word not in ("-m", "zeroxl"):
            raise UsageError(
                f"cannot write {word!r} into a systemd unit: only absolute paths of letters, digits and ._+@:/- "
                "are written as they are",
                hint="install 0xl (pipx, a venv) under such a path, or run it from one",
            )
    text = (files("zeroxl") / "systemd" / name).read_text()
    lines = []
    for line in text.splitlines():
        if line.startswith("ExecStart=0xl "):
            lines.append("ExecStart=" + " ".join(command) + line.removeprefix("ExecStart=0xl"))
        elif line.startswith("Environment=ZEROXL_HOME="):
            lines.append(f"Environment=ZEROXL_HOME={home}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def install(
    command: list[str], home: str, *, root: str | None = None, web: bool = False, dry_run: bool = False
) -> Installed:
    """Write the units into ROOT/etc/systemd/system (ROOT: / unless given) and enable them."""
    unit_dir = Path(root or "/", UNIT_DIR)
    texts = {name: render(name, command, home) for name in UNITS}
    enable = (*ENABLED, WEB) if web else ENABLED
    if dry_run:
        return Installed(str(unit_dir), (), (), None, texts)
    try:
        unit_dir.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            atomic.write_text(unit_dir / name, text, mode=0o644)
    except PermissionError as e:
        raise UsageError(
            f"cannot write the units into {unit_dir}: {e.strerror}", hint="run it as root, or give --root DIR"
        ) from e
    if shutil.which(SYSTEMCTL) is None:
        return Installed(str(unit_dir), UNITS, (), "systemctl is not installed", texts)
    root_args = [f"--root={root}"] if root else []
    try:
        proc.run([SYSTEMCTL, *root_args, "enable", "--", *enable], timeout=60)
        if not root and os.path.isdir("/run/systemd/system"):  # systemd runs this host: let it see them now  # noqa: PTH112
            proc.run([SYSTEMCTL, "daemon-reload"], timeout=60)
    except proc.CommandFailed as e:
        raise BackendError(f"the units are written in {unit_dir}, but {e.message}", hint=e.hint) from e
    return Installed(str(unit_dir), UNITS, enable, None, texts)
