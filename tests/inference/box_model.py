"""A tiny real detection model: trained for a few steps on synthetic bright squares, packaged as training
packages are (for the prediction job, the CLI and the Apply page)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.training.config import AugmentOptions, LabelSpec, TrainConfig
from core.training.loop import train
from core.training.sources import BoxImage

LABELS = (LabelSpec(1, "square", "#e6194b"), LabelSpec(2, "bar", "#4363d8"))


def squares(seed: int, *, size: int = 128, channels: int = 1, count: int = 5) -> tuple[np.ndarray, list]:
    """``(image uint8 (C, size, size), boxes [(label, y0, x0, y1, x1)])``: bright squares (label 0) and
    wide bars (label 1) on noise, apart from each other."""
    rng = np.random.default_rng(seed)
    image = rng.normal(40, 8, (size, size))
    taken = np.zeros((size, size), bool)
    boxes = []
    for _ in range(200):
        if len(boxes) == count:
            break
        label = int(rng.integers(2))
        h = int(rng.integers(12, 20))
        w = h if label == 0 else 2 * h
        y, x = int(rng.integers(2, size - h - 2)), int(rng.integers(2, size - w - 2))
        if taken[max(y - 4, 0) : y + h + 4, max(x - 4, 0) : x + w + 4].any():
            continue
        taken[y : y + h, x : x + w] = True
        image[y : y + h, x : x + w] += 150
        boxes.append((label, y, x, y + h, x + w))
    pixels = np.clip(image, 0, 255).astype(np.uint8)
    return np.repeat(pixels[None], channels, axis=0), boxes


def tiny_detector(workdir: Path, *, channels: int = 1, steps: int = 12) -> Path:
    """Train a detection model for ``steps`` steps on :func:`squares` (CPU, one view, full scale); returns its
    package folder."""
    images = []
    for i in range(6):
        pixels, boxes = squares(i, channels=channels)
        images.append(BoxImage(f"sq{i}", pixels, boxes, n_labels=len(LABELS)))
    config = TrainConfig(
        training_type="detection", labels=LABELS, patch_size=64, batch_size=4, learning_rate=3e-3,
        max_steps=steps, epochs=2, views=1, scale=1.0, average_from=None,
        augment=AugmentOptions(elastic=False),
    )
    result = train(config, images[:4], images[4:], budget_seconds=600, workdir=Path(workdir), device="cpu")
    assert result.package_dir is not None, "the tiny detector was not packaged"
    return Path(result.package_dir)
