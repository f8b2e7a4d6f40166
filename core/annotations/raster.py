"""Shapes -> raster masks: semantic masks, instance label images, ROI masks and the annotated area.

Pixel convention: pixel ``(r, c)`` covers ``[c, c + 1] x [r, r + 1]`` in image coordinates and belongs to a
polygon or rectangle when its centre ``(c + 0.5, r + 0.5)`` lies inside (even-odd rule; a centre exactly on a
left or top edge is inside, on a right or bottom edge outside, so polygons that follow pixel edges rasterise
to exactly their pixels). A brush stroke covers the pixels whose centre lies within half its width of the
polyline (round caps and joins); strokes narrower than one output pixel are drawn one pixel wide.

``region = (y, x, h, w)`` and ``downsample = d`` rasterise only a window of the grid whose pixel ``(r, c)``
covers ``[d*c, d*(c+1)] x [d*r, d*(r+1)]`` image pixels (a pyramid level or a training patch); without a
region the whole image is rasterised at ``ceil(H / d) x ceil(W / d)``.

Polygon filling is a vectorised scanline: every edge yields its crossings with the pixel-centre rows, the
crossings of one shape and row are sorted and paired, and each pair fills one span of a row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.annotations.shapes import ShapeData
from core.errors import AnnotationError

Region = tuple[int, int, int, int]


def _grid(hw: Sequence[int], region: Region | None, downsample: float) -> tuple[int, int, int, int, float]:
    """Validate and return ``(y, x, h, w, d)`` of the output window."""
    try:
        height, width = (int(v) for v in hw)
    except (TypeError, ValueError) as exc:
        raise AnnotationError(f"hw must be the image (height, width), got {hw!r}") from exc
    d = float(downsample)
    if height <= 0 or width <= 0:
        raise AnnotationError(f"hw must be positive (height, width), got {hw!r}")
    if not d > 0:
        raise AnnotationError(f"downsample must be > 0 (1 = full resolution), got {downsample!r}")
    if region is None:
        return 0, 0, math.ceil(height / d), math.ceil(width / d), d
    try:
        y, x, h, w = (int(v) for v in region)
    except (TypeError, ValueError) as exc:
        raise AnnotationError(f"region must be (y, x, h, w) in output pixels, got {region!r}") from exc
    if h <= 0 or w <= 0:
        raise AnnotationError(f"region height and width must be positive, got {region!r}")
    return y, x, h, w, d


def _in_window(shape: ShapeData, y: int, x: int, h: int, w: int, d: float) -> bool:
    bx0, by0, bx1, by1 = shape.bbox()
    pad = d / 2 if shape.geometry == "brush" else 0.0  # brushes are drawn at least one output pixel wide
    return bx1 + pad >= x * d and bx0 - pad <= (x + w) * d and by1 + pad >= y * d and by0 - pad <= (y + h) * d


def _local(points: np.ndarray, y: int, x: int, d: float) -> np.ndarray:
    out = points / d
    out[:, 0] -= x
    out[:, 1] -= y
    return out


def polygon_spans(
    rings: Sequence[np.ndarray], h: int, w: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row spans covered by closed rings given in output-pixel coordinates, clipped to an (h, w) grid.

    Returns ``(owner, row, c0, c1)`` arrays: ring ``owner`` covers columns ``c0 <= c < c1`` of ``row``. Spans
    are sorted by owner, then row.
    """
    empty = np.zeros(0, dtype=np.int64)
    if not rings:
        return empty, empty, empty, empty
    lengths = np.array([len(r) for r in rings])
    p = np.concatenate(rings).astype(np.float64, copy=False)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    nxt = np.arange(len(p)) + 1
    nxt[starts + lengths - 1] = starts  # close each ring
    q = p[nxt]
    owner = np.repeat(np.arange(len(rings)), lengths)
    y_lo, y_hi = np.minimum(p[:, 1], q[:, 1]), np.maximum(p[:, 1], q[:, 1])
    # a row's centre yc = r + 0.5 meets an edge when y_lo <= yc < y_hi
    r0 = np.clip(np.ceil(y_lo - 0.5), 0, h).astype(np.int64)
    r1 = np.clip(np.ceil(y_hi - 0.5), 0, h).astype(np.int64)
    count = r1 - r0
    keep = count > 0
    if not keep.any():
        return empty, empty, empty, empty
    p, q, owner, r0, count = p[keep], q[keep], owner[keep], r0[keep], count[keep]
    edge = np.repeat(np.arange(len(p)), count)
    offsets = np.arange(len(edge)) - np.repeat(np.cumsum(count) - count, count)
    rows = r0[edge] + offsets
    yc = rows + 0.5
    px, py, qx, qy = p[edge, 0], p[edge, 1], q[edge, 0], q[edge, 1]
    xs = px + (yc - py) * (qx - px) / (qy - py)
    own = owner[edge]
    order = np.lexsort((xs, rows, own))
    xs, rows, own = xs[order], rows[order], own[order]
    xa, xb = xs[0::2], xs[1::2]
    rows, own = rows[0::2], own[0::2]
    c0 = np.clip(np.ceil(xa - 0.5), 0, w).astype(np.int64)
    c1 = np.clip(np.ceil(xb - 0.5), 0, w).astype(np.int64)
    ok = c1 > c0
    return own[ok], rows[ok], c0[ok], c1[ok]


def _paint_spans(out: np.ndarray, rows: np.ndarray, c0: np.ndarray, c1: np.ndarray, value: object) -> None:
    for r, a, b in zip(rows.tolist(), c0.tolist(), c1.tolist()):
        out[r, a:b] = value


def brush_pixels(points: np.ndarray, width: float, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the pixels of an (h, w) grid whose centre lies within ``width / 2`` of the polyline
    ``points`` ((N, 2) ``[x, y]`` in that grid's pixels); strokes narrower than one pixel are one pixel wide.
    A pixel can appear more than once (where segments overlap)."""
    radius = max(width, 1.0) / 2
    r2 = radius * radius
    segs = [(points[0], points[0])] if len(points) == 1 else list(zip(points[:-1], points[1:]))
    rows_out: list[np.ndarray] = []
    cols_out: list[np.ndarray] = []
    for a, b in segs:
        lo = np.minimum(a, b) - radius
        hi = np.maximum(a, b) + radius
        c_lo, c_hi = max(math.ceil(lo[0] - 0.5), 0), min(math.floor(hi[0] - 0.5), w - 1)
        r_lo, r_hi = max(math.ceil(lo[1] - 0.5), 0), min(math.floor(hi[1] - 0.5), h - 1)
        if c_lo > c_hi or r_lo > r_hi:
            continue
        cx = np.arange(c_lo, c_hi + 1, dtype=np.float64) + 0.5
        cy = np.arange(r_lo, r_hi + 1, dtype=np.float64) + 0.5
        dx, dy = b[0] - a[0], b[1] - a[1]
        seg_len2 = dx * dx + dy * dy
        px = cx[None, :] - a[0]
        py = cy[:, None] - a[1]
        if seg_len2 > 0:
            t = np.clip((px * dx + py * dy) / seg_len2, 0.0, 1.0)
            ex, ey = px - t * dx, py - t * dy
        else:
            ex, ey = np.broadcast_to(px, (len(cy), len(cx))), np.broadcast_to(py, (len(cy), len(cx)))
        rr, cc = np.nonzero(ex * ex + ey * ey <= r2)
        rows_out.append(rr + r_lo)
        cols_out.append(cc + c_lo)
    if not rows_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows_out), np.concatenate(cols_out)


def _paint_union(shapes: Sequence[ShapeData], out: np.ndarray, y: int, x: int, d: float) -> None:
    """Set ``out`` (bool (h, w)) where any of the shapes covers a pixel."""
    h, w = out.shape
    rings = [_local(s.points, y, x, d) for s in shapes if s.geometry != "brush"]
    _, rows, c0, c1 = polygon_spans(rings, h, w)
    _paint_spans(out, rows, c0, c1, True)
    for s in shapes:
        if s.geometry == "brush":
            rr, cc = brush_pixels(_local(s.points, y, x, d), s.stroke_width / d, h, w)
            out[rr, cc] = True


def _select(shapes: Sequence[ShapeData], *, roi: bool, label_id: int | None = None) -> list[ShapeData]:
    return [s for s in shapes if s.is_roi == roi and (label_id is None or s.label_id == label_id)]


def semantic_masks(
    shapes: Sequence[ShapeData],
    label_ids: Sequence[int],
    hw: Sequence[int],
    *,
    region: Region | None = None,
    downsample: float = 1.0,
) -> np.ndarray:
    """Per label, the union of its annotation shapes: bool (L, H, W) in the order of ``label_ids``.

    Labels may overlap. ROI shapes are ignored. ``hw`` is the full-resolution image (H, W).
    """
    y, x, h, w, d = _grid(hw, region, downsample)
    out = np.zeros((len(label_ids), h, w), dtype=bool)
    for k, label_id in enumerate(label_ids):
        chosen = [s for s in _select(shapes, roi=False, label_id=label_id) if _in_window(s, y, x, h, w, d)]
        _paint_union(chosen, out[k], y, x, d)
    return out


def instance_labels(
    shapes: Sequence[ShapeData],
    label_id: int,
    hw: Sequence[int],
    *,
    region: Region | None = None,
    downsample: float = 1.0,
) -> np.ndarray:
    """Instance label image of one label: int32 (H, W), 0 = background, shape k of the label -> id k + 1.

    One polygon, rectangle or brush stroke is one instance; ids follow the order of the shapes of that label
    (so they are the same for every region). Instances never overlap: where shapes overlap, the later wins.
    """
    y, x, h, w, d = _grid(hw, region, downsample)
    out = np.zeros((h, w), dtype=np.int32)
    mine = _select(shapes, roi=False, label_id=label_id)
    chosen = [(k + 1, s) for k, s in enumerate(mine) if _in_window(s, y, x, h, w, d)]
    polys = [(ident, s) for ident, s in chosen if s.geometry != "brush"]
    owner, rows, c0, c1 = polygon_spans([_local(s.points, y, x, d) for _, s in polys], h, w)
    bounds = np.searchsorted(owner, np.arange(len(polys) + 1))
    poly_index = {ident: k for k, (ident, _) in enumerate(polys)}
    for ident, s in chosen:  # shape order: later shapes overwrite earlier ones
        if s.geometry == "brush":
            rr, cc = brush_pixels(_local(s.points, y, x, d), s.stroke_width / d, h, w)
            out[rr, cc] = ident
        else:
            k = poly_index[ident]
            lo, hi = bounds[k], bounds[k + 1]
            _paint_spans(out, rows[lo:hi], c0[lo:hi], c1[lo:hi], ident)
    return out


def roi_mask(
    shapes: Sequence[ShapeData], hw: Sequence[int], *, region: Region | None = None, downsample: float = 1.0
) -> np.ndarray:
    """Union of the ROI shapes: bool (H, W)."""
    y, x, h, w, d = _grid(hw, region, downsample)
    out = np.zeros((h, w), dtype=bool)
    _paint_union([s for s in _select(shapes, roi=True) if _in_window(s, y, x, h, w, d)], out, y, x, d)
    return out


def annotated_area(
    shapes: Sequence[ShapeData],
    hw: Sequence[int],
    *,
    roi_only: bool,
    region: Region | None = None,
    downsample: float = 1.0,
) -> np.ndarray:
    """Pixels that carry ground truth: bool (H, W).

    An image without ROIs is annotated everywhere (unannotated pixels are background; this includes
    background-only images). An image with ROIs (anywhere, not only in ``region``) is annotated inside the
    union of its ROIs and, unless ``roi_only``, also on the pixels of annotation shapes outside the ROIs.
    """
    y, x, h, w, d = _grid(hw, region, downsample)
    if not any(s.is_roi for s in shapes):
        return np.ones((h, w), dtype=bool)
    out = np.zeros((h, w), dtype=bool)
    wanted = shapes if not roi_only else _select(shapes, roi=True)
    _paint_union([s for s in wanted if _in_window(s, y, x, h, w, d)], out, y, x, d)
    return out
