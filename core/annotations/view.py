"""The canvas background: the part of a stored image a :class:`Viewport` shows, as a picture of canvas size.

Canvas pixel ``(i, j)`` shows the image pixel under its centre, image point
``(x0 + (j + 0.5) / scale, y0 + (i + 0.5) / scale)``, read from the pyramid level ``viewport.level``.
Zoomed in, pixels are repeated (nearest neighbour, so pixel edges stay sharp and line up exactly with the
shapes); zoomed out, the level region is resampled with PIL's antialiasing bilinear filter. Canvas pixels
beyond the image's right or bottom edge get ``background``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np
from PIL import Image

from core.annotations.viewport import Viewport, level_downsamples
from core.errors import InvalidInputError
from core.imaging import compose_rgb


class RegionReader(Protocol):
    """What :func:`render_view` needs from an image reader (:class:`core.imaging.ImageReader` has it)."""

    shape: tuple[int, int, int]
    level_shapes: list[tuple[int, int]]

    def read_region(self, level: int, y: int, x: int, h: int, w: int) -> np.ndarray: ...


def _visible_size(viewport: Viewport) -> tuple[int, int]:
    """Canvas pixels (w, h) whose centres fall on the image."""
    h, w = viewport.image_hw
    cw = math.ceil((w - viewport.x0) * viewport.scale - 0.5)
    ch = math.ceil((h - viewport.y0) * viewport.scale - 0.5)
    return min(max(cw, 0), viewport.canvas_w), min(max(ch, 0), viewport.canvas_h)


def render_view(
    reader: RegionReader,
    viewport: Viewport,
    *,
    contrast: Sequence[tuple[float, float]],
    is_rgb: bool,
    colors: Sequence[str] | None = None,
    visible: Sequence[bool] | None = None,
    background: tuple[int, int, int] = (32, 32, 32),
) -> Image.Image:
    """RGB picture of ``viewport.canvas_w x viewport.canvas_h`` showing the view (see the module notes).

    ``contrast``, ``colors``, ``visible`` and ``is_rgb`` are passed to :func:`core.imaging.compose_rgb`.
    """
    image_hw = tuple(int(v) for v in reader.shape[1:])
    if image_hw != viewport.image_hw:
        raise InvalidInputError(
            f"the viewport is for a {viewport.image_hw[1]}x{viewport.image_hw[0]} image but the image is "
            f"{image_hw[1]}x{image_hw[0]}; build the viewport with Viewport.fit(reader.shape[1:], ...)"
        )
    downsamples = level_downsamples(image_hw, reader.level_shapes)
    if viewport.downsamples != downsamples:
        viewport = replace(viewport, downsamples=downsamples)
    level = viewport.level
    d = downsamples[level]
    canvas = Image.new("RGB", (viewport.canvas_w, viewport.canvas_h), background)
    vis_w, vis_h = _visible_size(viewport)
    if vis_w == 0 or vis_h == 0:
        return canvas
    y, x, h, w = viewport.region(d)
    pixels = reader.read_region(level, y, x, h, w)
    rgb = compose_rgb(pixels, contrast=contrast, colors=colors, visible=visible, is_rgb=is_rgb)
    rh, rw = rgb.shape[:2]
    if viewport.scale * d >= 1.0:  # zoomed in: each canvas pixel takes the level pixel under its centre
        cols = np.floor((viewport.x0 + (np.arange(vis_w) + 0.5) / viewport.scale) / d).astype(np.int64) - x
        rows = np.floor((viewport.y0 + (np.arange(vis_h) + 0.5) / viewport.scale) / d).astype(np.int64) - y
        view = rgb[np.clip(rows, 0, rh - 1)][:, np.clip(cols, 0, rw - 1)]
        part = Image.fromarray(np.ascontiguousarray(view))
    else:
        box = (
            min(max(viewport.x0 / d - x, 0.0), rw),
            min(max(viewport.y0 / d - y, 0.0), rh),
            min(max((viewport.x0 + vis_w / viewport.scale) / d - x, 0.0), rw),
            min(max((viewport.y0 + vis_h / viewport.scale) / d - y, 0.0), rh),
        )
        part = Image.fromarray(rgb).resize((vis_w, vis_h), Image.Resampling.BILINEAR, box=box)
    canvas.paste(part, (0, 0))
    return canvas


def region_on_canvas(values: np.ndarray, region: Sequence[int], viewport: Viewport, *, fill: object = 0) -> np.ndarray:
    """Resample a full-resolution array of ``region`` (y, x, h, w) to the canvas: ``(canvas_h, canvas_w)``.

    Each canvas pixel takes the value under its centre (nearest), like :func:`render_view`; canvas pixels
    outside the region get ``fill``. Used to lay a proposal or an uncertainty map over the view.
    """
    y, x, h, w = (int(v) for v in region)
    if values.shape[:2] != (h, w):
        raise InvalidInputError(f"values of shape {values.shape[:2]} do not match the region size {(h, w)}")
    cols = np.floor(viewport.x0 + (np.arange(viewport.canvas_w) + 0.5) / viewport.scale).astype(np.int64) - x
    rows = np.floor(viewport.y0 + (np.arange(viewport.canvas_h) + 0.5) / viewport.scale).astype(np.int64) - y
    out = np.full((viewport.canvas_h, viewport.canvas_w, *values.shape[2:]), fill, dtype=values.dtype)
    col_ok, row_ok = (cols >= 0) & (cols < w), (rows >= 0) & (rows < h)
    out[np.ix_(row_ok, col_ok)] = values[np.ix_(rows[row_ok], cols[col_ok])]
    return out
