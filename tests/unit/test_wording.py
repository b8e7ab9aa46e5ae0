"""Messages that read as English whatever their numbers (issue 16)."""

from __future__ import annotations

from zeroxl.app.update import passing_over


def test_passing_over_one_version_or_several() -> None:
    assert passing_over("web", ["3.0"]) == "passing over 3.0: web was rolled back from it; --retry takes it"
    # "passing over 3.0, 2.0: web was rolled back from it" before.
    assert passing_over("web", ["3.0", "2.0"]) == (
        "passing over 3.0 and 2.0: web was rolled back from them; --retry takes them"
    )
    assert passing_over("web", ["4.0", "3.0", "2.0"]).startswith("passing over 4.0, 3.0 and 2.0: ")
