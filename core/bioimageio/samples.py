"""The image an exported package's test tensors and cover are computed from: the caller's (cropped to a
valid input size) or a synthetic one in the training images' intensity range."""

from __future__ import annotations

import numpy as np

from core.bioimageio import tensors
from core.errors import InvalidInputError
from core.training.normalization import card_normalization

#: the synthetic image's side (the smallest valid input size at least this large is used)
SAMPLE_SIDE = 256
#: the largest side of a test tensor taken from the caller's image
MAX_SAMPLE_SIDE = 512


def sample_image(card: dict, sample: np.ndarray | None) -> np.ndarray:
    """float32 ``(C, S, S')`` raw test image of a valid input size (the caller's, cropped at its centre, or
    a synthetic one)."""
    channels = int(card["in_channels"])
    smallest = tensors.min_side(card)
    if sample is not None:
        image = np.asarray(sample)
        if image.ndim == 2:
            image = image[None]
        if image.ndim != 3 or image.shape[0] != channels:
            raise InvalidInputError(f"the sample image has shape {image.shape}; this model expects "
                                    f"(C={channels}, H, W)")
        if min(image.shape[1:]) < smallest:
            raise InvalidInputError(f"the sample image is {image.shape[1]}x{image.shape[2]} pixels; the "
                                    f"export needs at least {smallest}x{smallest}")
        sides = [_valid_side(min(n, MAX_SAMPLE_SIDE), smallest, fit=True) for n in image.shape[1:]]
        top, left = ((n - s) // 2 for n, s in zip(image.shape[1:], sides, strict=True))
        return image[:, top : top + sides[0], left : left + sides[1]].astype(np.float32)
    side = _valid_side(SAMPLE_SIDE, smallest, fit=False)
    return synthetic_image(card, side)


def _valid_side(n: int, smallest: int, *, fit: bool) -> int:
    """The valid input side (``smallest + 32 k``) at most ``n`` (``fit``) or at least ``n``."""
    if n <= smallest:
        return smallest
    steps = (n - smallest) // 32 if fit else -(-(n - smallest) // 32)
    return smallest + 32 * steps


def synthetic_image(card: dict, side: int, *, seed: int = 0) -> np.ndarray:
    """float32 ``(C, side, side)``: bright discs on a dim background with noise, in the intensity range of
    the card's normalisation (its training images' typical low and high values)."""
    norm = card_normalization(card)
    reference = norm.get("reference") or {}
    low = np.asarray(reference.get("low", norm["low"]), dtype=np.float64)
    high = np.asarray(reference.get("high", norm["high"]), dtype=np.float64)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    blobs = np.zeros((side, side))
    for _ in range(max(4, side * side // 1500)):
        cy, cx = rng.uniform(0, side, 2)
        radius = rng.uniform(5, 14)
        blobs = np.maximum(blobs, np.clip(1.0 - np.hypot(yy - cy, xx - cx) / radius, 0.0, 1.0) ** 0.3)
    level = 0.1 + 0.8 * blobs + rng.normal(0.0, 0.04, (side, side))
    image = low[:, None, None] + (high - low)[:, None, None] * level[None]
    dtype = norm.get("dtype")
    if dtype is not None and np.issubdtype(np.dtype(str(dtype)), np.integer):
        info = np.iinfo(np.dtype(str(dtype)))
        image = np.clip(np.round(image), info.min, info.max)
    return image.astype(np.float32)
