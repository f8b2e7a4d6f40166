from __future__ import annotations

import numpy as np
import pytest
import tifffile

from core.annotations import Viewport, render_view
from core.errors import InvalidInputError
from core.imaging import import_image, open_image


class ArrayReader:
    """A pyramid in memory with the reader interface: level k is the image sampled every 2**k pixels."""

    def __init__(self, image: np.ndarray, levels: int) -> None:
        self.levels_data = [image[:, :: 2**k, :: 2**k] for k in range(levels)]
        self.shape = image.shape
        self.level_shapes = [lv.shape[1:] for lv in self.levels_data]
        self.reads: list[tuple[int, int, int, int, int]] = []

    def read_region(self, level, y, x, h, w):
        self.reads.append((level, y, x, h, w))
        return self.levels_data[level][:, max(y, 0) : y + h, max(x, 0) : x + w]


def coded_image(h: int, w: int) -> np.ndarray:
    """uint8 RGB whose pixel (r, c) holds (c % 256, r % 256, (c // 256) * 16 + r // 256)."""
    rr, cc = np.mgrid[:h, :w]
    return np.stack([cc % 256, rr % 256, (cc // 256) * 16 + rr // 256]).astype(np.uint8)


def decode(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rgb = rgb.astype(np.int64)
    cols = rgb[..., 0] + 256 * (rgb[..., 2] // 16)
    rows = rgb[..., 1] + 256 * (rgb[..., 2] % 16)
    return rows, cols


@pytest.mark.parametrize(
    ("scale", "x0", "y0"), [(1.0, 100, 37), (2.5, 333.3, 12.7), (8.0, 1000.25, 900.5), (4.0, 0, 0)]
)
def test_zoomed_in_canvas_pixel_shows_the_image_pixel_under_its_centre(scale, x0, y0):
    reader = ArrayReader(coded_image(1200, 1500), levels=1)
    vp = Viewport((1200, 1500), 160, 120, x0=x0, y0=y0, scale=scale)
    pic = np.asarray(render_view(reader, vp, contrast=[(0, 255)] * 3, is_rgb=True))
    assert pic.shape == (120, 160, 3)
    rows, cols = decode(pic)
    j = np.arange(160)
    i = np.arange(120)
    assert np.array_equal(cols[0], np.floor(x0 + (j + 0.5) / scale).astype(int))
    assert np.array_equal(rows[:, 0], np.floor(y0 + (i + 0.5) / scale).astype(int))


def test_zoomed_out_view_reads_the_coarse_level_and_fills_beyond_the_image():
    image = coded_image(1000, 1000)
    reader = ArrayReader(image, levels=3)
    vp = Viewport.fit((1000, 1000), 300, 200, level_shapes=reader.level_shapes)  # scale 0.2 -> level 2
    assert vp.level == 2
    pic = np.asarray(render_view(reader, vp, contrast=[(0, 255)] * 3, is_rgb=True, background=(5, 5, 250)))
    assert reader.reads[-1][0] == 2
    assert (pic[:, 200:] == (5, 5, 250)).all() and not (pic[:, :200] == (5, 5, 250)).all(axis=-1).any()


def test_grayscale_16bit_uses_the_contrast_window():
    image = np.full((1, 50, 60), 1000, np.uint16)
    image[0, 10:20, 10:20] = 3000
    reader = ArrayReader(image, levels=1)
    vp = Viewport((50, 60), 60, 50)
    pic = np.asarray(render_view(reader, vp, contrast=[(1000, 3000)], is_rgb=False))
    assert pic[15, 15].tolist() == [255, 255, 255] and pic[0, 0].tolist() == [0, 0, 0]


def test_viewport_of_another_image_is_refused():
    reader = ArrayReader(coded_image(10, 10), levels=1)
    with pytest.raises(InvalidInputError, match="viewport is for a 20x10 image"):
        render_view(reader, Viewport((10, 20), 10, 10), contrast=[(0, 255)] * 3, is_rgb=True)


def test_with_a_stored_pyramidal_image(tmp_path):
    src = tmp_path / "big.tif"
    tifffile.imwrite(src, coded_image(300, 4200)[0])  # wider than 4096: stored as a pyramid
    stored = import_image(src, tmp_path / "store", "img")
    with open_image(stored.path) as reader:
        assert len(reader.level_shapes) > 1
        vp = Viewport.fit(reader.shape[1:], 420, 30, level_shapes=reader.level_shapes)
        assert vp.level >= 1
        pic = render_view(reader, vp, contrast=[(0, 255)], is_rgb=False)
        assert pic.size == (420, 30)
        zoom = Viewport(tuple(reader.shape[1:]), 64, 64, x0=4000, y0=100, scale=1.0)
        pix = np.asarray(render_view(reader, zoom, contrast=[(0, 255)], is_rgb=False))
        assert np.array_equal(pix[0, :, 0], (np.arange(4000, 4064) % 256).astype(np.uint8))
