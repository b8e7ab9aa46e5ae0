"""The Xen lab: run a script as root in the dom0 of a real Xen 4.17 host nested in QEMU (TCG).

`run_in_dom0(script_text, timeout)` builds the lab if needed (./build), boots it from a clean root,
runs the script there and returns its exit status and output. See README.md beside this file for what
dom0 offers (0xl on PATH, xl, LVM volume group vg0, bridge xenbr0, a test guest) and for debugging.

What comes back from the machine, and how (image/lab-init is the other side):
  - the script's stdout and stderr, through a virtio serial port written to a file;
  - the console (Xen, the dom0 kernel, lab-init's markers), through the serial port written to a file;
  - the exit status, in a marker line on the console, and as the byte lab-init writes to QEMU's
    isa-debug-exit port, which ends QEMU at once;
  - files, through the share directory (/mnt/share in dom0).
Everything here polls files: no threads, and QEMU never blocks on a reader that went away.
"""

from __future__ import annotations

import argparse
import codecs
import fcntl
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, TextIO

LAB_SOURCE = Path(__file__).resolve().parent
REPO = LAB_SOURCE.parents[2]
BUILD_SCRIPT = LAB_SOURCE / "build"

# What dom0 offers the script; lab-init sets these up and exports them as LAB_* variables.
DOM0_TREE = "/mnt/host"
DOM0_SHARE = "/mnt/share"
DOM0_GUEST_DIR = "/opt/lab/guest"
VOLUME_GROUP = "vg0"
BRIDGE = "xenbr0"
BRIDGE_ADDRESS = "10.0.0.1/24"

# Exit status of run-in-dom0 when the lab itself failed (no status from the script).
EXIT_LAB_FAILURE = 125

_MARKER = re.compile(r"0XL-LAB-(START|EXIT|SETUP-FAILED|STAGE)\b ?(.*)")
_POLL_SECONDS = 0.1
_CONSOLE_TAIL_LINES = 60
_OUTPUT_TAIL_LINES = 30


class LabError(Exception):
    """The lab failed to boot or to report; the script's own failure is a Result, not this."""

    def __init__(self, message: str, console_log: Path | None = None) -> None:
        super().__init__(message)
        self.console_log = console_log


class LabTimeout(LabError):
    """The boot or the script took longer than allowed; QEMU was killed."""


@dataclass(frozen=True)
class Result:
    returncode: int
    output: str  # the script's stdout and stderr, interleaved as written
    boot_seconds: float  # QEMU start to the script's start
    script_seconds: float  # the script's start to its exit status
    console_log: Path | None = None  # kept only when asked (keep_logs) or ZEROXL_LAB_KEEP is set


@dataclass(frozen=True)
class LabConfig:
    """The machine a run gets; the defaults are what the smoke test was measured with."""

    # Without -smap,-smep dom0 takes page faults; without -rdtscp a PVH guest loops. Without -xsave,
    # one guest boot in five or so died at its first AVX instruction (#UD in busybox's vpxor, QEMU 7.2
    # TCG under nested Xen); with no XSAVE nobody enables AVX, and 32 PVH boots in a row went well.
    cpu: str = os.environ.get("ZEROXL_LAB_QEMU_CPU", "max,-smap,-smep,-rdtscp,-xsave")
    memory_mb: int = 2048
    dom0_memory_mb: int = 1024
    scratch_gb: int = 8
    # The scratch disk (vdb, the volume group's): a fresh sparse file per run unless a file is named here,
    # which is kept (made if missing) so that a test can boot dom0 again on what an earlier run left.
    scratch: Path | None = None
    boot_timeout: float = 300.0
    boot_attempts: int = 2


def cache_dir() -> Path:
    return Path(os.environ.get("ZEROXL_LAB_CACHE", "/var/cache/0xl-lab"))


def lab_dir() -> Path:
    """The built lab: xen, vmlinuz, stage1.img, root.img, guest/ (the test guest's kernel and initrd)."""
    return cache_dir() / "lab"


def build(*, force: bool = False) -> Path:
    """Builds the lab unless the cache is up to date (about a second then). Returns lab_dir()."""
    cmd = [str(BUILD_SCRIPT), *(["--force"] if force else [])]
    done = subprocess.run(cmd, check=False)
    if done.returncode != 0:
        raise LabError(f"the lab build failed (exit status {done.returncode}); its messages are above")
    return lab_dir()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "no", "false")


def _qemu_path(path: Path) -> str:
    """QEMU's option parser splits on commas; a doubled comma is a literal one."""
    return str(path).replace(",", ",,")


@dataclass
class _Stream:
    """A file that QEMU appends to, read as it grows, decoded incrementally (UTF-8, lossy)."""

    path: Path
    _file: BinaryIO | None = None
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def read_new(self) -> str:
        if self._file is None:
            if not self.path.exists():
                return ""
            self._file = self.path.open("rb")
        return self._decoder.decode(self._file.read())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


@dataclass
class _Boot:
    """One boot of the lab: the QEMU process, its files and what was seen on the console so far."""

    run_dir: Path
    nonce: str
    echo_output: TextIO | None
    echo_console: TextIO | None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    script_started_at: float | None = None
    exit_status: int | None = None
    setup_failure: str | None = None
    output: list[str] = field(default_factory=list)
    _console_partial: str = ""
    _streams: dict[str, _Stream] = field(default_factory=dict)

    @property
    def console_log(self) -> Path:
        return self.run_dir / "console.log"

    def start(self, lab: Path, share: Path, config: LabConfig) -> None:
        for name in ("xen", "vmlinuz", "stage1.img"):
            # -initrd separates multiboot modules by commas and their arguments by spaces: links with
            # plain names in the run directory keep unusual cache paths out of that string.
            (self.run_dir / name).symlink_to(lab / name)
        scratch = config.scratch or self.run_dir / "scratch.img"
        if not scratch.exists():
            with scratch.open("wb") as f:
                f.truncate(config.scratch_gb << 30)
        xen_args = (
            f"console=com1 com1=115200,8n1 dom0_mem={config.dom0_memory_mb}M,max:{config.dom0_memory_mb}M"
            # One pinned dom0 vCPU on a two-CPU machine: with one CPU, dom0 programs crashed at random
            # while guests ran (notes/hypervisors-here.md).
            " dom0_max_vcpus=1 dom0_vcpus_pin loglvl=all guest_loglvl=all"
        )
        # panic=1: a dom0 panic reboots, Xen reboots the machine and -no-reboot ends QEMU at once.
        dom0_args = "console=hvc0 earlyprintk=xen root=/dev/vda panic=1"
        run = self.run_dir
        cmd = [
            # If this Python process dies, even by SIGKILL, QEMU goes with it.
            "setpriv", "--pdeathsig", "KILL", "--",
            "qemu-system-x86_64",
            "-accel", "tcg",
            "-cpu", config.cpu,
            "-m", str(config.memory_mb), "-smp", "2",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-chardev", f"file,id=con0,path={_qemu_path(run / 'console.log')}",
            "-serial", "chardev:con0",
            "-kernel", str(run / "xen"),
            "-append", xen_args,
            "-initrd", f"{run / 'vmlinuz'} {dom0_args},{run / 'stage1.img'}",
            "-drive", f"file={_qemu_path(lab / 'root.img')},if=virtio,format=raw,snapshot=on",
            "-drive", f"file={_qemu_path(scratch)},if=virtio,format=raw,cache=unsafe",
            "-virtfs", f"local,path={_qemu_path(run / 'ctl')},mount_tag=lab0,security_model=none,readonly=on",
            "-virtfs", f"local,path={_qemu_path(REPO)},mount_tag=host0,security_model=none,readonly=on",
            "-virtfs", f"local,path={_qemu_path(share)},mount_tag=share0,security_model=none",
            "-device", "virtio-serial-pci,id=vser0",
            "-chardev", f"file,id=out0,path={_qemu_path(run / 'output.log')}",
            "-device", "virtserialport,bus=vser0.0,chardev=out0,name=lab.out",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        ]  # fmt: skip
        self._streams = {
            "console": _Stream(run / "console.log"),
            "output": _Stream(run / "output.log"),
        }
        with (run / "qemu.log").open("wb") as qemu_log:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=qemu_log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C at the terminal reaches only us, and we stop QEMU.
                start_new_session=True,
                # QEMU puts the snapshot=on overlay of the root image in TMPDIR: keep it in the run dir.
                env={**os.environ, "TMPDIR": str(run)},
            )

    def poll(self) -> None:
        """Reads what QEMU wrote since the last call."""
        text = self._streams["output"].read_new()
        if text:
            self.output.append(text)
            if self.echo_output is not None:
                self.echo_output.write(text)
                self.echo_output.flush()
        self._console_partial += self._streams["console"].read_new()
        *lines, self._console_partial = self._console_partial.split("\n")
        for line in lines:
            self._console_line(line.rstrip("\r"))

    def _console_line(self, line: str) -> None:
        if self.echo_console is not None:
            self.echo_console.write(f"console| {line}\n")
            self.echo_console.flush()
        match = _MARKER.search(line)
        if match is None:
            return
        kind, rest = match.groups()
        words = rest.split()
        if kind == "START" and words[:1] == [self.nonce]:
            self.script_started_at = time.monotonic()
        elif kind == "EXIT" and words[:1] == [self.nonce] and len(words) > 1 and words[1].isdigit():
            self.exit_status = int(words[1])
        elif kind == "SETUP-FAILED":
            self.setup_failure = rest.strip()

    def qemu_exit_status(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in self._streams.values():
            stream.close()

    def console_tail(self) -> str:
        try:
            # Not splitlines(): the console ends its lines with \r\r\n.
            text = self.console_log.read_text(errors="replace")
            lines = [line.rstrip("\r") for line in text.split("\n")]
        except OSError:
            return "(no console log)"
        qemu_log = (self.run_dir / "qemu.log").read_text(errors="replace").strip()
        tail = "\n".join(f"    {line}" for line in lines[-_CONSOLE_TAIL_LINES:])
        return f"last console lines:\n{tail}" + (f"\nQEMU said: {qemu_log}" if qemu_log else "")


def _keep_log(boot: _Boot) -> Path | None:
    """Copies the console log of a boot to the cache's logs/ (the run directory is removed)."""
    if not boot.console_log.exists():
        return None
    logs = cache_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    kept = logs / f"console-{time.strftime('%Y%m%d-%H%M%S')}-{boot.nonce[:6]}.log"
    shutil.copyfile(boot.console_log, kept)
    for old in sorted(logs.glob("console-*.log"))[:-20]:  # a bounded number of them
        old.unlink(missing_ok=True)
    return kept


def _run_once(boot: _Boot, lab: Path, share: Path, config: LabConfig, timeout: float) -> Result:
    boot.start(lab, share, config)
    while True:
        boot.poll()
        now = time.monotonic()
        qemu_status = boot.qemu_exit_status()
        if boot.exit_status is not None and qemu_status is None:
            # lab-init has reported; QEMU ends as soon as it writes the status port. Give it a moment.
            try:
                assert boot.process is not None
                qemu_status = boot.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                qemu_status = -1
            boot.poll()
        if qemu_status is not None:
            break
        if boot.script_started_at is None and now - boot.started_at > config.boot_timeout:
            raise LabTimeout(f"dom0 did not start the script within {config.boot_timeout:.0f} s")
        if boot.script_started_at is not None and now - boot.script_started_at > timeout:
            raise LabTimeout(f"the script did not finish within {timeout:.0f} s")
        time.sleep(_POLL_SECONDS)

    if boot.script_started_at is None:
        why = boot.setup_failure or f"QEMU exited with status {qemu_status} before the script started"
        raise LabError(f"the lab did not boot: {why}")
    status = boot.exit_status
    if status is None and qemu_status > 0 and qemu_status % 2 == 1:
        # The console marker got lost, but isa-debug-exit carried the status (2*status+1).
        status = qemu_status >> 1
    if status is None:
        raise LabError(f"dom0 died while the script ran (QEMU exit status {qemu_status})")
    return Result(
        returncode=status,
        output="".join(boot.output),
        boot_seconds=boot.script_started_at - boot.started_at,
        script_seconds=time.monotonic() - boot.script_started_at,
    )


def run_script(
    script: Path,
    args: Sequence[str] = (),
    *,
    timeout: float = 600.0,
    share_dir: Path | None = None,
    echo_output: TextIO | None = None,
    echo_console: TextIO | None = None,
    keep_logs: bool = False,
    config: LabConfig | None = None,
) -> Result:
    """Runs an executable file (with a #! line) as root in a freshly booted dom0, from /mnt/host.

    share_dir, if given, is /mnt/share in dom0 (read-write): put inputs there, read results after.
    echo_output and echo_console get the script's output and the console as they come (the console
    goes to stderr anyway when ZEROXL_LAB_VERBOSE is set). A boot that fails before the script starts
    is tried again (config.boot_attempts); a script that started is never run twice.
    Raises LabError when the lab fails; the script's exit status, whatever it is, is in the Result.
    """
    config = config or LabConfig()
    keep = keep_logs or _env_flag("ZEROXL_LAB_KEEP")
    if echo_console is None and _env_flag("ZEROXL_LAB_VERBOSE"):
        echo_console = sys.stderr
    with _lab_in_use() as lab:
        return _run_attempts(
            lab,
            script,
            args,
            timeout=timeout,
            share_dir=share_dir,
            echo_output=echo_output,
            echo_console=echo_console,
            keep=keep,
            config=config,
        )


@contextmanager
def _lab_in_use() -> Iterator[Path]:
    """Holds the cache's lock shared while QEMU uses the lab's files: a rebuild waits for us."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        lab = lab_dir()
        if not (lab / "KEY").exists():
            raise LabError(f"the lab is not built: run {BUILD_SCRIPT}")
        yield lab


def _run_attempts(
    lab: Path,
    script: Path,
    args: Sequence[str],
    *,
    timeout: float,
    share_dir: Path | None,
    echo_output: TextIO | None,
    echo_console: TextIO | None,
    keep: bool,
    config: LabConfig,
) -> Result:
    failures: list[str] = []
    for attempt in range(1, config.boot_attempts + 1):
        run_dir = Path(tempfile.mkdtemp(prefix="0xl-lab-run."))
        boot = _Boot(run_dir, secrets.token_hex(8), echo_output, echo_console)
        try:
            share = share_dir if share_dir is not None else run_dir / "share"
            _prepare(run_dir, boot.nonce, script, args, share)
            try:
                result = _run_once(boot, lab, share, config, timeout)
            finally:
                boot.stop()
            return replace(result, console_log=_keep_log(boot) if keep else None)
        except LabError as error:
            kept = _keep_log(boot)
            message = f"{error}\n{boot.console_tail()}\nwhole console log: {kept}"
            if boot.output:
                output = "".join(boot.output).splitlines()[-_OUTPUT_TAIL_LINES:]
                message += "\nlast lines of the script's output:\n" + "\n".join(f"    {x}" for x in output)
            if boot.script_started_at is not None:
                raise type(error)(message, kept) from None
            failures.append(message)
            if attempt < config.boot_attempts:
                print(f"lab: boot attempt {attempt} failed, trying again: {error}", file=sys.stderr)
        finally:
            if _env_flag("ZEROXL_LAB_KEEP"):
                print(f"lab: run directory kept: {run_dir}", file=sys.stderr)
            else:
                shutil.rmtree(run_dir, ignore_errors=True)
    raise LabError("\n\n".join(failures))


def _prepare(run_dir: Path, nonce: str, script: Path, args: Sequence[str], share: Path) -> None:
    """Fills the control directory that dom0 mounts at /run/lab: the script, its arguments, the nonce."""
    if re.search(r"[\s,]", str(run_dir)):
        raise LabError(f"the temporary directory {run_dir} has a comma or a space: QEMU cannot use it")
    ctl = run_dir / "ctl"
    ctl.mkdir()
    shutil.copyfile(script, ctl / "script")
    (ctl / "script").chmod(0o755)
    (ctl / "args").write_bytes(b"".join(arg.encode() + b"\0" for arg in args))
    (ctl / "nonce").write_text(nonce + "\n")
    share.mkdir(parents=True, exist_ok=True)


def run_in_dom0(
    script_text: str,
    timeout: float = 600.0,
    *,
    args: Sequence[str] = (),
    share_dir: Path | None = None,
    echo_output: TextIO | None = None,
    keep_logs: bool = False,
    config: LabConfig | None = None,
) -> Result:
    """Runs script_text (bash with `set -euo pipefail` unless it starts with #!) as root in dom0.

    The lab must be built (build(), or a session fixture that calls it). See run_script.
    """
    if not script_text.startswith("#!"):
        script_text = "#!/bin/bash\nset -euo pipefail\n" + script_text
    with tempfile.TemporaryDirectory(prefix="0xl-lab-script.") as tmp:
        script = Path(tmp) / "script"
        script.write_text(script_text)
        return run_script(
            script,
            args,
            timeout=timeout,
            share_dir=share_dir,
            echo_output=echo_output,
            keep_logs=keep_logs,
            config=config,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """run-in-dom0 SCRIPT [ARGS...]: the command-line face of run_script."""
    parser = argparse.ArgumentParser(
        prog="run-in-dom0",
        description="Boot the nested Xen lab, run SCRIPT as root in dom0, exit with its status.",
        epilog=f"Exit status {EXIT_LAB_FAILURE} means the lab itself failed (the message says why).",
    )
    parser.add_argument("script", type=Path, help="an executable file with a #! line, run from /mnt/host")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for SCRIPT")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds the script may run")
    parser.add_argument("--share", type=Path, help="host directory mounted read-write at /mnt/share (files in and out)")
    parser.add_argument("--no-build", action="store_true", help="do not check the build first")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also stream the console (or set ZEROXL_LAB_VERBOSE=1)"
    )
    parser.add_argument("--keep-log", action="store_true", help="keep the console log (or set ZEROXL_LAB_KEEP=1)")
    options = parser.parse_args(argv)
    if not options.script.is_file():
        parser.error(f"no such file: {options.script}")
    with options.script.open("rb") as f:
        if f.read(2) != b"#!":
            parser.error(f"{options.script} has no #! line: dom0 would not know what runs it")

    # SIGTERM (CI giving up, a kill) takes the same way out as Ctrl-C, through the clean-up code.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if not options.no_build:
            build()
        verbose = options.verbose or _env_flag("ZEROXL_LAB_VERBOSE")
        result = run_script(
            options.script,
            options.args,
            timeout=options.timeout,
            share_dir=options.share,
            echo_output=sys.stdout,
            echo_console=sys.stderr if verbose else None,
            keep_logs=options.keep_log,
        )
    except LabError as error:
        print(f"run-in-dom0: {error}", file=sys.stderr)
        return EXIT_LAB_FAILURE
    except KeyboardInterrupt:
        print("run-in-dom0: interrupted", file=sys.stderr)
        return 130
    print(
        f"run-in-dom0: exit status {result.returncode}; boot {result.boot_seconds:.1f} s,"
        f" script {result.script_seconds:.1f} s"
        + (f"; console log {result.console_log}" if result.console_log else ""),
        file=sys.stderr,
    )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
