"""A trained classifier's package read back, and class probabilities of one image.

Minimal version written for the journey branch (issue 26): each image is resized whole to the card's input
size (never tiled); the engine's owner provides the full module with the same names.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import ModelPackageError

MODEL_FILE, CARD_FILE = "model.pt", "card.json"
LOW_PERCENTILE, HIGH_PERCENTILE = 1.0, 99.8


def prepare(image_chw: np.ndarray, size: int) -> torch.Tensor:
    """float32 ``(C, size, size)``: each channel scaled so that its 1st and 99.8th percentiles map to 0 and 1,
    then the whole image resized (area-averaged) to ``size`` x ``size``."""
    pixels = np.asarray(image_chw, dtype=np.float32)
    flat = pixels.reshape(pixels.shape[0], -1)
    low = np.percentile(flat, LOW_PERCENTILE, axis=1)[:, None, None]
    high = np.percentile(flat, HIGH_PERCENTILE, axis=1)[:, None, None]
    scaled = (pixels - low) / np.maximum(high - low, 1e-6)
    tensor = torch.from_numpy(np.ascontiguousarray(scaled))[None]
    return F.interpolate(tensor, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]


@dataclass
class ClassPrediction:
    probabilities: np.ndarray  # (K,) float
    label: int
    tiles: int


class Classifier:
    """A loaded package: ``class_names``, ``card`` and :meth:`probabilities`."""

    def __init__(self, module: torch.jit.ScriptModule, card: dict, device: str) -> None:
        self.module, self.card, self.device = module, card, device
        self.class_names = [str(lab["name"]) for lab in card["labels"]]
        self.size = int(card["input_size"])

    def probabilities(self, image_chw: np.ndarray) -> ClassPrediction:
        batch = prepare(image_chw, self.size)[None].to(self.device)
        with torch.no_grad():
            probs = torch.softmax(self.module(batch).float(), dim=1)[0].cpu().numpy()
        return ClassPrediction(probs, int(np.argmax(probs)), 1)

    def describe_input(self) -> str:
        return (f"Each image (or ROI crop) was resized whole to {self.size} {chr(215)} {self.size} pixels after "
                f"each channel was scaled so that its {LOW_PERCENTILE:g}st and {HIGH_PERCENTILE:g}th percentiles "
                "mapped to 0 and 1.")


def load_classifier(package_dir: Path, device: str = "cpu") -> Classifier:
    package_dir = Path(package_dir)
    try:
        card = json.loads((package_dir / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelPackageError(f"{package_dir / CARD_FILE} cannot be read ({exc}); the package is damaged") from exc
    if card.get("training_type") != "classification":
        raise ModelPackageError(f"{package_dir} is not a classification model package")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        try:
            module = torch.jit.load(str(package_dir / MODEL_FILE), map_location=device)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelPackageError(f"{package_dir / MODEL_FILE} cannot be loaded ({exc})") from exc
    return Classifier(module.eval(), card, device)
