"""Geometry of tiled inference: cores partition the image, windows give context, regions are covered."""

from __future__ import annotations

import numpy as np
import pytest

from core.inference.grid import Grid, ceil32

SIZES = [(1, 1), (31, 45), (300, 520), (1000, 333), (1100, 1100)]


@pytest.mark.parametrize(("height", "width"), SIZES)
@pytest.mark.parametrize(
    ("tile", "halo", "block", "context"), [(128, 64, 256, 64), (64, 32, 128, 32), (512, 64, 1024, 64)]
)
def test_tile_cores_partition_the_image_and_windows_hold_the_halo(height, width, tile, halo, block, context):
    grid = Grid(height, width, tile, halo, block, context)
    cover = np.zeros((height, width), dtype=np.int32)
    wh, ww = grid.window
    for r in range(grid.rows):
        for c in range(grid.cols):
            for t in grid.tiles(r, c):
                (y0, y1), (x0, x1) = t.core_y, t.core_x
                cover[y0:y1, x0:x1] += 1
                assert t.window_y[1] - t.window_y[0] == wh and t.window_x[1] - t.window_x[0] == ww
                assert t.window_y[0] % 32 == 0 and t.window_x[0] % 32 == 0
                assert 0 <= t.window_y[0] and t.window_y[1] <= ceil32(height)
                assert 0 <= t.window_x[0] and t.window_x[1] <= ceil32(width)
                # at least `halo` of context on each side, unless the window meets the (padded) image edge
                assert y0 - t.window_y[0] >= halo or t.window_y[0] == 0
                assert t.window_y[1] - y1 >= halo or t.window_y[1] == ceil32(height)
                assert x0 - t.window_x[0] >= halo or t.window_x[0] == 0
                assert t.window_x[1] - x1 >= halo or t.window_x[1] == ceil32(width)
    assert (cover == 1).all()


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_context_regions_lie_in_already_computed_map_blocks(height, width):
    grid = Grid(height, width, 64, 32, 128, 32)
    owned = np.zeros((height, width), dtype=np.int32)
    for r in range(grid.rows):
        for c in range(grid.cols):
            (oy0, oy1), (ox0, ox1) = grid.owned(r, c)
            owned[oy0:oy1, ox0:ox1] += 1
            (ey0, ey1), (ex0, ex1) = grid.context_region(r, c)
            done = np.zeros((height, width), dtype=bool)
            for rr in (r - 1, r):
                for cc in (c - 1, c):
                    if rr >= 0 and cc >= 0:
                        (my0, my1), (mx0, mx1) = grid.map_block(rr, cc)
                        done[my0:my1, mx0:mx1] = True
            assert done[ey0:ey1, ex0:ex1].all()
            assert ey0 == max(oy0 - 32, 0) and ey1 == min(oy1 + 32, height)
    assert (owned == 1).all()
