"""Whether a service's settings and a version fit each other: its arguments, disks, memory, channel and
version range against what the version needs and what the host allows. One place for each rule, asked by
add (with the operator's options), update and rollback (with the service as it is configured) and set.

Nothing here changes anything: a version that does not fit is refused, and nothing of the service is
changed to make it fit (its disks in particular are its data). A setting that does not fit is a
SettingError naming the setting (errors.SETTINGS), which the CLI words as the option that set it: at
`add` the operator's option is wrong (status 2); at `update` and `rollback` the version does not fit the
service as it is (SelectionError, status 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from zeroxl.app.context import Context
from zeroxl.disks.base import DEFAULT_DISK
from zeroxl.errors import ARG, DISK, VERSION, PolicyError, SelectionError, Setting, SettingError, UsageError
from zeroxl.feeds import patterns
from zeroxl.feeds.model import Implementation
from zeroxl.feeds.selection import Channel, Requirements, Target
from zeroxl.feeds.versions import VersionRange
from zeroxl.host.names import ARG_NAME, check_disk_name
from zeroxl.host.needs import ServiceNeeds
from zeroxl.host.units import format_size, parse_size
from zeroxl.state.selected import Selected
from zeroxl.state.service import Service

_MAX_ARG_VALUE = 4096


# -- what the operator gives ------------------------------------------------------------------------------


def parse_args(pairs: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not ARG_NAME.fits(key):
            raise SettingError(
                ["invalid ", ARG, f" {pair!r}"],
                hint=["write KEY=VALUE with a lower-case KEY, e.g. ", ARG, " port=8080"],
            )
        if len(value) > _MAX_ARG_VALUE or any(c in value for c in "\0\n\r"):
            raise SettingError(["invalid ", ARG, f" {key}: the value is too long or contains a line break"])
        if key in args:
            raise SettingError([ARG, f" {key} is given twice"])
        args[key] = value
    return args


def parse_disk_specs(specs: list[str]) -> list[tuple[str | None, int]]:
    out: list[tuple[str | None, int]] = []
    for spec in specs:
        name, sep, size = spec.rpartition("=")
        out.append((check_disk_name(name) if sep else None, parse_size(size, what="disk size")))
    return out


def channel(text: str) -> Channel:
    try:
        return Channel(text)
    except ValueError:
        raise UsageError(f"invalid channel {text!r}", hint="use stable or testing") from None


def version_range(text: str) -> VersionRange:
    try:
        return VersionRange.parse(text)
    except ValueError as e:
        raise SettingError(str(e), hint=["e.g. ", VERSION, " 2.0..!3 (from 2.0, before 3)"]) from None


def requirements(svc: Service) -> Requirements:
    """What a version must be to fit SVC as it is configured: built for its target, on its channel, in its range."""
    versions = VersionRange.parse(svc.versions) if svc.versions else None
    return Requirements(Target.parse(svc.target), Channel(svc.channel), versions)


# -- a version against the service's settings -------------------------------------------------------------


def check_args(args: dict[str, str], needs: ServiceNeeds, *, declared_only: bool) -> dict[str, str]:
    """Validate --arg values against what the feed declares; return them.

    With DECLARED_ONLY (VM backends, where arguments become a kernel command line) or when the feed
    declares any argument, every key must be declared and every value must match its pattern.
    """
    if needs.args or declared_only:
        for key, value in args.items():
            decl = needs.arg(key)
            if decl is None:
                known = ", ".join(a.name for a in needs.args) or "none"
                raise SettingError([ARG, f" {key}: the service does not declare this argument (it declares: {known})"])
            if not patterns.matches(decl.pattern, value):
                raise SettingError(
                    [ARG, f" {key}={value!r} does not match the pattern the service declares ({decl.pattern})"]
                )
    missing = [a.name for a in needs.args if a.required and a.default is None and a.name not in args]
    if missing:
        needed: list[str | Setting] = ["the service needs"]
        for m in missing:
            needed += [" ", ARG, f" {m}=..."]
        raise SettingError(needed)
    return args


def plan_disks(specs: list[tuple[str | None, int]], needs: ServiceNeeds, max_size: int | None) -> list[tuple[str, int]]:
    """Map `--disk [NAME=]SIZE` onto the block devices the feed declares (or one disk named `data`)."""
    declared = {b.name: b for b in needs.blocks}
    unnamed = [size for name, size in specs if name is None]
    planned: dict[str, int] = {}
    free_names = [b.name for b in needs.blocks if b.name not in {n for n, _ in specs if n}] or (
        [] if needs.blocks else [DEFAULT_DISK]
    )
    if len(unnamed) > len(free_names):
        it_declares = f" (it declares: {', '.join(declared)})" if declared else ""
        raise SettingError(
            ["more unnamed ", DISK, f" options than the service has disks{it_declares}"],
            hint=["name each disk: ", DISK, " NAME=SIZE"],
        )
    for given, size in specs:
        name = given if given is not None else free_names.pop(0)
        if declared and name not in declared:
            raise SettingError(
                [DISK, f" {name}: the service declares no such disk (it declares: {', '.join(declared)})"]
            )
        if name in planned:
            raise SettingError([DISK, f" {name} is given twice"])
        planned[name] = size
    for name, block in declared.items():
        if name not in planned:
            raise SettingError(
                f"the service needs a disk {name!r} of at least {format_size(block.min_size)}",
                hint=["add ", DISK, f" {name}=SIZE"],
            )
        if planned[name] < block.min_size:
            raise SettingError(
                [DISK, f" {name}: {planned[name]} bytes is below the {format_size(block.min_size)} the service needs"]
            )
    for name, size in planned.items():
        if max_size is not None and size > max_size:
            limit = format_size(max_size)
            raise PolicyError([DISK, f" {name}: {format_size(size)} is over the host's limit of {limit}"])
    return list(planned.items())


def check_fits(ctx: Context, svc: Service, sel: Selected, impl_dir: Path) -> None:
    """Refuse SEL if the service as configured cannot run it: arguments, disks, memory, backend.

    Nothing of the service is changed to make it fit: its disks in particular are its data.
    """
    why: Sequence[str | Setting] | None = None
    try:
        check_args(svc.args, sel.needs, declared_only=Target.parse(svc.target).vm)
    except SettingError as e:
        why = e.parts
    disks = {d.name: d for d in svc.disks}
    for block in sel.needs.blocks:
        disk = disks.get(block.name)
        if disk is None:
            why = [f"it needs a disk {block.name!r}, which {svc.name} does not have"]
        elif disk.size < block.min_size:
            why = [f"it needs the disk {block.name} to have at least {format_size(block.min_size)}"]
    if sel.needs.memory_min and svc.memory is not None and svc.memory < sel.needs.memory_min:
        why = [f"it needs at least {sel.needs.memory_min} MiB of memory; {svc.name} has {svc.memory}"]
    if why is None:
        try:
            ctx.backend(svc.backend).check(replace(svc, current=sel), impl_dir)
        except SettingError as e:
            # The same refusal as of a wrong option of `add` (more networks than bridges, say), but here the
            # settings are the service's and it is the new version that does not fit them: status 8, not 2.
            why = e.parts
    if why is not None:
        raise SelectionError(
            [f"{svc.name}: version {sel.version} does not fit the service as it is configured: ", *why],
            hint=["keep the versions that fit with 0xl set ", svc.name, " ", VERSION, f" '..!{sel.version}'"],
        )


def selected_from(impl: Implementation) -> Selected:
    """What a service's record keeps of IMPL, the version it is to run."""
    run = impl.commands.get("run")
    return Selected(
        id=impl.id,
        version=str(impl.version),
        digest=impl.store_name,
        arch=str(impl.arch),
        stability=str(impl.stability),
        command_path=run.path if run else None,
        command_args=run.args if run else (),
        needs=impl.needs,
    )
