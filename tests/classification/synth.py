"""Tiny seeded synthetic classification data: three visually distinct classes of small images."""

from __future__ import annotations

import numpy as np

from core.classification.examples import ArrayExample, ClassExample
from core.training.config import LabelSpec, TrainConfig

NAMES = ("disc", "dots", "stripes")


def picture(kind: int, seed: int, *, size: int = 40, channels: int = 1, dtype=np.uint8) -> np.ndarray:
    """``(C, size, size)``: class 0 one large bright disc, class 1 many small dots, class 2 stripes; on
    noise, at a random place / phase / angle."""
    rng = np.random.default_rng([kind, seed])
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    img = rng.normal(0.15, 0.05, (size, size))
    if kind == 0:
        cy, cx = rng.uniform(0.35, 0.65, 2) * size
        r = rng.uniform(0.22, 0.3) * size
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] += 0.7
    elif kind == 1:
        for _ in range(int(rng.integers(10, 16))):
            cy, cx = rng.uniform(3, size - 3, 2)
            img[(yy - cy) ** 2 + (xx - cx) ** 2 <= 2.0] += 0.7
    else:
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(6, 9)
        img += 0.35 * (1 + np.sin(2 * np.pi * (np.cos(angle) * xx + np.sin(angle) * yy) / period))
    scale = 60000 if dtype == np.uint16 else 250
    out = np.clip(img, 0, 1.2) / 1.2 * scale
    planes = [out * (0.6 + 0.4 * c / max(channels - 1, 1)) for c in range(channels)]
    return np.stack(planes).astype(dtype)


def examples(per_class: int, *, start: int = 0, size: int = 40, channels: int = 1, dtype=np.uint8,
             prefix: str = "im") -> list[ClassExample]:
    return [ArrayExample(f"{prefix}{k}_{i}", picture(k, start + i, size=size, channels=channels, dtype=dtype),
                         k) for k in range(len(NAMES)) for i in range(per_class)]


def config(**kw) -> TrainConfig:
    base = {
        "training_type": "classification",
        "labels": tuple(LabelSpec(i + 1, name, color) for i, (name, color) in
                        enumerate(zip(NAMES, ("#e6194b", "#3cb44b", "#4363d8"), strict=True))),
        "patch_size": 32,
        "batch_size": 12,
        "learning_rate": 3e-3,
        "max_steps": 40,
        "steps_per_epoch": 10,
        "seed": 0,
        "views": 2,
        "average_from": 0.5,
        "weight_decay": 0.01,
    }
    base.update(kw)
    return TrainConfig(**base)
