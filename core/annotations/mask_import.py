"""Label masks -> polygons (one per instance), following pixel edges exactly.

* A mask holding only 0/1 or 0/255 is *binary* (auto-detected unless ``binary`` is given): its 8-connected
  foreground components are the instances. Otherwise every non-zero id is one instance.
* An instance whose pixels form several 8-connected pieces becomes one polygon per piece, in id order.
* **Holes are kept.** A piece with holes becomes a single polygon: its outer outline plus each hole outline,
  joined by zero-width "bridges" along a pixel row. Polygons are filled with the even-odd rule (see
  :mod:`core.annotations.raster`), so a bridge covers no pixel, the holes stay empty, and the outline never
  crosses itself (it only touches itself along the bridges), so :func:`core.annotations.clean.clean_shape`
  keeps it as it is.
* Outlines follow pixel edges (only collinear points are merged), so rasterising the polygons gives back
  exactly the pixels of each instance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from core.annotations.geometry import drop_repeats
from core.annotations.shapes import ShapeData
from core.errors import AnnotationError

_EIGHT = np.ones((3, 3), dtype=bool)


def check_mask_matches(mask_shape: Sequence[int], image_hw: Sequence[int], mask_name: str) -> None:
    """Raise :class:`AnnotationError` unless a mask of ``mask_shape`` fits an image of ``image_hw`` (H, W)."""
    shape = tuple(int(v) for v in mask_shape)
    hw = tuple(int(v) for v in image_hw)
    if len(shape) != 2:
        raise AnnotationError(
            f"mask {mask_name!r} has shape {shape}; a label mask must be a single 2D plane (height, width). "
            "Save one channel as a grayscale/label TIFF or PNG"
        )
    if shape != hw:
        raise AnnotationError(
            f"mask {mask_name!r} is {shape[1]}x{shape[0]} pixels but its image is {hw[1]}x{hw[0]}; "
            "masks must have exactly the size of their image (check that the mask belongs to this image)"
        )


def _as_labels(mask: np.ndarray, binary: bool | None) -> tuple[np.ndarray, bool]:
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise AnnotationError(f"a label mask must be 2D (height, width), got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.uint8), True if binary is None else binary
    if np.issubdtype(arr.dtype, np.floating):
        finite = np.isfinite(arr)
        if not finite.all() or not np.array_equal(arr, np.round(arr)):
            bad = arr[~finite] if not finite.all() else arr[arr != np.round(arr)]
            raise AnnotationError(
                f"label mask values must be whole numbers, found {bad.flat[0]!r} ({arr.dtype}); "
                "this looks like a probability or intensity image, not a label mask. Threshold it or save "
                "integer labels (e.g. uint16)"
            )
        arr = arr.astype(np.int64)
    elif not np.issubdtype(arr.dtype, np.integer):
        raise AnnotationError(
            f"label mask must hold integers, got dtype {arr.dtype}; save it as uint8/uint16 labels"
        )
    if arr.size and arr.min() < 0:
        raise AnnotationError(f"label mask ids must be >= 0 (0 = background), found {int(arr.min())}")
    if binary is None:
        values = np.unique(arr)
        binary = bool(set(values.tolist()) <= {0, 1} or set(values.tolist()) <= {0, 255})
    return arr, binary


def mask_to_shapes(mask: np.ndarray, *, label_id: int, binary: bool | None = None) -> list[ShapeData]:
    """Polygons of the instances of a 2D label mask (H, W): annotation shapes with ``source="import"``."""
    labels, is_binary = _as_labels(mask, binary)
    if is_binary:
        labels, _ = ndimage.label(labels != 0, structure=_EIGHT)
    shapes: list[ShapeData] = []
    for index, window in enumerate(ndimage.find_objects(labels)):
        if window is None:
            continue
        ident = index + 1
        rows, cols = window
        crop = np.pad(labels[window] == ident, 1)
        pieces, count = ndimage.label(crop, structure=_EIGHT)
        for piece in range(1, count + 1):
            ring = piece_outline(pieces == piece)
            ring[:, 0] += cols.start - 1
            ring[:, 1] += rows.start - 1
            shapes.append(
                ShapeData("annotation", "polygon", ring, label_id=label_id, source="import")
            )
    return shapes


def piece_outline(piece: np.ndarray) -> np.ndarray:
    """One ring (K, 2) of ``[x, y]`` pixel corners for an 8-connected piece (bool (H, W), zero border)."""
    rings = _trace_rings(piece)
    rings = [_merge_collinear(r) for r in rings]
    rings.sort(key=lambda r: (r[:, 0].min(), r[r[:, 0] == r[:, 0].min(), 1].min()))
    merged = rings[0]  # the ring with the leftmost-topmost corner is the outer outline
    for hole in rings[1:]:
        merged = _bridge(merged, hole)
    return drop_repeats(merged.astype(np.float64))


def _trace_rings(m: np.ndarray) -> list[np.ndarray]:
    """Closed pixel-edge rings of a bool image (zero border), foreground on the left when walking on screen.

    At a vertex where two foreground pixels touch only diagonally the walk turns right, which keeps the two
    pixels on one outline (8-connectivity of the foreground, 4-connectivity of holes).
    """
    h, w = m.shape
    stride = w + 1
    starts: list[int] = []
    ends: list[int] = []
    # horizontal edges on grid line y between rows y-1 and y, column c
    above, below = m[:-1, :], m[1:, :]
    y, c = np.nonzero(above & ~below)  # east: (c, y+1) -> (c+1, y+1)
    starts += ((y + 1) * stride + c).tolist()
    ends += ((y + 1) * stride + c + 1).tolist()
    y, c = np.nonzero(~above & below)  # west: (c+1, y+1) -> (c, y+1)
    starts += ((y + 1) * stride + c + 1).tolist()
    ends += ((y + 1) * stride + c).tolist()
    # vertical edges on grid line x between cols x-1 and x, row r
    left, right = m[:, :-1], m[:, 1:]
    r, x = np.nonzero(~left & right)  # south: (x+1, r) -> (x+1, r+1)
    starts += (r * stride + x + 1).tolist()
    ends += ((r + 1) * stride + x + 1).tolist()
    r, x = np.nonzero(left & ~right)  # north: (x+1, r+1) -> (x+1, r)
    starts += ((r + 1) * stride + x + 1).tolist()
    ends += (r * stride + x + 1).tolist()

    out_edges: dict[int, list[int]] = {}
    for k, s in enumerate(starts):
        out_edges.setdefault(s, []).append(k)
    used = [False] * len(starts)
    rings: list[np.ndarray] = []
    for first in range(len(starts)):
        if used[first]:
            continue
        verts: list[int] = []
        k = first
        while not used[k]:
            used[k] = True
            verts.append(starts[k])
            v = ends[k]
            options = [e for e in out_edges[v] if not used[e]]
            if not options:
                break
            if len(options) == 1:
                k = options[0]
                continue
            dx, dy = v % stride - starts[k] % stride, v // stride - starts[k] // stride
            right_turn = (-dy, dx)

            def step(e: int, v: int = v) -> tuple[int, int]:
                return ends[e] % stride - v % stride, ends[e] // stride - v // stride

            k = next((e for e in options if step(e) == right_turn), options[0])
        codes = np.asarray(verts, dtype=np.int64)
        rings.append(np.stack([codes % stride, codes // stride], axis=1))
    return rings


def _merge_collinear(ring: np.ndarray) -> np.ndarray:
    prev = np.roll(ring, 1, axis=0)
    nxt = np.roll(ring, -1, axis=0)
    d1, d2 = ring - prev, nxt - ring
    cross = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    dot = (d1 * d2).sum(axis=1)
    return ring[~((cross == 0) & (dot > 0))]


def _bridge(outer: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Join ``hole`` into ``outer`` by a zero-width bridge going left from its leftmost-topmost corner."""
    hx = hole[:, 0].min()
    start = int(np.flatnonzero(hole[:, 0] == hx)[np.argmin(hole[hole[:, 0] == hx, 1])])
    hy = hole[start, 1]
    p, q = outer, np.roll(outer, -1, axis=0)
    vertical = (p[:, 0] == q[:, 0]) & (p[:, 0] < hx)
    spans = (np.minimum(p[:, 1], q[:, 1]) <= hy) & (np.maximum(p[:, 1], q[:, 1]) >= hy)
    candidates = np.flatnonzero(vertical & spans)
    if len(candidates) == 0:  # cannot happen for a hole of this piece; keep the hole as its own loop
        k = int(np.argmin(np.abs(outer - hole[start]).sum(axis=1)))
        candidates = np.array([k])
        hit = outer[k]
    else:
        k = int(candidates[np.argmax(p[candidates, 0])])
        hit = np.array([p[k, 0], hy])
    hole_loop = np.vstack([np.roll(hole, -start, axis=0), hole[start][None, :]])
    return np.vstack([outer[: k + 1], hit[None, :], hole_loop, hit[None, :], outer[k + 1 :]])
