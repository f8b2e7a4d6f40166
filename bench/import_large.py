"""Benchmark: import a synthetic 25,000 x 25,000 uint8 tiled TIFF and read regions of the stored pyramid.

Run: ``PYTHONPATH=. python bench/import_large.py [--size 25000] [--keep DIR]``

Prints the import wall time, the peak RSS of the import (measured in a fresh child process that does
nothing else), the time of a 1024 x 1024 region read at full resolution (first read after opening, and the
median of further reads at random places), and the time of a whole-image read at the smallest pyramid
level. Targets (issue 2): peak RSS under 1.5 GB, region read under 0.2 s. The source is generated tile by
tile in a temporary folder that is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

TILE = 512


def make_source(path: Path, size: int) -> None:
    """A smooth pattern with 3 bits of noise (compresses about like microscopy), written tile by tile."""
    rng = np.random.default_rng(0)

    def tiles():
        for ty in range(0, size, TILE):
            for tx in range(0, size, TILE):
                yy, xx = np.mgrid[ty : ty + TILE, tx : tx + TILE]
                tile = ((yy // 7 + xx // 11) % 200).astype(np.uint8)
                tile += rng.integers(0, 8, tile.shape, dtype=np.uint8)
                yield tile

    tifffile.imwrite(
        path,
        tiles(),
        shape=(size, size),
        dtype=np.uint8,
        tile=(TILE, TILE),
        compression="zlib",
        compressionargs={"level": 1},
    )


def child_import(src: str, dest: str) -> None:
    """Run in a fresh process: import, then print wall time and this process's peak RSS as JSON."""
    from core.imaging import import_image

    start = time.perf_counter()
    stored = import_image(Path(src), Path(dest), "large")
    wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(
        json.dumps(
            {
                "wall_s": wall,
                "peak_rss_mb": peak_kb / 1024,
                "path": str(stored.path),
                "levels": stored.levels,
                "bytes": stored.path.stat().st_size,
            }
        )
    )


def child_reads(path: str) -> None:
    """Run in a fresh process: region and level read timings."""
    from core.imaging import open_image

    rng = np.random.default_rng(1)
    start = time.perf_counter()
    with open_image(path) as reader:
        height, width = reader.level_shapes[0]
        first = reader.read_region(0, height // 2, width // 2, 1024, 1024)
        first_s = time.perf_counter() - start
        if first.shape != (1, 1024, 1024):
            raise RuntimeError(f"region read returned {first.shape}, expected (1, 1024, 1024)")
        times = []
        for _ in range(7):
            y, x = (int(v) for v in rng.integers(0, [height - 1024, width - 1024]))
            t0 = time.perf_counter()
            reader.read_region(0, y, x, 1024, 1024)
            times.append(time.perf_counter() - t0)
        smallest = reader.levels - 1
        t0 = time.perf_counter()
        level = reader.read_level(smallest)
        level_s = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "first_region_s": first_s,
                "region_median_s": float(np.median(times)),
                "region_max_s": float(max(times)),
                "smallest_level": smallest,
                "smallest_shape": list(level.shape),
                "smallest_level_s": level_s,
                "reads_peak_rss_mb": peak_kb / 1024,
            }
        )
    )


def _run_child(*args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=25000, help="side of the square test image in pixels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="segstudio_bench_") as tmp:
        src = Path(tmp) / "source.tif"
        t0 = time.perf_counter()
        make_source(src, args.size)
        print(
            f"source: {args.size} x {args.size} uint8 ({args.size**2 / 1e6:.0f} MP), tiled {TILE}, "
            f"{src.stat().st_size / 1e6:.0f} MB on disk, generated in {time.perf_counter() - t0:.1f} s"
        )
        result = _run_child("--child-import", str(src), str(Path(tmp) / "store"))
        print(
            f"import: wall {result['wall_s']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB "
            "(target < 1536 MB), "
            f"{result['levels']} levels, stored {result['bytes'] / 1e6:.0f} MB"
        )
        reads = _run_child("--child-reads", result["path"])
        print(
            f"region 1024x1024 at level 0: first read after open {reads['first_region_s'] * 1000:.0f} ms, "
            f"median of 7 more {reads['region_median_s'] * 1000:.0f} ms, "
            f"max {reads['region_max_s'] * 1000:.0f} ms "
            "(target < 200 ms)"
        )
        print(
            f"whole smallest level ({reads['smallest_level']}, shape {tuple(reads['smallest_shape'])}): "
            f"{reads['smallest_level_s'] * 1000:.0f} ms; reader peak RSS {reads['reads_peak_rss_mb']:.0f} MB"
        )
        print(
            f"machine: {os.cpu_count()} CPU cores (shared with other jobs), load average "
            f"{os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child-import":
        child_import(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 2 and sys.argv[1] == "--child-reads":
        child_reads(sys.argv[2])
    else:
        main()
