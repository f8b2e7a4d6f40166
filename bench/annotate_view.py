"""Benchmark: canvas view of a 625 MP image, and rasterising 5,000 polygons on a 10,000 x 10,000 image.

Run: ``PYTHONPATH=. python bench/annotate_view.py [--size 25000] [--keep FILE]``

1. Writes a synthetic ``size x size`` uint8 pyramidal tiled TIFF, streaming, in the exact format of the
   image store (``core.imaging.tiffwrite.write_pyramid_tiff``: 256 px zlib tiles, SubIFD levels), unless
   ``--keep FILE`` already exists (then it is reused; without ``--keep`` the file is deleted at the end).
2. Times ``render_view`` of a 1024 x 1024 canvas (open once, as the page caches the reader): the fitted
   overview, 1:1 views at random places, 0.5x and 4x zoom. Target: under 0.5 s.
3. Times ``semantic_masks``, ``instance_labels`` and ``annotated_area`` for 5,000 random polygons (about 24
   vertices, radius 8-40 px) on a 10,000 x 10,000 image, and ``shapes_to_canvas`` for the shapes in a view.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.annotations import (  # noqa: E402
    ShapeData,
    Viewport,
    annotated_area,
    instance_labels,
    render_view,
    semantic_masks,
    shapes_to_canvas,
)
from core.imaging import open_image  # noqa: E402
from core.imaging.pyramid import level_shapes  # noqa: E402
from core.imaging.tiffwrite import write_pyramid_tiff  # noqa: E402


def make_image(path: Path, size: int) -> float:
    rng = np.random.default_rng(0)

    def rows(c: int, y0: int, y1: int) -> np.ndarray:
        yy, xx = np.ogrid[y0:y1, 0:size]
        band = ((yy // 7 + xx // 11) % 200).astype(np.uint8)
        band += rng.integers(0, 8, band.shape, dtype=np.uint8)
        return band

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="segstudio_bench_spill_") as spill:
        write_pyramid_tiff(path, rows, channels=1, dtype=np.uint8, shapes=level_shapes(size, size),
                           is_rgb=False, pixel_size_um=None, spill_dir=Path(spill))
    return time.perf_counter() - t0


def bench_view(path: Path) -> None:
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    reader = open_image(path)
    open_s = time.perf_counter() - t0
    with reader:
        hw = tuple(reader.shape[1:])
        contrast = [(0.0, 255.0)]
        fit = Viewport.fit(hw, 1024, 1024, level_shapes=reader.level_shapes)
        print(f"image {hw[1]} x {hw[0]} ({hw[0] * hw[1] / 1e6:.0f} MP), levels {reader.level_shapes}; "
              f"open {open_s * 1000:.0f} ms")

        def timed(vp: Viewport) -> float:
            t = time.perf_counter()
            pic = render_view(reader, vp, contrast=contrast, is_rgb=False)
            if pic.size != (1024, 1024):
                raise RuntimeError(f"render_view gave {pic.size}")
            return time.perf_counter() - t

        first = timed(fit)
        again = [timed(fit) for _ in range(3)]
        print(f"fitted overview (scale {fit.scale:.4f}, level {fit.level}): first {first * 1000:.0f} ms, "
              f"then median {statistics.median(again) * 1000:.0f} ms")
        for label, scale in (("1:1", 1.0), ("0.5x", 0.5), ("4x", 4.0)):
            times, level = [], 0
            for _ in range(8):
                x, y = rng.uniform(0, hw[1]), rng.uniform(0, hw[0])
                vp = fit.zoomed(scale / fit.scale, (x, y))
                level = vp.level
                times.append(timed(vp))
            print(f"view {label} (level {level}) at 8 random places: "
                  f"median {statistics.median(times) * 1000:.0f} ms, "
                  f"max {max(times) * 1000:.0f} ms (target < 500 ms)")


def random_polygons(n: int, size: int, rng: np.random.Generator) -> list[ShapeData]:
    shapes = []
    for _ in range(n):
        k = 24
        cx, cy = rng.uniform(50, size - 50, 2)
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        radius = rng.uniform(8, 40) * rng.uniform(0.7, 1.0, k)
        ring = np.c_[cx + radius * np.cos(angles), cy + radius * np.sin(angles)]
        shapes.append(ShapeData("annotation", "polygon", ring, label_id=1 + int(rng.integers(0, 2))))
    return shapes


def bench_raster(n: int, size: int) -> None:
    rng = np.random.default_rng(2)
    shapes = random_polygons(n, size, rng)
    half = [[0, 0], [size / 2, 0], [size / 2, size], [0, size]]
    shapes.append(ShapeData("roi", "rectangle", half, label_id=None))
    hw = (size, size)
    for name, fn in (
        ("semantic_masks (2 labels)", lambda: semantic_masks(shapes, [1, 2], hw)),
        ("instance_labels (label 1)", lambda: instance_labels(shapes, 1, hw)),
        ("annotated_area (roi_only=False)", lambda: annotated_area(shapes, hw, roi_only=False)),
        ("instance_labels of a 512x512 patch",
         lambda: instance_labels(shapes, 1, hw, region=(4000, 4000, 512, 512))),
    ):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        print(f"{name}: {n} polygons on {size} x {size} -> {out.shape}: "
              f"median of 3 {statistics.median(times):.3f} s")
    vp = Viewport(hw, 1024, 1024, x0=3000, y0=3000, scale=0.5)
    t0 = time.perf_counter()
    drawing = shapes_to_canvas(shapes, vp, {1: "#ff0000", 2: "#00ff00"})
    print(f"shapes_to_canvas: {len(drawing['objects'])} objects in a 2048 x 2048 px view: "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=25000, help="side of the square test image in pixels")
    parser.add_argument("--keep", type=Path, help="write the test image here and keep it (reused if present)")
    parser.add_argument("--polygons", type=int, default=5000)
    parser.add_argument("--raster-size", type=int, default=10000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="segstudio_bench_") as tmp:
        path = args.keep or Path(tmp) / "large.tif"
        if path.exists():
            print(f"reusing {path}")
        else:
            seconds = make_image(path, args.size)
            print(f"wrote {path.name}: {path.stat().st_size / 1e6:.0f} MB in {seconds:.1f} s")
        bench_view(path)
    bench_raster(args.polygons, args.raster_size)
    print(f"machine: {os.cpu_count()} CPU cores (shared with other jobs), "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
