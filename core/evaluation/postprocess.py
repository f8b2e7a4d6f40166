"""Post-processing: probability maps -> bool masks (semantic) or instance label images (instance).

Instance recovery follows the 3-class recipe of the course seed: foreground = interior + boundary
probability above ``threshold``; seeds = connected components of interior probability (or of a predicted
distance map) above ``seed_threshold`` (with ``seed_height`` > 0, only its regional maxima that rise at least
that much above their surroundings); seeded watershed on the inverted interior (or distance) within the
foreground; objects smaller than ``min_size`` are removed; labels are renumbered 1..N.

Each step is its own function (:func:`foreground`, :func:`seeds`, :func:`seeded_watershed`,
:func:`remove_small`) so that :mod:`core.evaluation.tuning` can share work between grid points and still
produce exactly what :func:`instances_from_maps` produces.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage as ndi

from core.evaluation import _checks

#: Post-processing values used until tuning on the validation set chose better ones.
POSTPROCESS_DEFAULTS = {"threshold": 0.5, "seed_threshold": 0.7, "min_size": 10, "seed_height": 0.0}

_FULL = np.ones((3, 3), dtype=bool)  # 8-connectivity, as skimage.measure.label's default in 2D


def semantic_from_prob(prob: np.ndarray, *, threshold: float, min_size: int) -> np.ndarray:
    """Threshold an (H, W) probability map and drop connected components smaller than ``min_size`` pixels.

    Returns a bool (H, W) mask.
    """
    prob = _checks.as_prob(prob, "prob")
    threshold = _checks.fraction(threshold, "threshold")
    min_size = _checks.size(min_size, "min_size")
    return remove_small(label_components(prob > threshold, min_size=0), min_size) > 0


def label_components(mask: np.ndarray, *, min_size: int) -> np.ndarray:
    """Label the 8-connected components of a bool (H, W) mask, drop those below ``min_size`` pixels.

    Returns int32 (H, W) labels 1..N (0 = background), numbered in raster order.
    """
    mask = _checks.as_mask(mask, "mask", ndim=2)
    min_size = _checks.size(min_size, "min_size")
    labels, _ = ndi.label(mask, structure=_FULL, output=np.int32)
    return remove_small(labels, min_size)


def instances_from_maps(
    interior: np.ndarray,
    boundary: np.ndarray | None = None,
    *,
    threshold: float,
    seed_threshold: float,
    min_size: int,
    distance: np.ndarray | None = None,
    seed_height: float = 0.0,
) -> np.ndarray:
    """Recover instances of one label from its interior / boundary probabilities (float (H, W) each).

    Args:
        interior: probability of "inside an object, away from its edge".
        boundary: probability of "object edge"; None for a 2-class (background / object) model.
        threshold: foreground = interior + boundary > threshold.
        seed_threshold: seeds = connected components of interior > seed_threshold, or of
            distance > seed_threshold when ``distance`` is given.
        min_size: objects smaller than this many pixels are removed.
        distance: optional predicted per-object normalised distance to the edge, in [0, 1]; when given it
            makes the seeds and the watershed landscape instead of ``interior``.
        seed_height: 0 takes every component above ``seed_threshold`` as a seed; above 0 only the regional
            maxima that rise at least this much above their surroundings (h-maxima) count, so two touching
            objects whose maps join above the threshold still get a seed each.

    Returns:
        int32 (H, W) instance labels 1..N, 0 = background. Foreground blobs without any seed become
        objects of their own (small objects often have no confident interior).
    """
    interior, boundary, distance = _check_maps(interior, boundary, distance)
    threshold = _checks.fraction(threshold, "threshold")
    seed_threshold = _checks.fraction(seed_threshold, "seed_threshold")
    min_size = _checks.size(min_size, "min_size")
    seed_height = _checks.fraction(seed_height, "seed_height")
    landscape = interior if distance is None else distance
    fg = foreground(interior, boundary, threshold)
    markers = seeds(landscape, seed_threshold, seed_height)
    return remove_small(seeded_watershed(landscape, fg, markers), min_size)


def foreground(interior: np.ndarray, boundary: np.ndarray | None, threshold: float) -> np.ndarray:
    """bool (H, W): interior (+ boundary) probability above ``threshold``. Inputs trusted."""
    total = interior if boundary is None else interior + boundary
    return total > threshold


def seeds(
    landscape: np.ndarray,
    seed_threshold: float,
    seed_height: float = 0.0,
    *,
    maxima: np.ndarray | None = None,
) -> np.ndarray:
    """int32 (H, W): 8-connected components of ``landscape > seed_threshold``, keeping only the h-maxima of
    height ``seed_height`` when it is above 0 (``maxima``: those maxima, when already computed).
    Inputs trusted."""
    mask = landscape > seed_threshold
    if seed_height > 0:
        mask &= seed_maxima(landscape, seed_height) if maxima is None else maxima
    markers, _ = ndi.label(mask, structure=_FULL, output=np.int32)
    return markers


def seed_maxima(landscape: np.ndarray, seed_height: float) -> np.ndarray:
    """bool (H, W): the regional maxima of ``landscape`` rising at least ``seed_height`` above their
    surroundings (skimage's h-maxima). Inputs trusted."""
    from skimage.morphology import h_maxima  # on use: pages read only this module's defaults

    return h_maxima(np.asarray(landscape, dtype=np.float64), seed_height).astype(bool)


class Components(NamedTuple):
    """The 8-connected components of a foreground mask: int32 (H, W) labels 1..count."""

    labels: np.ndarray
    count: int


def components(fg: np.ndarray) -> Components:
    """8-connected components of a bool (H, W) mask. Inputs trusted."""
    labels, count = ndi.label(fg, structure=_FULL, output=np.int32)
    return Components(labels, int(count))


def seeded_watershed(
    landscape: np.ndarray, fg: np.ndarray, markers: np.ndarray, *, parts: Components | None = None
) -> np.ndarray:
    """int32 (H, W) labels: watershed of ``-landscape`` from ``markers`` inside ``fg``. Inputs trusted.

    Works per 8-connected foreground component: a component with one seed (most objects) becomes one
    object without flooding; components with several seeds are flooded (8-connected), all in one call;
    a component that no seed reaches becomes one object of its own. A seed shared by two
    components gives one object in each. Labels are 1..N, numbered by component, then by seed label.
    ``parts`` (the :func:`components` of ``fg``) may be passed when several seed sets share one ``fg``.
    """
    comps, n_comps = components(fg) if parts is None else parts
    if n_comps == 0:
        return np.zeros(fg.shape, dtype=np.int32)
    stride = int(markers.max()) + 1
    seeded = (markers > 0) & fg
    pairs = np.unique(comps[seeded].astype(np.int64) * stride + markers[seeded])
    pair_comp = pairs // stride
    n_seeds = np.bincount(pair_comp, minlength=n_comps + 1)
    n_objects = np.maximum(n_seeds, 1)
    n_objects[0] = 0
    first = (np.cumsum(n_objects) - n_objects + 1).astype(np.int32)
    first[0] = 0
    labels = first[comps]
    crowded = n_seeds >= 2
    if crowded.any():  # flood all crowded components in one call: the mask keeps them apart
        region = crowded[comps]
        rows = np.flatnonzero(region.any(axis=1))
        cols = np.flatnonzero(region.any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        region_box, comps_box, markers_box = region[box], comps[box], markers[box]
        sel = region_box & (markers_box > 0)
        sel_comps = comps_box[sel]
        rank = np.searchsorted(pairs, sel_comps.astype(np.int64) * stride + markers_box[sel])
        comp_start = np.searchsorted(pair_comp, np.arange(n_comps + 1))
        local = np.zeros(region_box.shape, dtype=np.int32)
        local[sel] = first[sel_comps] + (rank - comp_start[sel_comps])
        from skimage.segmentation import watershed

        flooded = watershed(-landscape[box].astype(np.float32), local, mask=region_box, connectivity=2)
        labels[box][region_box] = flooded[region_box]
    return labels


def remove_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Drop objects smaller than ``min_size`` pixels and renumber 1..N in order of their old labels.

    Returns int32 (H, W). Inputs trusted (non-negative integer labels).
    """
    if labels.size == 0:
        return labels.astype(np.int32)
    areas = np.bincount(labels.ravel())
    keep = areas >= max(min_size, 1)
    keep[0] = False
    lut = np.zeros(len(areas), dtype=np.int32)
    lut[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return lut[labels]


def _check_maps(
    interior: np.ndarray, boundary: np.ndarray | None, distance: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    interior = _checks.as_prob(interior, "interior")
    if boundary is not None:
        boundary = _checks.as_prob(boundary, "boundary", interior.shape)
    if distance is not None:
        distance = _checks.as_prob(distance, "distance", interior.shape)
    return interior, boundary, distance
