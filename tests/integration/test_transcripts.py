"""The transcripts in README.md and docs/*.md are what 0xl prints now: scripts/transcripts.py runs their
scenarios (a feed published with `0xl feed`, served on 127.0.0.1, deployed, updated, rolled back and
destroyed) and compares, ignoring times, durations, pids, CPU and memory figures and column widths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "transcripts.py"


def test_transcripts_match_what_0xl_prints() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def test_a_transcript_that_no_longer_matches_is_found(tmp_path: Path) -> None:
    # normalise() must not hide what matters: another version, message or order is a difference.
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import transcripts
    finally:
        sys.path.remove(str(SCRIPT.parent))
    written = "$ 0xl run web\nweb started (version 1.0)\nuptime:    3s\npid:       123\n"
    assert transcripts.normalise(written) == transcripts.normalise(
        "$ 0xl run web\nweb started (version 1.0)\nuptime:    14s\npid:       98765\n"
    )
    assert transcripts.normalise(written) != transcripts.normalise(written.replace("1.0", "2.0"))
    assert transcripts.normalise(written) != transcripts.normalise(written.replace("started", "is running"))
    text = "x\n<!-- transcript: deploy -->\n```\n$ 0xl list\n```\n<!-- /transcript -->\ny\n"
    (tmp_path / "README.md").write_text(text)
    [m] = transcripts.blocks(tmp_path / "README.md")
    assert (m.group("name"), m.group("body")) == ("deploy", "$ 0xl list\n")
