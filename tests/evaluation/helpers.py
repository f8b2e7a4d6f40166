"""Tiny seeded synthetic label images for the evaluation tests."""

from __future__ import annotations

import numpy as np


def random_discs(shape: tuple[int, int], n: int, seed: int, radius: tuple[int, int] = (3, 9)) -> np.ndarray:
    """int32 (H, W) label image of ``n`` random discs; later discs paint over earlier ones."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    labels = np.zeros(shape, dtype=np.int32)
    for label in range(1, n + 1):
        r = rng.integers(*radius)
        cy, cx = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        labels[(rows - cy) ** 2 + (cols - cx) ** 2 <= r * r] = label
    return labels


def two_touching_discs(shape=(40, 60), radius=10, gap=18) -> np.ndarray:
    """int32 (H, W): two overlapping discs split along their bisector (a Voronoi split), labels 1 and 2."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    cy, cx1 = shape[0] // 2, shape[1] // 2 - gap // 2
    cx2 = cx1 + gap
    d1 = np.hypot(rows - cy, cols - cx1)
    d2 = np.hypot(rows - cy, cols - cx2)
    labels = np.zeros(shape, dtype=np.int32)
    labels[(d1 <= radius) & (d1 <= d2)] = 1
    labels[(d2 <= radius) & (d2 < d1)] = 2
    return labels


def disc_probabilities(shape=(40, 60), radius=10, gap=18) -> np.ndarray:
    """float32 (H, W) 'interior' probability of the two discs: 1 at each centre, falling to 0 at the rim."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    cy, cx1 = shape[0] // 2, shape[1] // 2 - gap // 2
    cx2 = cx1 + gap
    d = np.minimum(np.hypot(rows - cy, cols - cx1), np.hypot(rows - cy, cols - cx2))
    return np.clip(1.0 - d / radius, 0.0, 1.0).astype(np.float32)
