"""The sha256new digest of a ~100 MB tree: 0xl's `manifest.digest` against `0install digest`.

A tree of a few big files and a few thousand small ones in nested directories is made once; each tool
digests it RUNS times after one warm-up run each (so both read from the page cache), and the medians
are printed with their ratio. 0install's time includes starting its process (tens of milliseconds),
as that is what a caller of `0install digest` pays too.

    .venv/bin/python bench/bench_digest.py [--runs 7] [--size-mb 100] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from zeroxl.feeds import manifest

BIG_FILES = 4
BIG_SHARE = 0.6  # of the total size, in the big files; the rest in small files


def make_tree(root: Path, total: int, seed: int = 1) -> tuple[int, int]:
    """Fill ROOT with about TOTAL bytes; returns (number of files, bytes written)."""
    rng = random.Random(seed)  # noqa: S311 - filler data, not secrets
    written = files = 0
    big = int(total * BIG_SHARE) // BIG_FILES
    for i in range(BIG_FILES):
        path = root / "images" / f"big{i}.img"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(big))
        written += big
        files += 1
    while written < total:
        directory = root / "lib" / f"d{files // 100:03d}" / f"sub{files % 3}"
        directory.mkdir(parents=True, exist_ok=True)
        size = rng.randint(1 << 10, 32 << 10)
        path = directory / f"f{files:05d}.dat"
        path.write_bytes(rng.randbytes(size))
        if files % 7 == 0:
            path.chmod(0o755)
        written += size
        files += 1
    return files, written


def time_zeroxl(root: Path) -> tuple[float, str]:
    start = time.perf_counter()
    digest = manifest.digest(root)
    return time.perf_counter() - start, digest


def time_zeroinstall(root: Path, base: Path) -> tuple[float, str]:
    env = dict(os.environ, ZEROINSTALL_PORTABLE_BASE=str(base))
    start = time.perf_counter()
    out = subprocess.run(
        ["0install", "digest", "--algorithm=sha256new", str(root)],
        capture_output=True,
        check=True,
        env=env,
    )
    elapsed = time.perf_counter() - start
    return elapsed, out.stdout.decode().strip().removeprefix("sha256new_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--dir", type=Path, default=None, help="where to make the tree (default: $TMPDIR)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp) / "tree"
        files, written = make_tree(root, args.size_mb << 20)
        print(f"tree: {files} files, {written / (1 << 20):.1f} MiB, in {root.parent}")

        base = Path(tmp) / "0install"
        base.mkdir()
        _, our_digest = time_zeroxl(root)  # also the warm-up run
        _, their_digest = time_zeroinstall(root, base)
        assert our_digest == their_digest, (our_digest, their_digest)
        print(f"digest: sha256new_{our_digest} (the same from both)")

        ours = [time_zeroxl(root)[0] for _ in range(args.runs)]
        theirs = [time_zeroinstall(root, base)[0] for _ in range(args.runs)]
        m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
        mib = written / (1 << 20)
        print(f"0xl      median {m_ours:.3f} s over {args.runs} runs ({mib / m_ours:.0f} MiB/s)")
        print(f"0install median {m_theirs:.3f} s over {args.runs} runs ({mib / m_theirs:.0f} MiB/s)")
        print(f"ratio 0xl / 0install: {m_ours / m_theirs:.2f}")


if __name__ == "__main__":
    main()
