"""Tiny seeded synthetic data for the training engine tests: bright discs on noise."""

from __future__ import annotations

import numpy as np

from core.training.config import LabelSpec, TrainConfig
from core.training.sources import ArrayImage


def discs(seed: int, size: int = 96, count: int = 6, dtype=np.uint16) -> tuple[np.ndarray, np.ndarray]:
    """(image (1, size, size), instances (1, size, size) int32) with ``count`` non-overlapping discs."""
    rng = np.random.default_rng(seed)
    img = rng.normal(0.15, 0.04, (size, size))
    inst = np.zeros((size, size), np.int32)
    yy, xx = np.mgrid[:size, :size]
    placed = 0
    for _ in range(200):
        if placed == count:
            break
        cy, cx = rng.integers(10, size - 10, size=2)
        r = rng.integers(5, 9)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        ring = (yy - cy) ** 2 + (xx - cx) ** 2 <= (r + 2) ** 2
        if (inst[ring] > 0).any():
            continue
        placed += 1
        inst[disc] = placed
        img[disc] += rng.uniform(0.5, 0.8)
    scale = 1000 if dtype == np.uint16 else 200
    return (np.clip(img, 0, None) * scale).astype(dtype)[None], inst[None]




def make_images(n: int = 5, size: int = 96):
    out = []
    for i in range(n):
        image, inst = discs(i, size=size)
        out.append(ArrayImage(f"im{i}", image, instances=inst))
    return out


def config(training_type: str = "semantic", **kw) -> TrainConfig:
    base = {
        "training_type": training_type,
        "labels": (LabelSpec(7, "nucleus", "#00ff00"),),
        "patch_size": 64,
        "batch_size": 4,
        "learning_rate": 3e-3,
        "seed": 0,
    }
    base.update(kw)
    return TrainConfig(**base)
