"""Validation and repair of shapes before they are stored.

Rules (per geometry):

* polygon: fewer than 3 distinct points -> :class:`AnnotationError`. A self-crossing polygon is split at its
  crossings into simple polygons and **the largest part is kept** (the other parts are reported in
  ``CleanReport.repaired``). A hand-drawn outline that accidentally loops over itself keeps its main body;
  one polygon stays one instance. Zero area -> :class:`AnnotationError`.
* rectangle: 4 axis-aligned corners; zero width or height -> :class:`AnnotationError`.
* brush: at least 1 point and a stroke width > 0.
* every geometry: the part outside the image is clipped away (polygons and rectangles exactly at the image
  border; brush strokes lose their leading and trailing parts that lie farther than half their width from the
  image, which leaves their raster inside the image unchanged); a shape wholly outside the image is dropped
  and reported (``clean_shape`` returns ``None``).

shapely (``make_valid``) is not available in the environment, so the repair is done here with numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.annotations.geometry import (
    clip_ring_to_box,
    drop_repeats,
    first_crossing,
    polygon_area,
    split_at_crossings,
    trim_polyline_to_box,
)
from core.annotations.shapes import ShapeData
from core.errors import AnnotationError


@dataclass
class CleanReport:
    """Outcome of :func:`clean_shapes`: the shapes to store and what happened to the others."""

    kept: list[ShapeData] = field(default_factory=list)
    dropped: list[tuple[int, str]] = field(default_factory=list)  # (index in input, reason)
    repaired: list[tuple[int, str]] = field(default_factory=list)  # (index in input, what was done)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (index in input, error message)

    @property
    def ok(self) -> bool:
        return not self.errors


def _check_hw(image_hw: Sequence[int]) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in image_hw)
    except (TypeError, ValueError) as exc:
        raise AnnotationError(f"image_hw must be (height, width), got {image_hw!r}") from exc
    if h <= 0 or w <= 0:
        raise AnnotationError(f"image_hw must be positive (height, width), got {image_hw!r}")
    return h, w


def clean_shape(
    shape: ShapeData, image_hw: Sequence[int], *, notes: list[str] | None = None
) -> ShapeData | None:
    """Validate, repair and clip one shape to an image of ``image_hw = (H, W)`` pixels.

    Returns the cleaned shape, or ``None`` when it lies wholly outside the image (nothing to store). Raises
    :class:`AnnotationError` for shapes that cannot be used (see the module rules). Repairs are described in
    ``notes`` when a list is given.
    """
    h, w = _check_hw(image_hw)
    if shape.geometry == "polygon":
        return _clean_polygon(shape, h, w, notes)
    if shape.geometry == "rectangle":
        return _clean_rectangle(shape, h, w)
    return _clean_brush(shape, h, w)


def clean_shapes(shapes: Sequence[ShapeData], image_hw: Sequence[int]) -> CleanReport:
    """:func:`clean_shape` over many shapes; a bad shape is reported, never loses the others."""
    _check_hw(image_hw)
    report = CleanReport()
    for index, shape in enumerate(shapes):
        notes: list[str] = []
        try:
            cleaned = clean_shape(shape, image_hw, notes=notes)
        except AnnotationError as exc:
            report.errors.append((index, str(exc)))
            continue
        if cleaned is None:
            where = f"the {image_hw[1]}x{image_hw[0]} image"
            report.dropped.append((index, f"{shape.geometry} lies wholly outside {where}"))
            continue
        for note in notes:
            report.repaired.append((index, note))
        report.kept.append(cleaned)
    return report


def _clean_polygon(shape: ShapeData, h: int, w: int, notes: list[str] | None) -> ShapeData | None:
    ring = drop_repeats(shape.points)
    if len(ring) < 3:
        raise AnnotationError(
            f"a polygon needs at least 3 distinct points, got {len(ring)}; click at least 3 corners, "
            "then close it on its first point"
        )
    if first_crossing(ring) is not None:
        parts = split_at_crossings(ring)
        if not parts:
            raise AnnotationError("the polygon crosses itself and encloses no area; redraw it")
        areas = [abs(polygon_area(p)) for p in parts]
        best = int(np.argmax(areas))
        if notes is not None:
            total = sum(areas)
            notes.append(
                f"polygon crossed itself: split into {len(parts)} parts, kept the largest "
                f"({areas[best]:.1f} of {total:.1f} px^2)"
            )
        ring = parts[best]
    if abs(polygon_area(ring)) == 0:
        raise AnnotationError("the polygon has zero area (all its points lie on one line); redraw it")
    clipped = _clip_if_needed(ring, h, w)
    if len(clipped) < 3 or abs(polygon_area(clipped)) == 0:
        return None
    return shape.with_points(clipped, stroke_width=0.0)


def _clip_if_needed(ring: np.ndarray, h: int, w: int) -> np.ndarray:
    lo, hi = ring.min(axis=0), ring.max(axis=0)
    if lo[0] >= 0 and lo[1] >= 0 and hi[0] <= w and hi[1] <= h:
        return ring
    return clip_ring_to_box(ring, 0.0, 0.0, float(w), float(h))


def _clean_rectangle(shape: ShapeData, h: int, w: int) -> ShapeData | None:
    pts = shape.points
    if len(pts) not in (2, 4):
        raise AnnotationError(f"a rectangle is stored as its 4 corners, got {len(pts)} points")
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    if len(pts) == 4:
        xs, ys = np.sort(pts[:, 0]), np.sort(pts[:, 1])
        if not (xs[0] == xs[1] and xs[2] == xs[3] and ys[0] == ys[1] and ys[2] == ys[3]):
            raise AnnotationError(
                f"rectangle corners {pts.tolist()} are not axis aligned; store a rotated box as a polygon"
            )
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        raise AnnotationError(
            f"the rectangle has zero area ({x1 - x0:g} x {y1 - y0:g} px); drag the mouse to open a box"
        )
    cx0, cy0 = max(x0, 0.0), max(y0, 0.0)
    cx1, cy1 = min(x1, float(w)), min(y1, float(h))
    if cx1 <= cx0 or cy1 <= cy0:
        return None
    corners = np.array([[cx0, cy0], [cx1, cy0], [cx1, cy1], [cx0, cy1]], dtype=np.float64)
    return shape.with_points(corners, stroke_width=0.0)


def _clean_brush(shape: ShapeData, h: int, w: int) -> ShapeData | None:
    pts = drop_repeats(shape.points, closed=False)
    if len(pts) == 0:
        raise AnnotationError("a brush stroke needs at least 1 point; draw with the mouse button held down")
    if shape.stroke_width <= 0:
        raise AnnotationError(
            f"a brush stroke needs a width > 0 pixels, got {shape.stroke_width:g}; set the brush width"
        )
    r = shape.stroke_width / 2
    trimmed = trim_polyline_to_box(pts, (-r, -r, w + r, h + r))
    if trimmed is None:
        return None
    return shape.with_points(trimmed)
