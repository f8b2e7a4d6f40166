"""A trained classifier applied to whole images: the probability of every class.

LOCAL STAND-IN for helper A's module (issue 26), with the same interface (:func:`load_classifier`,
:class:`Classifier`, :class:`ClassPrediction`); only what Apply and the CLI call. It reads a package whose
card passes :func:`core.training.package.read_card` and whose TorchScript export maps a normalised batch
``(N, C, S, S)`` to class logits ``(N, K)``; ``S`` is the card's ``input_size`` (default 64). An image whose
longer side is at most twice ``S`` is resized whole; a larger one is cut into tiles of ``2 S`` pixels, each
resized to ``S``, and the tiles' probabilities averaged. The lead keeps helper A's module at merge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import InvalidInputError
from core.inference.fit import check_image_fits
from core.training.normalization import apply_normalization, card_normalization
from core.training.package import load_torchscript, read_card

DEFAULT_INPUT_SIZE = 64


@dataclass
class ClassPrediction:
    """One image's class probabilities ``(K,)`` (they sum to 1), the most probable class's index and how
    many tiles were averaged (1: the image was resized whole)."""

    probabilities: np.ndarray
    label: int
    tiles: int


class Classifier:
    """A classification model with its card, ready to classify images of any size."""

    def __init__(self, model: torch.nn.Module, card: dict, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.card = card
        self.device = torch.device(device)
        self.class_names = [str(lab["name"]) for lab in card["labels"]]
        self.input_size = int(card.get("input_size", DEFAULT_INPUT_SIZE))

    def describe_input(self) -> str:
        s = self.input_size
        return (f"Each image is resized to {s}x{s} px; an image larger than {2 * s} px on a side is cut into "
                f"tiles of {2 * s}x{2 * s} px, each resized to {s}x{s} px, and their probabilities averaged.")

    def probabilities(self, image_chw: np.ndarray) -> ClassPrediction:
        image = np.asarray(image_chw)
        if image.ndim != 3 or 0 in image.shape:
            raise InvalidInputError(f"the image must be (C, H, W) with pixels, got shape {image.shape}")
        check_image_fits(self.card, image.shape[0], image.dtype)
        pixels = torch.from_numpy(apply_normalization(image, card_normalization(self.card)))
        side = 2 * self.input_size
        _, h, w = pixels.shape
        rows, cols = (1, 1) if max(h, w) <= side else (math.ceil(h / side), math.ceil(w / side))
        tiles = [pixels[:, r * h // rows:(r + 1) * h // rows, c * w // cols:(c + 1) * w // cols]
                 for r in range(rows) for c in range(cols)]
        batch = torch.stack([
            F.interpolate(t[None], size=(self.input_size, self.input_size), mode="bilinear",
                          align_corners=False, antialias=True)[0]
            for t in tiles
        ]).to(self.device)
        with torch.no_grad():
            probs = torch.softmax(self.model(batch).float(), dim=1).mean(dim=0).cpu().numpy()
        return ClassPrediction(probabilities=probs, label=int(np.argmax(probs)), tiles=len(tiles))


def load_classifier(package_dir: Path, device: str = "cpu") -> Classifier:
    """The classifier of a package (its card validated; its TorchScript export on ``device``)."""
    card = read_card(Path(package_dir))
    return Classifier(load_torchscript(Path(package_dir)), card, device)
