"""Training targets made from instance label images.

- :func:`three_class_targets`: 0 background, 1 interior, 2 boundary (the course seed's 3-class masks).
  Every object's outer ring of ``boundary_width`` pixels is boundary, so two touching objects are separated
  by boundary pixels on both sides of their contact line and their interiors never touch.
- :func:`distance_targets`: per object, the Euclidean distance to the nearest pixel outside the object,
  divided by the object's largest distance (values in (0, 1], 0 on background).
- :func:`contact_zone`: the pixels within a few pixels of two different objects (where touching objects meet,
  and narrow gaps between neighbours): where a network must draw the line that keeps them apart.
- :func:`ray_distances`: per object pixel, the distance to the object's edge along each of 16 directions
  (the star-convex distances of StarDist, Schmidt et al. 2018, along lattice steps): each pixel knows how far
  its object reaches on every side, so where one object ends and its neighbour begins.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from core.evaluation import _checks
from core.evaluation._labels import compact_labels

BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2


def three_class_targets(instances: np.ndarray, *, boundary_width: int = 1) -> np.ndarray:
    """int (H, W) instance labels -> uint8 (H, W) classes: 0 background, 1 interior, 2 boundary.

    A pixel is boundary when a pixel of another label (another object or background) lies within
    ``boundary_width`` 4-neighbour steps of it. The image border is not an edge: objects cut by the
    border keep their interior there.
    """
    labels = _checks.as_labels(instances, "instances")
    width = _checks.size(boundary_width, "boundary_width", minimum=1)
    inner = labels.copy()
    for _ in range(width):
        inner[_edge_pixels(inner)] = 0
    out = np.zeros(labels.shape, dtype=np.uint8)
    out[labels > 0] = BOUNDARY
    out[inner > 0] = INTERIOR
    return out


def distance_targets(instances: np.ndarray) -> np.ndarray:
    """int (H, W) instance labels -> float32 (H, W) per-object normalised distance to the object's edge.

    Each object pixel holds its Euclidean distance to the nearest pixel of another label (background or
    another object), divided by the largest such distance in the object, so every object peaks at 1.
    Background is 0. The image border does not count as an edge.
    """
    _, labels = compact_labels(_checks.as_labels(instances, "instances"))
    out = np.zeros(labels.shape, dtype=np.float32)
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        padded = tuple(
            slice(max(s.start - 1, 0), min(s.stop + 1, n)) for s, n in zip(box, labels.shape, strict=True)
        )
        inside = labels[padded] == index
        if inside.all():  # the object fills the image: no edge to measure from
            out[padded][inside] = 1.0
            continue
        dist = ndi.distance_transform_edt(inside)
        out[padded][inside] = (dist[inside] / dist.max()).astype(np.float32)
    return out


def contact_zone(instances: np.ndarray, *, reach: int = 2) -> np.ndarray:
    """int (H, W) instance labels -> bool (H, W): pixels with two different objects within ``reach`` pixels
    (a square window of side ``2 * reach + 1``), object or background.

    Two touching objects mark a band ``2 * reach`` pixels wide along their contact line; objects further
    than ``2 * reach`` pixels apart mark nothing.
    """
    labels = _checks.as_labels(instances, "instances")
    size = 2 * _checks.size(reach, "reach", minimum=1) + 1
    none = int(labels.max(initial=0)) + 1  # stands for background in the minimum: above every label
    lowest = ndi.minimum_filter(np.where(labels > 0, labels, none), size=size, mode="nearest")
    highest = ndi.maximum_filter(labels, size=size, mode="nearest")
    return (lowest != none) & (highest != lowest)


def _edge_pixels(labels: np.ndarray) -> np.ndarray:
    """bool (H, W): object pixels with a 4-neighbour of a different label (image border excluded)."""
    edge = np.zeros(labels.shape, dtype=bool)
    vertical = labels[1:, :] != labels[:-1, :]
    horizontal = labels[:, 1:] != labels[:, :-1]
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    return edge & (labels > 0)


#: The directions of :func:`ray_distances` as (row, column) steps, counter-clockwise from +column. Every step
#: lands on a pixel centre (axes, diagonals and the knight's moves between them), so the distances are exact
#: counts of steps and need no interpolation.
RAY_STEPS = ((0, 1), (1, 2), (1, 1), (2, 1), (1, 0), (2, -1), (1, -1), (1, -2),
             (0, -1), (-1, -2), (-1, -1), (-2, -1), (-1, 0), (-2, 1), (-1, 1), (-1, 2))


def ray_distances(
    instances: np.ndarray, known: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """int (H, W) instance labels -> (float32 (K, H, W) distances, bool (K, H, W) cut), K = len(RAY_STEPS).

    For an object pixel and direction ``k``, the distance is how far the object reaches from the pixel along
    ``RAY_STEPS[k]``: ``(n + 0.5) * |step|`` where ``n`` steps stay on the object's label and step ``n + 1``
    lands on another label (background or another object), so the edge is taken halfway between the two
    pixel centres. ``cut`` marks the rays that left the array before meeting an edge, and, with ``known``
    (bool (H, W): the pixels whose label is known), the rays whose first pixel off the object is unknown
    (outside an ROI, padding): the object may go on there, and the distance is only a lower bound.
    Background is 0 (and not cut).
    """
    labels = _checks.as_labels(instances, "instances")
    h, w = labels.shape
    known = _checks.valid_mask(known, (h, w))
    dist = np.zeros((len(RAY_STEPS), h, w), dtype=np.float32)
    cut = np.zeros((len(RAY_STEPS), h, w), dtype=bool)
    inside = labels > 0
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    for k, (dy, dx) in enumerate(RAY_STEPS):
        steps = ((_shifted(labels, dy, dx, -1) == labels) & inside).astype(np.int32)
        # pointer doubling: after the round with jump m, every run shorter than 2m is counted in full
        jump = 1
        while jump < max(h, w) and (full := steps == jump).any():
            steps += full * _shifted(steps, jump * dy, jump * dx, 0)
            jump *= 2
        dist[k][inside] = (steps[inside] + 0.5) * float(np.hypot(dy, dx))
        end_row, end_col = rows + (steps + 1) * dy, cols + (steps + 1) * dx
        outside = (end_row < 0) | (end_row >= h) | (end_col < 0) | (end_col >= w)
        if known is not None:
            ends = ~outside & inside
            outside[ends] = ~known[end_row[ends], end_col[ends]]
        cut[k] = inside & outside
    return dist, cut


def _shifted(values: np.ndarray, dy: int, dx: int, fill: int) -> np.ndarray:
    """``out[y, x] = values[y + dy, x + dx]`` where that lies inside the array, else ``fill``."""
    h, w = values.shape
    out = np.full_like(values, fill)
    if abs(dy) < h and abs(dx) < w:
        out[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)] = values[
            max(dy, 0) : h - max(-dy, 0), max(dx, 0) : w - max(-dx, 0)
        ]
    return out
