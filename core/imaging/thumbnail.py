"""Thumbnails: a PNG whose longest side is 256 px, made from the smallest pyramid level in bands."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.imaging.display import auto_contrast, compose_rgb
from core.imaging.reader import ImageReader

THUMB_SIDE = 256
_BAND_ROWS = 1024
_BAND_BYTES = 32 << 20


def thumbnail_array(
    reader: ImageReader, *, is_rgb: bool, side: int = THUMB_SIDE, level: int | None = None
) -> np.ndarray:
    """An (h, w, 3) uint8 picture of the image whose longest side is ``side`` (aspect ratio kept), read from
    pyramid ``level`` (None: the smallest)."""
    level = reader.levels - 1 if level is None else level
    height, width = reader.level_shapes[level]
    step = max(1, -(-max(height, width) // (2 * side)))  # ceil: the band picture is at most 2 x side
    row_bytes = max(1, width * reader.shape[0] * reader.dtype.itemsize)
    rows = max(step, min(_BAND_ROWS, _BAND_BYTES // row_bytes) // step * step)
    bands = [
        reader.read_region(level, y0, 0, rows, width)[:, ::step, ::step] for y0 in range(0, height, rows)
    ]
    small = np.concatenate(bands, axis=1)
    rgb = compose_rgb(small, contrast=auto_contrast(small), is_rgb=is_rgb)
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST
    return np.asarray(Image.fromarray(rgb).resize(size, resample))
