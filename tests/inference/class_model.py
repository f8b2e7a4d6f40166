"""A tiny real classification model package for the Apply and CLI tests of classes.

The model classifies an image by its mean brightness: class ``k`` is the most probable where the mean of
the normalised image is nearest ``CENTRES[k]`` (dark, medium, bright), so each test knows the answer. It is
packaged through :func:`core.training.package.write_package` (card, weights, TorchScript export), the
package the local ``load_classifier`` reads. THE ONE PLACE to adapt when the engine's own package format
(helper A) replaces the local one: the tests only call :func:`tiny_classifier_package` and the pictures
below.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.training.package import write_package

CLASSES = ("dark", "medium", "bright")
COLORS = ("#000080", "#808080", "#ffe119")
CENTRES = (0.15, 0.5, 0.85)
#: the grey level of a picture of each class (its mean after normalisation by 0..255 is near its centre)
LEVELS = {"dark": 38, "medium": 128, "bright": 217}


class MeanBrightness(torch.nn.Module):
    """Logits ``(N, K)``: minus the squared distance of each image's mean to each class's centre."""

    def __init__(self, centres: tuple[float, ...] = CENTRES, sharpness: float = 40.0) -> None:
        super().__init__()
        self.register_buffer("centres", torch.tensor(centres, dtype=torch.float32))
        self.sharpness = sharpness

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3))
        return -self.sharpness * (mean[:, None] - self.centres[None, :]) ** 2


def tiny_classifier_package(package_dir: Path, *, channels: int = 3, input_size: int = 32) -> Path:
    """Write the package of :class:`MeanBrightness` for ``channels`` uint8 channels (classes
    :data:`CLASSES`); returns ``package_dir``."""
    card = {
        # the schema asks for an encoder of the U-Net registry; this model has none (its own card would say
        # what it is)
        "encoder": "resnet18-compact",
        "in_channels": channels,
        "out_channels": len(CLASSES),
        "training_type": "classification",
        "labels": [{"id": i + 1, "name": n, "color": c}
                   for i, (n, c) in enumerate(zip(CLASSES, COLORS, strict=True))],
        "distance_head": False,
        "normalization": {"method": "percentile", "low": [0.0] * channels, "high": [255.0] * channels},
        "dtype": "uint8",
        "input_size": input_size,
        "name": "brightness",
    }
    return write_package(Path(package_dir), MeanBrightness(), card, trace_size=input_size)


def picture(cls: str, *, size: tuple[int, int] = (48, 40), channels: int = 3, seed: int = 0) -> np.ndarray:
    """A uint8 ``(channels, H, W)`` picture of class ``cls`` (its grey level with a little noise)."""
    rng = np.random.default_rng(seed)
    noisy = rng.normal(LEVELS[cls], 6.0, (channels, *size))
    return np.clip(noisy, 0, 255).astype(np.uint8)
