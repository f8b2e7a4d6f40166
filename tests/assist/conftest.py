"""Tiny seeded images for the scribble assistant: two textures with the same mean and spread."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from core.assist import Stroke


def _unit(a: np.ndarray) -> np.ndarray:
    return (a - a.mean()) / a.std()


def two_textures(size: int = 128, *, seed: int = 0, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (C, size, size) image: a disc of fine-grained noise on coarse blobs (same mean and spread in
    every channel, so intensity alone cannot tell them apart), and the true disc (bool (size, size))."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] + 0.5
    disc = (yy - size * 0.45) ** 2 + (xx - size * 0.55) ** 2 < (size * 0.28) ** 2
    planes = []
    for _ in range(channels):
        fine = _unit(ndimage.gaussian_filter(rng.normal(size=(size, size)), 0.7))
        coarse = _unit(ndimage.gaussian_filter(rng.normal(size=(size, size)), 4.0))
        planes.append(np.clip(np.where(disc, fine, coarse) * 30 + 128, 0, 255).astype(np.uint8))
    return np.stack(planes), disc


def texture_strokes(size: int = 128) -> list[Stroke]:
    """What a user brushes: two strokes across the disc, and background strokes around it and in a corner."""
    s = size / 128
    return [
        Stroke(np.array([[40, 58], [100, 58]]) * s, 3 * s, 1),
        Stroke(np.array([[70, 30], [70, 85]]) * s, 3 * s, 1),
        Stroke(np.array([[26, 20], [26, 100], [110, 112]]) * s, 3 * s, 0),
        Stroke(np.array([[40, 10], [118, 12], [122, 80]]) * s, 3 * s, 0),
        Stroke(np.array([[4, 124], [30, 124]]) * s, 3 * s, 0),
    ]


@pytest.fixture
def textures() -> tuple[np.ndarray, np.ndarray, list[Stroke]]:
    image, disc = two_textures()
    return image, disc, texture_strokes()
