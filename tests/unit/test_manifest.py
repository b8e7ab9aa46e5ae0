"""The sha256new manifest, checked against a manifest and digest that 0install 2.18 printed for the same
tree (the interop tests in tests/integration/test_store_digest.py compare with the live program)."""

from __future__ import annotations

import os
import subprocess
import tracemalloc
from pathlib import Path

import pytest

from zeroxl.errors import StateError, VerificationError
from zeroxl.feeds import manifest


def manifest_text(root: Path) -> str:
    """The manifest as text. Names that are not UTF-8 come back as surrogate escapes, so that
    `text.encode("utf-8", "surrogateescape")` is exactly `manifest.manifest_bytes(root)`."""
    return manifest.manifest_bytes(root).decode("utf-8", "surrogateescape")


def _golden_tree(root: Path) -> Path:
    """The tree behind GOLDEN: odd mtimes (a fraction just under a second, one before 1970), an
    executable, a symlink, an empty file and an empty directory."""
    (root / "sub" / "empty").mkdir(parents=True)
    (root / "a").write_bytes(b"hello\n")
    os.utime(root / "a", ns=(1_700_000_000_999_999_999, 1_700_000_000_999_999_999))
    (root / "empty").write_bytes(b"")
    os.utime(root / "empty", ns=(-5_500_000_000, -5_500_000_000))
    (root / "sub" / "run").write_bytes(b"x")
    (root / "sub" / "run").chmod(0o755)
    os.utime(root / "sub" / "run", (1_600_000_000, 1_600_000_000))
    (root / "link").symlink_to("a")
    return root


# Printed by `0install store manifest DIR sha256new` (0install 2.18, Debian 0install-core 2.18-2), the
# manifest and then, as its last line, the digest (GOLDEN_DIGEST).
GOLDEN = (
    b"F 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 1700000000 6 a\n"
    b"F e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 -5 0 empty\n"
    b"S ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb 1 link\n"
    b"D /sub\n"
    b"X 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 1600000000 1 run\n"
    b"D /sub/empty\n"
)
GOLDEN_DIGEST = "Z34YW6ZYK2VL7GNXJMUR3H3MODGI5EM46WBGT5S6U5FZ3ZB4SN7Q"


def test_manifest_is_byte_for_byte_what_0install_wrote(tmp_path: Path) -> None:
    tree = _golden_tree(tmp_path / "t")
    assert manifest.manifest_bytes(tree) == GOLDEN
    assert manifest_text(tree) == GOLDEN.decode()
    assert manifest.digest(tree) == GOLDEN_DIGEST


def test_digest_is_unpadded_upper_case_base32() -> None:
    assert manifest.digest_of_manifest(GOLDEN) == GOLDEN_DIGEST
    assert manifest.is_digest(GOLDEN_DIGEST)
    # An empty directory: `0install digest --algorithm=sha256new` prints this for one, and coreutils
    # compute it apart from 0xl: base32 of the SHA-256 of no bytes, its '=' padding dropped.
    empty = "4OYMIQUY7QOBJGX36TEJS35ZEQT24QPEMSNZGTFESWMRW6CSXBKQ"
    assert manifest.digest_of_manifest(b"") == empty
    sha = subprocess.run(["sha256sum"], input=b"", capture_output=True, check=True).stdout.split()[0]
    b32 = subprocess.run(["base32"], input=bytes.fromhex(sha.decode()), capture_output=True, check=True).stdout
    assert b32.decode().strip().rstrip("=") == empty


@pytest.mark.parametrize(
    ("mtime_ns", "expected"),
    [
        (0, 0),
        (1_700_000_000_000_000_000, 1_700_000_000),
        # Python's st_mtime rounds this up to 1700000001.0; OCaml's stat steps back below the second.
        (1_700_000_000_999_999_999, 1_700_000_000),
        (1_700_000_000_500_000_000, 1_700_000_000),
        # Before 1970 the float is truncated towards zero, so -5.5 s is written as -5.
        (-5_500_000_000, -5),
        (-5_000_000_000, -5),
        (-1, 0),
    ],
)
def test_mtime_is_truncated_like_ocamls_float_stat(mtime_ns: int, expected: int) -> None:
    assert manifest.manifest_mtime(mtime_ns) == expected


def test_files_come_before_subdirectories_each_sorted_by_bytes(tmp_path: Path) -> None:
    for name in ("b", "B", "a", "é", "a b"):
        (tmp_path / name).write_bytes(b"")
        os.utime(tmp_path / name, (0, 0))
    for name in ("0dir", "zdir"):
        (tmp_path / name).mkdir()
    (tmp_path / "0dir" / "inner").mkdir()
    names = [
        line.split(b" ", 4)[-1] if line.startswith(b"F") else line
        for line in manifest.manifest_bytes(tmp_path).splitlines()
    ]
    assert names == [b"B", b"a", b"a b", b"b", "é".encode(), b"D /0dir", b"D /0dir/inner", b"D /zdir"]


def test_top_level_manifest_file_is_left_out_but_not_elsewhere(tmp_path: Path) -> None:
    (tmp_path / ".manifest").write_bytes(b"anything")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".manifest").write_bytes(b"x")
    text = manifest_text(tmp_path)
    assert text.splitlines()[0] == "D /sub"
    assert text.splitlines()[1].endswith(" 1 .manifest")


def test_top_level_manifest_symlink_is_listed(tmp_path: Path) -> None:
    (tmp_path / ".manifest").symlink_to("x")
    assert manifest_text(tmp_path).startswith("S ")


def test_any_execute_bit_makes_a_file_executable(tmp_path: Path) -> None:
    for mode, name in ((0o644, "plain"), (0o744, "user"), (0o654, "group"), (0o645, "other")):
        (tmp_path / name).write_bytes(b"")
        (tmp_path / name).chmod(mode)
    kinds = {line.split()[-1]: line[0] for line in manifest_text(tmp_path).splitlines()}
    assert kinds == {"plain": "F", "user": "X", "group": "X", "other": "X"}


def test_name_that_is_not_utf8_is_kept_as_bytes(tmp_path: Path) -> None:
    (Path(os.fsdecode(bytes(tmp_path) + b"/\xff\xfe"))).write_bytes(b"")
    data = manifest.manifest_bytes(tmp_path)
    assert data.endswith(b" 0 \xff\xfe\n")
    assert manifest_text(tmp_path).encode("utf-8", "surrogateescape") == data


def test_fifo_in_tree_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(VerificationError, match="pipe"):
        manifest.digest(tmp_path)


def test_newline_in_directory_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a\nb").mkdir()
    with pytest.raises(VerificationError, match="newline"):
        manifest.digest(tmp_path)


def test_newline_in_file_name_is_refused_as_it_could_forge_manifest_lines(tmp_path: Path) -> None:
    # 0install 2.18 accepts this one (it checks directory names only); the manifest spec rejects it.
    (tmp_path / "a\nF 0 0 0 b").write_bytes(b"")
    with pytest.raises(VerificationError, match="newline"):
        manifest.digest(tmp_path)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "../../etc",
        GOLDEN_DIGEST.lower(),
        GOLDEN_DIGEST + "=",
        GOLDEN_DIGEST[:-1],
        GOLDEN_DIGEST[:-1] + "1",
    ],
)
def test_malformed_digest_never_becomes_a_store_name(value: str) -> None:
    assert not manifest.is_digest(value)
    with pytest.raises(VerificationError):
        manifest.store_name(value)


def test_large_file_is_hashed_without_reading_it_into_memory(tmp_path: Path) -> None:
    big = tmp_path / "big"
    with big.open("wb") as f:
        f.truncate(256 << 20)  # sparse: cheap to make, but read in full when hashed
    tracemalloc.start()
    try:
        manifest.digest(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


# -- what `make mutate` found untested (docs/mutation.md) --------------------------------------------


def test_refusals_name_the_path_in_the_tree(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a\nb").write_bytes(b"")
    with pytest.raises(VerificationError) as e:
        manifest.digest(tmp_path)
    assert "'sub/a\\nb'" in e.value.message
    with pytest.raises(VerificationError) as e:
        manifest.store_name("../../etc")
    assert "52 characters from A-Z and 2-7" in (e.value.hint or "")


# A tree can change between the listing (lstat) and the reading of a file, when the archive's tree is
# being swapped under 0xl. These call the reading step on what the swap would leave, as lstat cannot be
# raced on demand.
def test_a_symlink_swapped_in_for_a_listed_file_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"host file")
    (tmp_path / "f").symlink_to(tmp_path / "secret")
    with pytest.raises(StateError) as e:
        manifest._file_line(os.fsencode(tmp_path / "f"), b"f")
    assert f"cannot read {tmp_path / 'f'}" in e.value.message


def test_a_fifo_swapped_in_for_a_listed_file_is_refused_without_blocking(tmp_path: Path) -> None:
    # Opened without O_NONBLOCK, a fifo with no writer would hang 0xl for ever here.
    os.mkfifo(tmp_path / "f")
    with pytest.raises(VerificationError) as e:
        manifest._file_line(os.fsencode(tmp_path / "f"), b"f")
    assert f"{tmp_path / 'f'} changed while it was being read" in e.value.message


def test_a_symlink_removed_after_the_listing_is_a_state_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(StateError) as e:
        manifest._symlink_line(os.fsencode(tmp_path / "gone"), b"gone")
    assert f"cannot read symlink {tmp_path / 'gone'}" in e.value.message


def test_a_directory_removed_after_the_listing_is_a_state_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(StateError) as e:
        list(manifest._entries(os.fsencode(tmp_path), b"gone"))
    assert f"cannot list {tmp_path / 'gone'}" in e.value.message


def test_a_digest_may_use_every_base32_character() -> None:
    every = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" + "A" * 20
    assert manifest.is_digest(every)
    assert manifest.store_name(every) == "sha256new_" + every


def test_refused_trees_say_why_0install_refuses_them_too(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(VerificationError) as e:
        manifest.digest(tmp_path)
    assert "device files, fifos or sockets" in (e.value.hint or "")
    os.unlink(tmp_path / "pipe")
    (tmp_path / "a\nb").write_bytes(b"")
    with pytest.raises(VerificationError) as e:
        manifest.digest(tmp_path)
    assert "0install forbids these" in (e.value.hint or "")
