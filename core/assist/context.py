"""Spatial context of a first proposal ("auto-context") and the final smoothing of the probabilities.

A pixel-wise forest decides every pixel on its own, so its first proposal is speckled and confuses small
dark structures with the objects. The second stage of :class:`core.assist.forest.ScribbleForest` therefore
adds, to the image features, what the first stage says about the *neighbourhood* of each pixel: each
label's first-stage probability smoothed at a few scales and the magnitude of its gradient there. Finally the
class probabilities are smoothed with a small Gaussian, which removes most single-pixel noise.

The context scales are well above a brush width on purpose: on the stroked pixels the first stage is
overfit (it was trained there), so small-scale context would teach the second stage to copy the first;
at 12 and 24 pixels the context mixes in the first stage's honest answers off the strokes (on EM
mitochondria: proposal IoU 0.67 with scales 1..16, 0.85 with 12 and 24).

Both are local: :data:`CONTEXT_HALO` and :data:`SMOOTH_HALO` pixels of context make a tile's result equal
to that of the whole image (see :func:`strip`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.assist.features import TRUNCATE

#: Scales (pixels) at which first-stage probabilities are summarised.
CONTEXT_SIGMAS = (12.0, 24.0)
#: Gaussian smoothing of the final class probabilities (pixels).
SMOOTH_SIGMA = 2.0
#: Features per first-stage probability map.
CONTEXT_PER_MAP = 2 * len(CONTEXT_SIGMAS)


def _radius(sigma: float) -> int:
    return int(TRUNCATE * sigma + 0.5)


CONTEXT_HALO = max(_radius(s) for s in CONTEXT_SIGMAS) + 1
SMOOTH_HALO = _radius(SMOOTH_SIGMA)

#: Which sides of a window touch the image border: (top, bottom, left, right).
Sides = tuple[bool, bool, bool, bool]
ALL_SIDES: Sides = (True, True, True, True)


def strip(arr: np.ndarray, halo: int, at_border: Sides) -> np.ndarray:
    """Drop ``halo`` rows/columns of the leading (H, W) axes on each side that is *not* at the image border.

    Values near a window edge that is inside the image are wrong (the filters mirrored the window there), so
    they are thrown away; at the image border the mirror is what the whole image gets too, so they stay.
    """
    top, bottom, left, right = (0 if b else halo for b in at_border)
    h, w = arr.shape[:2]
    return arr[top : h - bottom, left : w - right]


def context_features(maps: np.ndarray) -> np.ndarray:
    """Context features of first-stage probability maps (M, H, W): float32 (H, W, M * CONTEXT_PER_MAP)."""
    m, h, w = maps.shape
    out = np.empty((h, w, m * CONTEXT_PER_MAP), dtype=np.float32)
    k = 0
    for plane in maps:
        plane = plane.astype(np.float32, copy=False)
        for sigma in CONTEXT_SIGMAS:
            g = ndimage.gaussian_filter(plane, sigma, mode="mirror", truncate=TRUNCATE)
            p = np.pad(g, 1, mode="reflect")
            gx = (p[1:-1, 2:] - p[1:-1, :-2]) * np.float32(0.5)
            gy = (p[2:, 1:-1] - p[:-2, 1:-1]) * np.float32(0.5)
            out[..., k] = g
            out[..., k + 1] = np.sqrt(gx * gx + gy * gy)
            k += 2
    return out


def smooth_probabilities(probs: np.ndarray) -> np.ndarray:
    """Gaussian-smoothed class probabilities (K, H, W) float32; each pixel still sums to 1."""
    out = np.empty(probs.shape, dtype=np.float32)
    for k, plane in enumerate(probs):
        out[k] = ndimage.gaussian_filter(plane.astype(np.float32, copy=False), SMOOTH_SIGMA, mode="mirror",
                                         truncate=TRUNCATE)
    return out
