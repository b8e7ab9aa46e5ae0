"""`0xl completion bash|zsh|fish` and `0xl man`, run by the real shells and the real man (man-db): every
command the parser has is completed and documented, so a new command cannot be left out of them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from zeroxl.cli import commandtree
from zeroxl.cli.parser import build_parser

TREE = commandtree.read(build_parser())
COMMANDS = [c for c in commandtree.walk(TREE) if c.path]


def _zx(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "zeroxl", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with `0xl` on it, for the scripts' calls of `0xl list`."""
    d = tmp_path_factory.mktemp("bin")
    (d / "0xl").write_text(f'#!/bin/sh\nexec {sys.executable} -m zeroxl "$@"\n')
    (d / "0xl").chmod(0o755)
    return d


def bash_complete(script: Path, *words: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash offers for the last of WORDS (`0xl` first), through the function `complete -p` names."""
    words_array = " ".join(f"'{w}'" for w in words)
    code = (
        f"source {script}\n"
        "fn=$(complete -p 0xl | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')\n"
        f"COMP_WORDS=({words_array}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n"
        'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}\n'
        '"$fn" 0xl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "-c", code], capture_output=True, text=True, check=True, env=dict(os.environ, **(env or {}))
    )
    return done.stdout.split()


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "0xl.bash"
    path.write_text(_zx("completion", "bash"))
    return path


def test_bash_completes_every_command_and_its_options(bash_script: Path) -> None:
    for c in COMMANDS:
        *parent, last = c.path
        assert last in bash_complete(bash_script, "0xl", *parent, last[:-1] or last), c.words
        flags = [f for o in c.options for f in o.flags if f.startswith("--")]
        assert set(flags) <= set(bash_complete(bash_script, "0xl", *c.path, "--")), c.words


def test_bash_completes_nested_commands_choices_and_skips_option_values(bash_script: Path) -> None:
    assert bash_complete(bash_script, "0xl", "fe") == ["feed"]
    assert bash_complete(bash_script, "0xl", "feed", "set-st") == ["set-stability"]
    assert bash_complete(bash_script, "0xl", "add", "web", "http://x/web.xml", "--channel", "") == ["stable", "testing"]
    assert bash_complete(bash_script, "0xl", "completion", "") == ["bash", "zsh", "fish"]
    # `feed` is the value of --trust-key here, not the command: `add` has no subcommands to offer.
    assert "init" not in bash_complete(bash_script, "0xl", "add", "--trust-key", "feed", "")


def test_bash_completes_the_names_of_services(
    bash_script: Path, bin_dir: Path, site: FeedSite, zhome: Path, zxi
) -> None:
    url = site.publish("web", [Impl("1.0")])
    assert zxi("add", "web", url, "--trust-key", site.publisher.fingerprint).rc == 0
    assert zxi("add", "webmail", url).rc == 0
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "ZEROXL_HOME": str(zhome)}
    assert bash_complete(bash_script, "0xl", "status", "we", env=env) == ["web", "webmail"]
    assert bash_complete(bash_script, "0xl", "disk", "delete", "webm", env=env) == ["webmail"]


def test_fish_completes_every_command(tmp_path: Path) -> None:
    if shutil.which("fish") is None:
        pytest.fail("fish is missing: scripts/system-deps installs it")
    script = tmp_path / "0xl.fish"
    script.write_text(_zx("completion", "fish"))

    def complete(line: str) -> list[str]:
        done = subprocess.run(
            ["fish", "--no-config", "-c", f"source {script}; complete -C '{line}'"],
            capture_output=True,
            text=True,
            check=True,
        )
        return [entry.split("\t")[0] for entry in done.stdout.splitlines()]

    for c in COMMANDS:
        assert c.path[-1] in complete("0xl " + " ".join(c.path)[:-1]), c.words
    assert complete("0xl add x y --channel ") == ["stable", "testing"]
    assert "--archive" in complete("0xl feed add --arc")
    assert "init" not in complete("0xl add --trust-key feed ")


def test_zsh_completes_commands_options_and_choices_at_a_real_prompt(tmp_path: Path) -> None:
    if shutil.which("zsh") is None:
        pytest.fail("zsh is missing: scripts/system-deps installs it")
    (tmp_path / "_0xl").write_text(_zx("completion", "zsh"))
    typed = {
        "0xl fe": "feed",
        "0xl feed a": "feed add",
        "0xl feed set-st": "feed set-stability",
        "0xl add x y --chan": "add x y --channel",
        "0xl add x y --channel te": "add x y --channel testing",
        "0xl completion fi": "completion fish",
    }
    done = subprocess.run(
        ["zsh", "-f", str(Path(__file__).parents[1] / "support" / "zsh-complete"), str(tmp_path), *typed],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert re.findall(r"GOTARGS\((.*?)\)", done.stdout) == list(typed.values()), done.stdout


def test_zsh_script_registers_for_0xl_in_compinit(tmp_path: Path) -> None:
    if shutil.which("zsh") is None:
        pytest.fail("zsh is missing: scripts/system-deps installs it")
    (tmp_path / "_0xl").write_text(_zx("completion", "zsh"))
    subprocess.run(["zsh", "-n", str(tmp_path / "_0xl")], check=True)
    code = f"fpath=({tmp_path} $fpath); autoload -Uz compinit; compinit -u -D; print -r -- $_comps[0xl]"
    done = subprocess.run(["zsh", "-f", "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "_0xl"
    script = (tmp_path / "_0xl").read_text()
    for c in COMMANDS:
        assert "_0xl" + "".join("_" + w.replace("-", "_") for w in c.path) + "()" in script, c.words


def test_man_page_renders_and_documents_every_command(tmp_path: Path) -> None:
    page = tmp_path / "0xl.1"
    page.write_text(_zx("man"))
    # --warnings: groff reports bad roff (an unknown request, a stray escape) on stderr.
    done = subprocess.run(
        ["man", "--warnings", "-l", str(page)],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, MANWIDTH="100", PAGER="cat"),
    )
    assert done.stderr == "", done.stderr
    text = re.sub(".\b", "", done.stdout)  # no bold or underline by overstriking
    for section in ("NAME", "SYNOPSIS", "OPTIONS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT"):
        assert f"\n{section}\n" in text, section
    for c in COMMANDS:
        assert f"\n   0xl {c.words}\n" in text, c.words
        for o in c.options:
            assert o.flags[-1] in text, (c.words, o.flags)
    assert "https_proxy" in text


def test_a_new_command_appears_in_completions_and_man_page() -> None:
    # What the scripts are written from is the parser as it is: a command added to it is in them.
    from zeroxl.cli.completion import script
    from zeroxl.cli.manpage import manual

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    new = sub.add_parser("frobnicate", help="a command added later")  # type: ignore[attr-defined]
    new.add_argument("--with-care", action="store_true")
    for shell in ("bash", "zsh", "fish"):
        assert "frobnicate" in script(shell, parser) and "with-care" in script(shell, parser), shell
    assert '.SS "0xl frobnicate"' in manual(commandtree.read(parser))
