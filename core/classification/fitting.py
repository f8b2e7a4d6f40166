"""How an example (an image or an ROI crop of any size, 8/16-bit or float) becomes the network's input.

1. Resize: the longer side to ``size`` pixels (the other in proportion), with area averaging when
   shrinking (antialiased bilinear) and bilinear interpolation when enlarging.
2. Normalise per image and channel: the example's own 1st and 99.8th percentiles (the levels of
   :mod:`core.training.normalization`) map to 0 and 1, so 8-bit, 16-bit and float images of one
   experiment can be mixed, and exposure differences between images do not matter.
3. Pad the shorter side to a square with the example's per-channel median (its background, mostly).

An image much larger than the training examples (its longer side above ``tile_above`` times their typical
longer side, the ``reference_side``) is not shrunk whole: it is cut into square tiles of the reference side
(evenly spread, overlapping where they must), each fitted as above, and the class probabilities of the
tiles are averaged (:func:`tile_boxes`). Objects are thus seen at the scale the network learnt them.

The record (:func:`fit_record`) goes into the model card as ``"input"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import InvalidInputError
from core.training.normalization import HIGH_PERCENTILE, LOW_PERCENTILE

#: an image whose longer side exceeds this many times the training examples' typical side is tiled
TILE_ABOVE = 2.0
MIN_SIZE, MAX_SIZE = 32, 512
_MAX_PERCENTILE_SAMPLES = 65_536  # pixels per channel the percentiles are taken from (evenly strided)


def fit_record(sides: Sequence[int], size: int, *, tile_above: float = TILE_ABOVE) -> dict:
    """The card's ``"input"`` record: input ``size``, the training examples' typical longer side (median of
    ``sides``), the tiling threshold and the rules in words."""
    if not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise InvalidInputError(
            f"input size {size!r} must be a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}"
        )
    if not sides:
        raise InvalidInputError("no example sizes given; the input record needs the training examples")
    reference = round(float(np.median(np.asarray(sides, dtype=np.float64))))
    return {
        "size": size,
        "mode": "resize",
        "reference_side": max(reference, 1),
        "tile_above": float(tile_above),
        "resize": "longer side to the input size, aspect kept (area averaging when shrinking), the shorter "
                  "side padded with the image's median",
        "normalization": f"per image and channel: percentiles {LOW_PERCENTILE:g} and {HIGH_PERCENTILE:g} "
                         "to 0 and 1",
        "tiling": "tiles of the reference side, class probabilities averaged",
    }


def describe_input(record: dict) -> str:
    """One sentence for the methods and Apply: how images are fitted to the network."""
    size, ref = int(record["size"]), int(record["reference_side"])
    limit = math.floor(float(record["tile_above"]) * ref)
    return (
        f"Each image is resized to {size}x{size} px (its longer side to {size} px, the shorter side padded "
        f"with the image's median) after percentile normalisation per image and channel "
        f"(percentiles {LOW_PERCENTILE:g} and {HIGH_PERCENTILE:g} to 0 and 1); images whose longer side "
        f"exceeds {limit} px ({float(record['tile_above']):g} times the training images' typical {ref} px) "
        f"are cut into tiles of {ref} x {ref} px whose class probabilities are averaged."
    )


def fit_image(image_chw: np.ndarray, size: int) -> np.ndarray:
    """float32 ``(C, size, size)``: ``image_chw`` resized, normalised and padded (module docstring)."""
    return fit_with_levels(image_chw, size)[0]


def fit_with_levels(image_chw: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`fit_image` and the example's own low and high percentile per channel (its normalisation)."""
    arr = np.asarray(image_chw)
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise InvalidInputError(f"image has shape {arr.shape}; expected (C, H, W) with at least one pixel")
    c, h, w = arr.shape
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    x = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))[None]
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=scale < 1)
    small = x[0].numpy()
    flat = small.reshape(c, -1)
    if flat.shape[1] > _MAX_PERCENTILE_SAMPLES:
        flat = flat[:, :: flat.shape[1] // _MAX_PERCENTILE_SAMPLES + 1]
    lo, mid, hi = np.percentile(flat, [LOW_PERCENTILE, 50.0, HIGH_PERCENTILE], axis=1)
    hi = np.where(hi - lo < 1e-6, lo + 1.0, hi)  # a flat channel maps to 0
    small = (small - lo[:, None, None]) / (hi - lo)[:, None, None]
    if (nh, nw) == (size, size):
        return np.ascontiguousarray(small, dtype=np.float32), lo, hi
    out = np.empty((c, size, size), dtype=np.float32)
    out[:] = ((mid - lo) / (hi - lo))[:, None, None]
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[:, y0 : y0 + nh, x0 : x0 + nw] = small
    return out, lo, hi


def tile_boxes(height: int, width: int, record: dict) -> list[tuple[int, int, int, int]]:
    """``(y, x, h, w)`` of the pieces an image of ``height`` x ``width`` is classified from: the whole image
    when its longer side is within ``tile_above`` x ``reference_side``, else square tiles of the reference
    side (clipped to the image) spread evenly over it."""
    side = int(record["reference_side"])
    if max(height, width) <= float(record["tile_above"]) * side:
        return [(0, 0, int(height), int(width))]
    ys = _starts(height, side)
    xs = _starts(width, side)
    th, tw = min(side, height), min(side, width)
    return [(y, x, th, tw) for y in ys for x in xs]


def _starts(length: int, side: int) -> list[int]:
    if length <= side:
        return [0]
    n = math.ceil(length / side)
    return [round(float(v)) for v in np.linspace(0, length - side, n)]
