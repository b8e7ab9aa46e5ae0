"""Mutation testing of the security-critical modules with mutmut (`make mutate`, docs/mutation.md).

Each module is mutated alone, against the tests that cover it (TESTS below), in its own work directory
.mutation/NAME/ (mutmut reads its settings from the pyproject.toml of the directory it runs in, so this
writes one there: the project's pytest settings plus a [tool.mutmut] table for that module). mutmut runs,
for each mutant, only the tests that executed the mutated function, in a fork of one warm process.

    scripts/mutate.py                      every module in TESTS, most critical first
    scripts/mutate.py feeds/trust.py ...   the modules named (paths under src/zeroxl)
    scripts/mutate.py --report [MODULE...] the figures and survivors of the last run again
    scripts/mutate.py --survivors [MODULE...]  the last run's survivors again, against the tests as they
                                           are now (after adding a test: does it kill them?)

What survives is left in .mutation/NAME/survivors.txt (each mutant's diff), with the figures in
.mutation/NAME/summary.txt; docs/mutation.md says how to read them and lists the survivors reviewed.
"""

from __future__ import annotations

import fnmatch
import io
import os
import shutil
import subprocess
import sys
import time
import tokenize
import tomllib
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
# Trees the tests read besides src/ and tests/ (the sample service, the 0xl launcher): copied beside them.
ALSO_COPY = ["bin", "examples", "scripts"]

# Module (under src/zeroxl) -> the tests that cover it, in the order of `make mutate`: most critical first.
# Tests run in-process (main(argv), the functions themselves): a test that runs `0xl` as a subprocess
# imports the unmutated code, and mutmut maps a test to a function only when it ran it in-process.
TESTS: dict[str, list[str]] = {
    "feeds/trust.py": [
        "tests/unit/test_trust.py",
        "tests/integration/test_verify.py",
        "tests/integration/test_trust_interop.py",
        "tests/integration/test_refusals.py",
        "tests/integration/test_freeze.py",
        "tests/integration/test_feed_cache_names.py",
    ],
    "feeds/signature.py": [
        "tests/unit/test_signature.py",
        "tests/unit/test_signature_key_url.py",
        "tests/unit/test_signature_limits.py",
        "tests/unit/test_signature_status.py",
        "tests/integration/test_verify.py",
        "tests/integration/test_gpg.py",
        "tests/integration/test_future_signatures.py",
        "tests/integration/test_trust_interop.py",
    ],
    "feeds/manifest.py": [
        "tests/unit/test_manifest.py",
        "tests/integration/test_store.py",
        "tests/integration/test_store_digest.py",
    ],
    "feeds/verify.py": [
        "tests/unit/test_signature_key_url.py",
        "tests/integration/test_verify.py",
        "tests/integration/test_refusals.py",
        "tests/integration/test_trust_interop.py",
        "tests/integration/test_key_states.py",
    ],
    "host/policy.py": [
        "tests/unit/test_vm_policy.py",
        "tests/integration/test_resources.py",
    ],
    "backends/xen/cfgfile.py": [
        "tests/unit/test_xlcfg.py",
        "tests/unit/test_vm_policy.py",
        "tests/integration/test_xen_host.py",
    ],
    # Real LVM runs only in the Xen lab (tests/labs/xen), which boots a VM: mutmut cannot run it per mutant.
    "disks/lvm.py": [
        "tests/unit/test_tool_argv.py",
        "tests/unit/test_inputs.py",
    ],
    # Only its parsing of gpg's status lines is mutated (ONLY, below): pure, and tested on gpg's own output.
    # (tests/integration/test_gpg.py's hung-gpg test fails under mutmut, whose stats run it then refuses.)
    "feeds/gpg.py": [
        "tests/unit/test_signature_status.py",
    ],
    "feeds/decompress.py": [
        "tests/unit/test_decompress.py",
        "tests/unit/test_unpack_limits.py",
        "tests/unit/test_extract.py",
    ],
    "feeds/load.py": [
        "tests/integration/test_verify.py",
        "tests/integration/test_refusals.py",
        "tests/integration/test_freeze.py",
        "tests/integration/test_future_signatures.py",
        "tests/integration/test_feed_check.py",
        "tests/integration/test_update_isolation.py",
    ],
    "backends/xen/domain.py": [
        "tests/unit/test_vm_policy.py",
        "tests/unit/test_patterns.py",
        "tests/unit/test_schema.py",
        "tests/unit/test_xlcfg.py",
        "tests/integration/test_xen_host.py",
    ],
    "disks/file.py": [
        "tests/integration/test_deploy.py",
        "tests/integration/test_resources.py",
        "tests/integration/test_refusals.py",
    ],
    # The unit tests unpack real archives (tar, zip, the compressions) made in the test; the store's
    # integration tests add about half an hour to a run for few more kills.
    # Last: its mutants may delete in mutmut's working tree (docs/mutation.md, "Left to do").
    "feeds/extract.py": [
        "tests/unit/test_extract.py",
        "tests/unit/test_unpack_limits.py",
        "tests/unit/test_decompress.py",
    ],
}

# Where only part of a module is security-critical: the functions mutated (mutmut's names: `x_NAME` for a
# function, `xǁCLASSǁNAME` for a method). The others are left alone and not counted.
ONLY: dict[str, list[str]] = {
    "feeds/gpg.py": ["x__status_lines", "x__timestamp", "x_parse_verify_status"],
    "feeds/load.py": [f"xǁFeedLoaderǁ{name}" for name in ("load", "commit", "_current_trust", "_decide_trust")],
}

# Lines never mutated (regular expressions, mutmut's do_not_mutate_patterns). feeds/extract.py deletes
# trees through directory descriptors: mutated, `os.scandir(fd)` becomes `os.scandir(None)`, which lists
# the current directory, and a test's rmtree then empties mutmut's own working tree (it did, in the first
# run). These lines are reviewed by hand and tested by tests/unit/test_extract.py's rmtree tests.
DO_NOT_MUTATE: dict[str, list[str]] = {
    "feeds/extract.py": [r"unlink|rmdir|scandir|_empty_directory|dir_fd|rmtree\(|follow_symlinks|is_symlink|fchmod"],
}


def selected(module: str) -> list[str]:
    """mutmut's patterns for the mutants of MODULE that are run and counted."""
    prefix = "zeroxl." + module.removesuffix(".py").replace("/", ".")
    return [f"{prefix}.{function}__mutmut_*" for function in ONLY.get(module, ["*"])]


def prepare(module: str) -> Path:
    """A fresh work directory for one module: links to the trees, and a pyproject.toml for mutmut."""
    work = WORK / module.removesuffix(".py").replace("/", ".")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for tree in ["src", "tests", *ALSO_COPY]:
        (work / tree).symlink_to(ROOT / tree)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    settings = {
        "tool": {
            "pytest": project["tool"]["pytest"],
            "mutmut": {
                "source_paths": ["src"],
                "only_mutate": [f"src/zeroxl/{module}"],
                "pytest_add_cli_args_test_selection": TESTS[module],
                "pytest_add_cli_args": ["-p", "no:cacheprovider"],
                "also_copy": ALSO_COPY,
                "do_not_mutate_patterns": DO_NOT_MUTATE.get(module, []),
            },
        }
    }
    (work / "pyproject.toml").write_text(tomli_w.dumps(settings))
    # mutmut puts mutants/src first on sys.path (and removes src/) only if it exists when it starts.
    (work / "mutants" / "src").mkdir(parents=True)
    return work


def mutmut(work: Path, *args: str, capture: bool = False) -> str:
    command = [str(Path(sys.executable).parent / "mutmut"), *args]
    env = dict(os.environ)
    # A test that starts a Python process of 0xl's (the supervisor) gets the mutated tree too.
    env["PYTHONPATH"] = str(work / "mutants" / "src")
    out = subprocess.PIPE if capture else None
    done = subprocess.run(command, cwd=work, env=env, check=False, text=True, stdout=out)
    return done.stdout if capture else ""


def only_text(diff: str) -> bool:
    """Whether a mutant's diff changes nothing but the contents of string literals (mutmut's "XX…XX",
    upper or lower case): mostly the wording of messages, which docs/mutation.md reviews as a group."""

    def masked(lines: list[str]) -> list[str]:
        try:
            tokens = tokenize.generate_tokens(io.StringIO("\n".join(line.strip() for line in lines)).readline)
            return [("STRING" if t.type == tokenize.STRING else t.string) for t in tokens]
        except (tokenize.TokenError, SyntaxError):
            return []

    removed = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return bool(removed) and masked(removed) == masked(added) != []


def results(module: str, work: Path) -> list[tuple[str, str]]:
    """(mutant, status) for every selected mutant of MODULE's last run in WORK."""
    found = []
    patterns = selected(module)
    for line in mutmut(work, "results", "--all", "true", capture=True).splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name and any(fnmatch.fnmatchcase(name, p) for p in patterns):
            found.append((name, status))
    return found


def report(module: str, work: Path, seconds: float) -> str:
    counts: dict[str, int] = {}
    survivors = []
    for name, status in results(module, work):
        counts[status] = counts.get(status, 0) + 1
        if status in {"survived", "no tests", "suspicious"}:
            survivors.append((name, status))
    text = 0
    with (work / "survivors.txt").open("w") as out:
        for name, status in survivors:
            diff = mutmut(work, "show", name, capture=True)
            kind = "text" if only_text(diff) else "code"
            text += kind == "text"
            out.write(f"### {name} ({status}, {kind})\n{diff}\n")
    total = sum(counts.values())
    figures = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
    summary = f"{module}: {total} mutants ({figures}; {text} survivors change only text) in {seconds / 60:.1f} min"
    (work / "summary.txt").write_text(summary + "\n")
    return summary


def main(argv: list[str]) -> int:
    mode = argv[0] if argv[:1] in (["--report"], ["--survivors"]) else "--run"
    modules = argv[mode != "--run" :] or list(TESTS)
    unknown = [m for m in modules if m not in TESTS]
    if unknown:
        print(f"mutate: no tests are mapped for {', '.join(unknown)}; known: {' '.join(TESTS)}", file=sys.stderr)
        return 2
    summaries = []
    for module in modules:
        if mode != "--run":
            work = WORK / module.removesuffix(".py").replace("/", ".")
            seconds = float((work / "seconds").read_text())
            if mode == "--survivors":
                # mutmut copies tests/ again and maps the new tests before it runs the mutants named.
                names = [name for name, status in results(module, work) if status in {"survived", "no tests"}]
                if names:
                    mutmut(work, "run", *names)
        else:
            work = prepare(module)
            print(f"== {module} (in {work.relative_to(ROOT)})", flush=True)
            started = time.monotonic()
            mutmut(work, "run", *([] if module not in ONLY else selected(module)))
            seconds = time.monotonic() - started
            (work / "seconds").write_text(f"{seconds:.0f}\n")
        summaries.append(report(module, work, seconds))
        print(summaries[-1], flush=True)
    print("\n".join(summaries))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
