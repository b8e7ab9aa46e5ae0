"""What one archive may unpack to (issue 10, point 8), and hard links to themselves (point 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import archives as A
from zeroxl.errors import VerificationError
from zeroxl.feeds import extract as X
from zeroxl.host import config

MiB = 1 << 20


def test_budget_is_the_ratio_times_the_archive_within_a_floor_and_a_total() -> None:
    limits = X.ExtractLimits(max_bytes=64 * MiB, max_ratio=100)
    assert limits.budget(200 * 1024) == 100 * 200 * 1024
    assert limits.budget(100) == X.MIN_BUDGET  # a tiny archive of a script may still unpack
    assert limits.budget(10 * MiB) == 64 * MiB  # the total bounds a large archive


@pytest.mark.parametrize("name", ["x.tar.gz", "x.tar.xz", "x.zip"])
def test_archive_that_expands_past_the_ratio_is_refused_before_its_member_is_written(tmp_path: Path, name: str) -> None:
    archive = A.write_archive(tmp_path / name, [A.file("ok", b"fine"), A.file("zeros", bytes(16 * MiB))])
    assert archive.stat().st_size < 100 * 1024
    tree = tmp_path / "tree"
    tree.mkdir()
    mime = {"x.tar.gz": X.TAR_GZ, "x.tar.xz": X.TAR_XZ, "x.zip": X.ZIP}[name]
    budget = X.ExtractLimits().budget(archive.stat().st_size)
    with pytest.raises(
        VerificationError, match=f"'zeros' takes the unpacked size over the limit of {budget} bytes, 100 times"
    ):
        X.unpack(archive, tree, mime_type=mime, scratch=tmp_path / "s")
    assert list(tree.iterdir()) == [] and not (tmp_path / "s").exists()


def test_config_sets_the_ratio_and_the_total(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[store]\nmax_unpacked_size = "2G"\nmax_unpack_ratio = 50\n')
    c = config.load(path)
    assert (c.max_unpacked_size, c.max_unpack_ratio) == (2 << 30, 50)
    assert (config.Config().max_unpacked_size, config.Config().max_unpack_ratio) == (None, None)


@pytest.mark.parametrize(
    "members",
    [
        [A.file("a", b"x"), A.hardlink("a", "a")],  # replacing a, the link would lose its target
        [A.hardlink("a", "a")],
        [A.directory("d"), A.file("d/a", b"x"), A.hardlink("d/a", "./d/a")],
        [A.file("a", b"x"), A.hardlink("b", "a"), A.hardlink("b", "b/")],
    ],
)
def test_hard_link_to_itself_is_refused(tmp_path: Path, members: list[A.Member]) -> None:
    archive = A.write_archive(tmp_path / "x.tar", members)
    tree = tmp_path / "tree"
    tree.mkdir()
    with pytest.raises(VerificationError, match="is a hard link to itself") as e:
        X.unpack(archive, tree, mime_type=X.TAR, scratch=tmp_path / "s")
    assert e.value.exit_status == 4
