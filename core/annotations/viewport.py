"""Which part of an image a canvas shows, and the exact mapping between canvas and image coordinates.

Canvas pixel ``(i, j)`` covers canvas coordinates ``[j, j + 1] x [i, i + 1]`` just as image pixels do, and

    canvas = (image - (x0, y0)) * scale          image = canvas / scale + (x0, y0)

so a canvas point maps to an image point with float precision at every zoom and offset. ``scale`` is canvas
pixels per image pixel (< 1 zoomed out, > 1 zoomed in). The pyramid ``level`` to read is the coarsest one
whose resolution is still at least the display resolution (its downsample factor <= 1 / scale).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.errors import InvalidInputError

MAX_SCALE = 32.0  # canvas pixels per image pixel at the strongest zoom


def level_downsamples(
    image_hw: Sequence[int], level_shapes: Sequence[Sequence[int]] | None
) -> tuple[float, ...]:
    """Downsample factor of each pyramid level of ``level_shapes`` [(H, W), ...] (level 0 first).

    A level of size ``ceil(H / 2**k) x ceil(W / 2**k)`` (the halving pyramids of :mod:`core.imaging`) has the
    exact factor ``2**k``; other levels get ``max(H / h, W / w)``.
    """
    if not level_shapes:
        return (1.0,)
    h, w = (int(v) for v in image_hw)
    out = []
    for lh, lw in level_shapes:
        lh, lw = max(int(lh), 1), max(int(lw), 1)
        k = round(math.log2(max(h / lh, w / lw)))
        exact = k >= 0 and math.ceil(h / 2**k) == lh and math.ceil(w / 2**k) == lw
        out.append(float(2**k) if exact else max(h / lh, w / lw))
    return tuple(out)


@dataclass(frozen=True)
class Viewport:
    """The view: ``image_hw`` (H, W) of the full-resolution image, canvas size, top-left point and scale.

    ``downsamples`` holds the downsample factor of each pyramid level (level 0 = 1.0).
    """

    image_hw: tuple[int, int]
    canvas_w: int
    canvas_h: int
    x0: float = 0.0
    y0: float = 0.0
    scale: float = 1.0
    downsamples: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        h, w = (int(v) for v in self.image_hw)
        if h <= 0 or w <= 0:
            raise InvalidInputError(f"image_hw must be a positive (height, width), got {self.image_hw!r}")
        if int(self.canvas_w) <= 0 or int(self.canvas_h) <= 0:
            raise InvalidInputError(f"canvas size must be positive, got {self.canvas_w}x{self.canvas_h}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise InvalidInputError(
                f"scale must be a positive number of canvas pixels per image pixel, got {self.scale!r}"
            )
        object.__setattr__(self, "image_hw", (h, w))
        object.__setattr__(self, "canvas_w", int(self.canvas_w))
        object.__setattr__(self, "canvas_h", int(self.canvas_h))
        object.__setattr__(self, "downsamples", tuple(float(d) for d in self.downsamples) or (1.0,))

    # construction ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        image_hw: Sequence[int],
        canvas_w: int,
        canvas_h: int,
        *,
        level_shapes: Sequence[Sequence[int]] | None = None,
    ) -> Viewport:
        """The whole image, as large as fits in the canvas (small images are enlarged, up to
        :data:`MAX_SCALE`); the canvas keeps its size, the part right of or below the image stays empty."""
        h, w = (int(v) for v in image_hw)
        if h <= 0 or w <= 0:
            raise InvalidInputError(f"image_hw must be a positive (height, width), got {tuple(image_hw)!r}")
        scale = min(canvas_w / w, canvas_h / h, MAX_SCALE)
        return cls((h, w), canvas_w, canvas_h, 0.0, 0.0, scale, level_downsamples((h, w), level_shapes))

    @property
    def fit_scale(self) -> float:
        h, w = self.image_hw
        return min(self.canvas_w / w, self.canvas_h / h, MAX_SCALE)

    @property
    def view_w(self) -> float:
        """Width of the view in image pixels."""
        return self.canvas_w / self.scale

    @property
    def view_h(self) -> float:
        return self.canvas_h / self.scale

    @property
    def center(self) -> tuple[float, float]:
        """Image point ``(x, y)`` at the centre of the canvas."""
        return self.x0 + self.view_w / 2, self.y0 + self.view_h / 2

    @property
    def level(self) -> int:
        """Coarsest pyramid level whose downsample factor is <= 1 / scale (level 0 when zoomed in)."""
        limit = 1.0 / self.scale * (1 + 1e-9)
        best, best_d = 0, 0.0
        for k, d in enumerate(self.downsamples):
            if d <= limit and d > best_d:
                best, best_d = k, d
        return best

    def _clamped(self, x0: float, y0: float, scale: float) -> Viewport:
        h, w = self.image_hw
        scale = min(max(scale, self.fit_scale), MAX_SCALE)
        vw, vh = self.canvas_w / scale, self.canvas_h / scale
        x0 = 0.0 if vw >= w else min(max(x0, 0.0), w - vw)
        y0 = 0.0 if vh >= h else min(max(y0, 0.0), h - vh)
        return replace(self, x0=float(x0), y0=float(y0), scale=float(scale))

    def zoomed(self, factor: float, center_xy: Sequence[float] | None = None) -> Viewport:
        """Zoom by ``factor`` (> 1 zooms in) and centre the view on the image point ``center_xy``
        (default: the current centre); scale and position are clamped to the image."""
        if not (math.isfinite(factor) and factor > 0):
            raise InvalidInputError(f"zoom factor must be a positive number, got {factor!r}")
        cx, cy = self.center if center_xy is None else (float(center_xy[0]), float(center_xy[1]))
        scale = self.scale * factor
        scale = min(max(scale, self.fit_scale), MAX_SCALE)
        return self._clamped(cx - self.canvas_w / scale / 2, cy - self.canvas_h / scale / 2, scale)

    def panned(self, dx: float, dy: float) -> Viewport:
        """Move the view by ``(dx, dy)`` image pixels, clamped so that it stays on the image."""
        return self._clamped(self.x0 + dx, self.y0 + dy, self.scale)

    def centered_on(self, x: float, y: float) -> Viewport:
        """The same zoom, centred on image point ``(x, y)`` (e.g. a click on the overview), clamped."""
        return self._clamped(x - self.view_w / 2, y - self.view_h / 2, self.scale)

    # mapping --------------------------------------------------------------------------------
    def image_to_canvas(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) ``[x, y]`` image points -> canvas points."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return (pts - (self.x0, self.y0)) * self.scale

    def canvas_to_image(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) ``[x, y]`` canvas points -> image points."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return pts / self.scale + (self.x0, self.y0)

    def view_box(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` of the view in image pixels, clipped to the image."""
        h, w = self.image_hw
        return self.x0, self.y0, min(self.x0 + self.view_w, float(w)), min(self.y0 + self.view_h, float(h))

    def region(self, level_downsample: float | Sequence[float] = 1.0) -> tuple[int, int, int, int]:
        """``(y, x, h, w)`` in the pixels of a level with that downsample factor (or ``(dy, dx)``), covering
        the view and clipped to the level (whose size is ``ceil(H / d) x ceil(W / d)``)."""
        if np.isscalar(level_downsample):
            dy = dx = float(level_downsample)
        else:
            dy, dx = (float(v) for v in level_downsample)
        h, w = self.image_hw
        bx0, by0, bx1, by1 = self.view_box()
        lh, lw = math.ceil(h / dy), math.ceil(w / dx)
        x = min(max(math.floor(bx0 / dx), 0), lw - 1)
        y = min(max(math.floor(by0 / dy), 0), lh - 1)
        x_end = min(max(math.ceil(bx1 / dx), x + 1), lw)
        y_end = min(max(math.ceil(by1 / dy), y + 1), lh)
        return y, x, y_end - y, x_end - x


def overview_box(viewport: Viewport, overview_hw: Sequence[int]) -> tuple[int, int, int, int]:
    """The current view as ``(x, y, w, h)`` in the pixels of an overview thumbnail of size ``overview_hw``
    (at least 1 pixel wide and high), for drawing a rectangle on the thumbnail."""
    oh, ow = (int(v) for v in overview_hw)
    h, w = viewport.image_hw
    sx, sy = ow / w, oh / h
    bx0, by0, bx1, by1 = viewport.view_box()
    x, y = math.floor(bx0 * sx), math.floor(by0 * sy)
    x_end, y_end = max(math.ceil(bx1 * sx), x + 1), max(math.ceil(by1 * sy), y + 1)
    return x, y, min(x_end, ow) - x, min(y_end, oh) - y


def overview_to_image(
    viewport: Viewport, overview_hw: Sequence[int], xy: Sequence[float]
) -> tuple[float, float]:
    """A point clicked on the overview thumbnail -> the image point under it."""
    oh, ow = (int(v) for v in overview_hw)
    h, w = viewport.image_hw
    return float(xy[0]) * w / ow, float(xy[1]) * h / oh
