"""Brush strokes of the assist mode: where the user said "this is label k" or "this is background".

A :class:`Stroke` is a polyline in full-resolution image pixels with a brush width and a *class index*:
0 is background, ``k >= 1`` is the k-th label of the forest (``label_ids[k - 1]``). Strokes are rasterised
with the pixel convention of :mod:`core.annotations.raster`: a stroke covers the pixels whose centre
``(c + 0.5, r + 0.5)`` lies within half its width of the polyline; strokes under one pixel wide are drawn one
pixel wide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.annotations.raster import brush_pixels
from core.errors import InvalidInputError

Region = tuple[int, int, int, int]
#: Class indices fit in the stroke map's int16 (value = 1 + class index).
MAX_CLASSES = 255


@dataclass
class Stroke:
    """One brush stroke: ``points`` (N, 2) float ``[x, y]`` in image pixels, brush ``width`` in image pixels,
    ``class_index`` 0 = background, k = the forest's ``label_ids[k - 1]``."""

    points: np.ndarray
    width: float
    class_index: int

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim == 1 and pts.shape == (2,):
            pts = pts[None, :]
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 1:
            raise InvalidInputError(
                f"stroke points must be an (N, 2) array of [x, y] with N >= 1, got shape {pts.shape}"
            )
        if not np.isfinite(pts).all():
            raise InvalidInputError("stroke points must be finite numbers; the stroke holds NaN or infinity")
        self.points = pts
        width = float(self.width)
        if not math.isfinite(width) or width <= 0:
            raise InvalidInputError(f"stroke width must be a positive number of pixels, got {self.width!r}")
        self.width = width
        if isinstance(self.class_index, bool) or not isinstance(self.class_index, (int, np.integer)):
            raise InvalidInputError(
                "stroke class_index must be an integer (0 = background, k = k-th label), "
                f"got {self.class_index!r}"
            )
        if not 0 <= int(self.class_index) < MAX_CLASSES:
            raise InvalidInputError(
                f"stroke class_index must be in 0..{MAX_CLASSES - 1} (0 = background), got {self.class_index}"
            )
        self.class_index = int(self.class_index)

    def bbox(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` the stroke can cover."""
        pad = max(self.width, 1.0) / 2
        lo = self.points.min(axis=0) - pad
        hi = self.points.max(axis=0) + pad
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def check_region(region: object) -> Region:
    """``region`` as integers ``(y, x, h, w)`` with h, w > 0, or a clear error."""
    try:
        y, x, h, w = (int(v) for v in region)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"region must be (y, x, h, w) in image pixels, got {region!r}") from exc
    if h <= 0 or w <= 0:
        raise InvalidInputError(f"region height and width must be positive, got {region!r}")
    return y, x, h, w


def strokes_bbox(strokes: Sequence[Stroke]) -> tuple[float, float, float, float] | None:
    """Union of the strokes' boxes ``(x_min, y_min, x_max, y_max)``, or None without strokes."""
    if not strokes:
        return None
    boxes = np.array([s.bbox() for s in strokes])
    lo, hi = boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def stroke_map(strokes: Sequence[Stroke], region: Region) -> np.ndarray:
    """int16 (h, w) map of ``region = (y, x, h, w)``: 0 where no stroke, ``1 + class_index`` where stroked.

    Where strokes overlap, the later one wins.
    """
    y, x, h, w = check_region(region)
    out = np.zeros((h, w), dtype=np.int16)
    for stroke in strokes:
        if not isinstance(stroke, Stroke):
            raise InvalidInputError(f"strokes must be Stroke objects, got {type(stroke).__name__}")
        x0, y0, x1, y1 = stroke.bbox()
        if x1 < x or x0 > x + w or y1 < y or y0 > y + h:
            continue
        local = stroke.points - np.array([x, y], dtype=np.float64)
        rr, cc = brush_pixels(local, stroke.width, h, w)
        out[rr, cc] = 1 + stroke.class_index
    return out


def stroke_samples(features: np.ndarray, smap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training samples of the stroked pixels: ``X`` float32 (n, F) and ``y`` int64 (n,) class indices.

    ``features`` is (H, W, F) from :func:`core.assist.features.pixel_features`, ``smap`` the (H, W) map of
    :func:`stroke_map` over the same region. Pixels come in row-major order.
    """
    feats = np.asarray(features)
    sm = np.asarray(smap)
    if feats.ndim != 3:
        raise InvalidInputError(f"features must be (H, W, F), got shape {feats.shape}")
    if sm.shape != feats.shape[:2]:
        raise InvalidInputError(
            f"stroke map {sm.shape} and features {feats.shape[:2]} cover different regions; "
            "compute both for the same (y, x, h, w)"
        )
    if not np.issubdtype(sm.dtype, np.integer):
        raise InvalidInputError(f"the stroke map must hold integers (from stroke_map), got dtype {sm.dtype}")
    rows, cols = np.nonzero(sm)
    X = np.ascontiguousarray(feats[rows, cols], dtype=np.float32)
    y = sm[rows, cols].astype(np.int64) - 1
    return X, y
