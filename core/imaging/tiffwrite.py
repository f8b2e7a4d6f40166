"""Write a tiled, planar (C, H, W) TIFF with its pyramid as SubIFDs, streaming tile by tile.

Level 0 comes from a row reader ``(c, y0, y1) -> (y1-y0, W)``. While a level's tiles are written, each
row band is also downsampled into the next level's :class:`LevelStore`, which then feeds the next level:
no level is ever held whole unless it fits the memory limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import tifffile

from core.imaging.pyramid import LevelStore, downsample2

TILE = 256
COMPRESSION = "zlib"
COMPRESSION_ARGS = {"level": 1}
MEMORY_LIMIT = 64 << 20  # bytes of a level kept in memory before it spills to disk

RowReader = Callable[[int, int, int], np.ndarray]
Progress = Callable[[float], None]


def _tiles(
    read_rows: RowReader, shape: tuple[int, int, int], nxt: LevelStore | None, tick: Callable[[int], None]
) -> Iterator[np.ndarray]:
    channels, height, width = shape
    for c in range(channels):
        for y0 in range(0, height, TILE):
            y1 = min(y0 + TILE, height)
            rows = read_rows(c, y0, y1)
            if nxt is not None:
                nxt.write_rows(c, y0 // 2, downsample2(rows))
            tick((y1 - y0) * width)  # before the tiles: the writer stops pulling after the last one
            for x0 in range(0, width, TILE):
                yield rows[:, x0 : x0 + TILE]


def write_pyramid_tiff(
    path: Path,
    read_level0: RowReader,
    *,
    channels: int,
    dtype: np.dtype,
    shapes: list[tuple[int, int]],
    is_rgb: bool,
    pixel_size_um: float | None,
    spill_dir: Path,
    progress: Progress | None = None,
) -> None:
    """Write ``path``: level 0 (``shapes[0]``) from ``read_level0``, then each smaller level as a SubIFD."""
    dtype = np.dtype(dtype)
    total = sum(channels * h * w for h, w in shapes)
    done = 0

    def tick(pixels: int) -> None:
        nonlocal done
        done += pixels
        if progress is not None:
            progress(min(1.0, done / total))

    bigtiff = total * dtype.itemsize > 2**31
    photometric = "rgb" if is_rgb else "minisblack"
    stores: list[LevelStore] = []
    try:
        with tifffile.TiffWriter(path, bigtiff=bigtiff) as writer:
            read_rows = read_level0
            for k, (h, w) in enumerate(shapes):
                nxt = None
                if k + 1 < len(shapes):
                    nxt = LevelStore(
                        (channels, *shapes[k + 1]), dtype, spill_dir=spill_dir, memory_limit=MEMORY_LIMIT
                    )
                    stores.append(nxt)
                extra: dict[str, object] = {"subifds": len(shapes) - 1} if k == 0 else {"subfiletype": 1}
                if pixel_size_um:
                    per_cm = 1e4 / (pixel_size_um * 2**k)
                    extra.update(resolution=(per_cm, per_cm), resolutionunit="CENTIMETER")
                writer.write(
                    _tiles(read_rows, (channels, h, w), nxt, tick),
                    shape=(channels, h, w) if channels > 1 else (h, w),
                    dtype=dtype,
                    tile=(TILE, TILE),
                    photometric=photometric,
                    planarconfig="separate" if channels > 1 else None,
                    compression=COMPRESSION,
                    compressionargs=COMPRESSION_ARGS,
                    metadata=None,
                    **extra,
                )
                if k >= 1:
                    stores[k - 1].close()
                if nxt is not None:
                    read_rows = nxt.read_rows
    finally:
        for store in stores:
            store.close()
