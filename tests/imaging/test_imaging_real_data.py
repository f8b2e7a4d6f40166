"""Real microscopy files from the shared data folder (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from core.imaging import import_image, open_image, read_array

DATA = Path("/work/shared/data")


def _first(folder: str, pattern: str) -> Path:
    files = sorted((DATA / folder).glob(pattern))
    if not files:
        pytest.skip(f"{DATA / folder} has no {pattern}")
    return files[0]


def test_bbbc039_16bit_tiff(tmp_path):
    src = _first("bbbc039_u2os_16bit", "images/*.tif")
    stored = import_image(src, tmp_path, "bbbc")
    assert (stored.dtype, stored.channels, stored.width, stored.height) == ("uint16", 1, 696, 520)
    with open_image(stored.path) as reader:
        np.testing.assert_array_equal(reader.read_level(0)[0], tifffile.imread(src))


def test_dsb2018_rgb_png(tmp_path):
    src = _first("dsb2018_rgb_histo", "images/*.png")
    stored = import_image(src, tmp_path, "histo")
    assert stored.is_rgb and stored.channels == 3 and stored.dtype == "uint8"
    with open_image(stored.path) as reader:
        np.testing.assert_array_equal(
            reader.read_level(0), np.moveaxis(np.asarray(Image.open(src).convert("RGB")), -1, 0)
        )


def test_label_mask_tiff_reads_as_2d(tmp_path):
    mask = _first("stardist_wheel_sample", "masks/*.tif")
    labels = read_array(mask)
    assert labels.ndim == 2 and labels.dtype == np.uint16 and labels.max() > 100
