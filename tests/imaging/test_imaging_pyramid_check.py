"""The pyramid checks of whole-slide files (core.imaging.pyramid_check), each rule on a crafted file."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import tifffile

from core.errors import ImageImportError
from core.imaging import probe


def _write(path, levels, *, tile=None, rowsperstrip=None):
    """A pyramid of all-zero levels (H, W) from precompressed deflate blocks: tiny files of any size."""
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tif:
        for index, (height, width) in enumerate(levels):
            rows = None
            if tile:
                count = -(-height // tile[0]) * -(-width // tile[1])
                block = zlib.compress(bytes(tile[0] * tile[1]), 1)
            else:
                rows = rowsperstrip or height
                count = -(-height // rows)
                block = zlib.compress(bytes(rows * width), 1)
            first = {"subifds": len(levels) - 1, "metadata": {"axes": "YX"}}
            options = first if index == 0 else {"subfiletype": 1}
            tif.write((block for _ in range(count)), shape=(height, width), dtype=np.uint8, tile=tile,
                      rowsperstrip=rows, compression="zlib", **options)
    return path


def test_level_much_smaller_than_the_one_above_is_refused(tmp_path):
    src = _write(tmp_path / "jump.tif", [(2048, 2048), (64, 64)], tile=(64, 64))
    with pytest.raises(ImageImportError, match=r"level 1 \(64 x 64 px\) is 32.00 x 32.00 times smaller"):
        probe(src)


def test_level_with_another_aspect_ratio_is_refused(tmp_path):
    src = _write(tmp_path / "skew.tif", [(1024, 1024), (512, 128)], tile=(64, 64))
    with pytest.raises(ImageImportError, match="by the same factor in height and width"):
        probe(src)


def test_tiles_too_large_are_refused(tmp_path):
    src = _write(tmp_path / "bigtile.tif", [(8192, 8192), (4096, 4096)], tile=(8192, 8192))
    with pytest.raises(ImageImportError, match=r"tiles of 8192 x 8192 px"):
        probe(src)


def test_strip_that_decodes_to_more_than_64_mb_is_refused(tmp_path):
    src = _write(tmp_path / "strip.tif", [(8200, 8200), (4100, 4100)])  # one strip per level
    with pytest.raises(ImageImportError, match=r"strips of 8200 x 8200 samples, 64 MB each"):
        probe(src)


def test_small_compressible_pyramid_passes(tmp_path):
    src = _write(tmp_path / "ok.tif", [(256, 256), (128, 128)], tile=(64, 64))  # zeros: under 400x here
    info = probe(src)
    assert info.is_wsi and info.levels == 2
