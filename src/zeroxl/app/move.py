"""`0xl move NAME --to HOST [--with-data] [--delete-disks]`: a libvirt service from its host A to host B
(docs/fleet.md, "Moving a service").

Under the service's lock (one for the name whatever the host: the locks are the operator machine's):
1. B gets the service as an `add` would make it, with the record, version, arguments, memory and MACs it
   has on A: a note `moving.json` in B's record directory says where it comes from, and `adding.json`
   (state/adding.py) lists each volume before it is created in B's pool, as large as A's.
2. With data, the service is stopped on A first (if it runs), and each disk volume is copied from A's pool
   into B's through libvirt's download and upload streams, then read back on B (size and SHA-256:
   backends/libvirt/transfer.py). Without, B's volumes are new and empty.
3. The domain is defined on B, and the record saved there with A's history and a `move` entry.
4. A: the domain is undefined and the record removed, as `destroy` does: its volumes are kept there
   unless --delete-disks.
5. If the service ran on A, it is started on B. The note goes.

A failure before the record is saved on B (a host that dies, a copy that does not match, Ctrl-C) undoes
what was made on B (domain, volumes, record directory) and starts the service again on A if the move had
stopped it. If B cannot be reached to undo, the note stays, and `0xl doctor` finishes the undoing once it
answers. A move killed outright is found by `0xl doctor` from its note: before step 3 it is undone, after
it finished (steps 4 and 5).
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zeroxl import testhooks
from zeroxl.app import add as add_app
from zeroxl.app import journal, session
from zeroxl.app.context import Context, Ui
from zeroxl.app.hosts import host_context
from zeroxl.app.implementations import impl_dir
from zeroxl.backends.libvirt.volumes import Volumes
from zeroxl.backends.states import RUNNING
from zeroxl.errors import ConflictError, UsageError, ZeroxlError
from zeroxl.host import macs as mac_addresses
from zeroxl.host.policy import check_memory, vm_memory
from zeroxl.state import atomic
from zeroxl.state.adding import AddJournal
from zeroxl.state.history import Entry, History
from zeroxl.state.hosts import Hosts
from zeroxl.state.service import Disk, Service, now

NOTE = "moving.json"
BACKEND = "libvirt"  # the one backend whose services another host can run (docs/fleet.md)


@dataclass(frozen=True)
class Moved:
    name: str
    source: str
    target: str
    disks: tuple[Disk, ...]  # on the target
    copied: dict[str, str]  # disk name: SHA-256 of the contents copied (with data)
    kept: tuple[Disk, ...]  # left on the source
    deleted: tuple[Disk, ...]  # deleted on the source (--delete-disks)
    running: bool  # it runs on the target


@dataclass(frozen=True)
class _Note:
    source: str
    target: str
    with_data: bool
    delete_disks: bool
    was_running: bool
    stopped: bool  # the move stopped it on the source (to copy its data)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "with_data": self.with_data,
            "delete_disks": self.delete_disks,
            "was_running": self.was_running,
            "stopped": self.stopped,
            "started": now(),
        }

    @classmethod
    def read(cls, path: Path) -> _Note:
        d = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            str(d["from"]), str(d["to"]), bool(d["with_data"]), bool(d["delete_disks"]), bool(d["was_running"]),
            bool(d["stopped"]),
        )  # fmt: skip


def move(
    main: Path,
    name: str,
    source: str,
    target: str,
    *,
    with_data: bool = False,
    delete_disks: bool = False,
    ui: Ui | None = None,
    wait: float = 0.0,
) -> Moved:
    """Move the service NAME from the host SOURCE to the host TARGET of the ZEROXL_HOME at MAIN."""
    if source == target:
        raise UsageError(f"{name} is on the host {source} already: give another host with --to")
    with (
        host_context(main, source, ui) as src,
        host_context(main, target, ui) as dst,
        session.service_lock(src, name, wait=wait),
    ):
        journal.recover(src, name)
        unfinished = _unfinished(main, name)
        if unfinished is not None:
            raise ConflictError(
                f"a move of {name} to the host {unfinished} was interrupted", hint="0xl doctor finishes or undoes it"
            )
        svc = src.records.load(name)
        _check(src, dst, svc, target, with_data=with_data)
        be = src.backend(BACKEND)
        was_running = be.status(svc).state == RUNNING
        note = _Note(source, target, with_data, delete_disks, was_running, stopped=with_data and was_running)
        moved, copied = _make(src, dst, svc, note)
        testhooks.pause("move-recorded")
        return replace(_finish(src, dst, name, note, moved), copied=copied)


def _unfinished(main: Path, name: str) -> str | None:
    """The host where a note says a move of NAME was under way, None if there is none."""
    for host in Hosts(main).all():
        with host_context(main, host.name) as ctx:
            if (ctx.records.dir(name) / NOTE).is_file():
                return host.name
    return None


def _check(src: Context, dst: Context, svc: Service, target: str, *, with_data: bool) -> None:
    """Refuse the move before anything is made: what runs elsewhere than libvirt, a name taken on the target,
    disks that are not volumes (with data), a memory or MAC over the target's policy or taken there."""
    if svc.backend != BACKEND:
        raise UsageError(
            f"{svc.name} runs on the {svc.backend} backend: only a libvirt service moves to another host",
            hint=f"destroy it and add it on the host {target} (docs/fleet.md)",
        )
    if dst.records.exists(svc.name):
        raise ConflictError(
            f"the host {target} has a service named {svc.name} already",
            hint=f"see 0xl status {svc.name} --host {target}",
        )
    if with_data:
        for disk in svc.disks:
            if disk.kind != BACKEND:
                raise UsageError(
                    f"the disk {disk.name} of {svc.name} is not a libvirt storage volume ({disk.location}): "
                    "0xl copies only volumes",
                    hint="move it without --with-data, and copy the data yourself",
                )
    kept = [d for d in svc.disks if dst.disks(BACKEND).find(svc.name, d.name) is not None]
    if kept:
        raise ConflictError(
            f"the host {target} keeps a disk {kept[0].name} of an earlier service {svc.name}: "
            "0xl does not overwrite it",
            hint=f"delete it first (0xl disk delete {svc.name} {kept[0].name} --host {target}) if it is not needed",
        )
    others = [dst.records.load(n) for n in dst.records.names() if n != svc.name]
    vms = [vm_memory(o.memory, o.needs) for o in others if o.backend == BACKEND]
    check_memory(svc.name, svc.memory, svc.needs, dst.config.policy, vms)
    mac_addresses.check_unique(svc.name, svc.macs, {o.name: o.macs for o in others})
    defined: Callable[[Service], bool] = getattr(dst.backend(BACKEND), "defined")  # noqa: B009
    if defined(svc):
        raise ConflictError(
            f"the host {target} has a domain {svc.name} of 0xl's already (another operator machine's?)",
            hint="see virsh list --all on that host",
        )
    dst.backend(BACKEND).check(replace(svc, disks=()), impl_dir(src, svc))


def _make(src: Context, dst: Context, svc: Service, note: _Note) -> tuple[Service, dict[str, str]]:
    """Steps 1 to 3 of the module's docstring; undone on any failure. Returns B's record, and the SHA-256
    of each disk copied."""
    directory = dst.records.dir(svc.name)
    if directory.exists():  # what a killed add of the name on B left
        add_app.undo_interrupted(dst, svc.name, set())
        dst.records.bury(svc.name)
        dst.records.clear_buried()
    directory.mkdir(parents=True)
    atomic.write_json(directory / NOTE, note.to_json())
    adding = AddJournal.begin(directory)
    try:
        if note.stopped:
            src.backend(BACKEND).stop(svc)
        target_disks = dst.disks(BACKEND)
        made = []
        for disk in svc.disks:
            adding.disk(target_disks.kind, disk.name)
            made.append(target_disks.create(svc.name, disk.name, disk.size))
        testhooks.pause("move-disks-made")
        copied: dict[str, str] = {}
        if note.with_data:
            from zeroxl.backends.libvirt import transfer

            for disk, new in zip(svc.disks, made, strict=True):
                copied[disk.name] = transfer.copy(_volumes(src), disk, _volumes(dst), new)
        moved = replace(svc, disks=tuple(made), desired="stopped", transition=None, updated=now())
        define: Callable[[Service, Path], None] = getattr(dst.backend(BACKEND), "define")  # noqa: B009
        define(moved, impl_dir(dst, moved))
        dst.records.save(moved)
    except ZeroxlError as e:
        raise _not_moved(e, svc.name, note, _undo_quietly(src, dst, svc, note)) from None
    except BaseException:  # Ctrl-C, or a failure of 0xl itself: undone all the same
        _undo_quietly(src, dst, svc, note)
        raise
    how = "with its data" if note.with_data else "with new empty disks"
    History(directory).append(
        *History(src.records.dir(svc.name)).entries(),
        Entry(
            time=now(),
            action="move",
            to=svc.current,
            from_=svc.current,
            message=f"moved from the host {note.source} to {note.target} {how}"
            + "".join(f"; disk {d} copied, SHA-256 {h}" for d, h in copied.items()),
        ),
    )
    adding.end()
    return moved, copied


def _volumes(ctx: Context) -> Volumes:
    disks = ctx.disks(BACKEND)
    if not isinstance(disks, Volumes):
        raise TypeError("the libvirt backend's disks are storage volumes")
    return disks


def _undo(src: Context, dst: Context, svc: Service, note: _Note) -> list[str]:
    """Run the service again on the source if the move stopped it, then remove what the move made on the
    target (its domain, the volumes adding.json lists, the record directory). Raises if a host cannot be
    reached: the note stays, for `0xl doctor`."""
    done = []
    if note.stopped and src.records.exists(svc.name):
        be = src.backend(BACKEND)
        if be.status(svc).state != RUNNING:
            be.start(svc, impl_dir(src, svc))
            done.append(f"{svc.name} runs again on {note.source}")
    dst.backend(BACKEND).cleanup(svc)  # nothing if it was not defined there yet
    undone = add_app.undo_interrupted(dst, svc.name, set())
    if undone:
        done.append(undone.replace(f"undid an add of {svc.name} that was interrupted", f"on {note.target}"))
    dst.records.bury(svc.name)
    dst.records.clear_buried()
    return done


def _undo_quietly(src: Context, dst: Context, svc: Service, note: _Note) -> ZeroxlError | None:
    """_undo, after a failure: returns why it could not finish (None if it did)."""
    try:
        _undo(src, dst, svc, note)
    except ZeroxlError as e:
        return e
    return None


def _not_moved(e: ZeroxlError, name: str, note: _Note, undo_error: ZeroxlError | None) -> ZeroxlError:
    """E (of its own class, for its exit status), saying that NAME stays where it was."""
    where = "runs" if note.was_running else "is"
    said = [f"{name} was not moved to {note.target}: ", *e.parts, f"; it {where} on {note.source} as before"]
    hint: list[str | Any] | None = list(e.hint_parts) if e.hint_parts else None
    if undo_error is not None:
        said.append(f", but what the move made on {note.target} is not undone yet: {undo_error.message}")
        hint = [f"0xl doctor undoes it once {note.target} answers"]
    error = copy.copy(e)
    ZeroxlError.__init__(error, said, hint=hint)
    return error


def _finish(src: Context, dst: Context, name: str, note: _Note, moved: Service) -> Moved:
    """Steps 4 and 5: the source's domain and record go (its volumes stay unless asked), then the service
    runs on the target if it ran before."""
    kept: tuple[Disk, ...] = ()
    deleted: list[Disk] = []
    if src.records.exists(name):
        svc = src.records.load(name)
        be = src.backend(BACKEND)
        be.stop(svc)
        be.cleanup(svc)
        if note.delete_disks:
            disks = src.disks(BACKEND)
            for disk in svc.disks:
                disks.delete(disk)
                deleted.append(disk)
        else:
            kept = svc.disks
        src.records.bury(name)
        src.records.clear_buried()
    running = False
    if note.was_running:
        be = dst.backend(BACKEND)
        if be.status(moved).state != RUNNING:
            be.start(moved, impl_dir(dst, moved))
        moved = dst.records.change(moved, desired="running")
        running = True
    (dst.records.dir(name) / NOTE).unlink(missing_ok=True)
    return Moved(name, note.source, note.target, moved.disks, {}, kept, tuple(deleted), running)


def _notes(main: Path) -> Iterator[tuple[str, str]]:
    """(target host, service name) of every move note."""
    for host in Hosts(main).all():
        with host_context(main, host.name) as ctx, contextlib.suppress(FileNotFoundError):
            for entry in sorted(ctx.records.root.iterdir()):
                if (entry / NOTE).is_file():
                    yield host.name, entry.name


def recover_all(main: Path, *, wait: float = 0.0) -> tuple[list[str], list[tuple[str, ZeroxlError]]]:
    """Finish every move whose record on the target was saved, undo the others (for `0xl doctor`): what
    was done, and the services whose move could not be finished or undone now (a host that does not
    answer), with why."""
    done: list[str] = []
    failed: list[tuple[str, ZeroxlError]] = []
    for target, name in list(_notes(main)):
        try:
            note = _Note.read(host_context(main, target).records.dir(name) / NOTE)
            with (
                host_context(main, note.source) as src,
                host_context(main, target) as dst,
                session.service_lock(src, name, wait=wait),
            ):
                done.append(_recover(src, dst, name, note))
        except ZeroxlError as e:
            failed.append((name, e))
        except (OSError, ValueError, KeyError) as e:
            failed.append((name, ZeroxlError(f"the note of a move of {name} to {target} cannot be read: {e}")))
    return done, failed


def _recover(src: Context, dst: Context, name: str, note: _Note) -> str:
    if dst.records.exists(name):
        moved = dst.records.load(name)
        if not History(dst.records.dir(name)).entries():
            History(dst.records.dir(name)).append(
                *History(src.records.dir(name)).entries(),
                Entry(time=now(), action="move", to=moved.current, from_=moved.current,
                      message=f"moved from the host {note.source} to {note.target} (finished by 0xl doctor)"),
            )  # fmt: skip
        AddJournal(dst.records.dir(name) / "adding.json").end()
        _finish(src, dst, name, note, moved)
        return f"finished the interrupted move of {name} from {note.source} to {note.target}"
    svc = src.records.load(name)
    undone = _undo(src, dst, svc, note)
    return f"undid the interrupted move of {name} to {note.target}" + (f": {', '.join(undone)}" if undone else "")
