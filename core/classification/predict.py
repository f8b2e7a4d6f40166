"""Predicting with a classifier package: :func:`load_classifier` -> :class:`Classifier`.

An image (or ROI crop) of any size is fitted as in training (:mod:`core.classification.fitting`): resized
whole, or, when much larger than the training images, cut into tiles whose class probabilities are
averaged. The probabilities are averaged over the card's test-time views (:mod:`core.classification.views`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.classification.fitting import describe_input, fit_image, tile_boxes
from core.classification.model import ARCHITECTURE, build_classifier
from core.classification.views import view_probabilities
from core.errors import InvalidInputError, ModelPackageError
from core.training.device import DeviceChoice, pick_device
from core.training.package import WEIGHTS, read_card
from core.training.views import card_views

BATCH = 64


@dataclass
class ClassPrediction:
    """One image's class ``probabilities`` ``(K,)`` (sum 1), the most probable class index ``label``, and
    ``tiles``: how many pieces were averaged (1: the image was resized whole)."""

    probabilities: np.ndarray
    label: int
    tiles: int


class Classifier:
    """A loaded classifier: ``class_names`` (index = class), ``card``, and the prediction methods."""

    def __init__(self, model: torch.nn.Module, card: dict, choice: DeviceChoice) -> None:
        self.model, self.card, self.choice = model, card, choice
        self.class_names: list[str] = [str(lab["name"]) for lab in card["labels"]]
        self.input: dict = card["input"]
        self.size = int(self.input["size"])
        self.views = card_views(card)
        self.in_channels = int(card["in_channels"])

    def describe_input(self) -> str:
        """One sentence: how images are fitted to the network (resize or tiles), and the views averaged."""
        views = "" if self.views == 1 else (
            f" The class probabilities are averaged over {self.views} views (mirrored and turned).")
        return describe_input(self.input) + views

    def probabilities(self, image_chw: np.ndarray) -> ClassPrediction:
        """The class probabilities of one image ``(C, H, W)`` (a 2D array is one channel)."""
        return next(iter(self.predict_many([image_chw])))

    def predict_many(
        self, images: Iterable[np.ndarray], *, batch: int = BATCH
    ) -> Iterator[ClassPrediction]:
        """:meth:`probabilities` of each image, in order, the pieces of several images passed through the
        network together (faster than one call per image)."""
        pieces: list[np.ndarray] = []
        counts: list[int] = []  # pieces per image not yet predicted
        for image in images:
            fitted = self._pieces(image)
            pieces.extend(fitted)
            counts.append(len(fitted))
            if len(pieces) >= batch:
                yield from self._predict(pieces, counts)
                pieces, counts = [], []
        if counts:
            yield from self._predict(pieces, counts)

    # ----------------------------------------------------------------------------------------------
    def _pieces(self, image: np.ndarray) -> list[np.ndarray]:
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3 or arr.shape[0] != self.in_channels or min(arr.shape) < 1:
            raise InvalidInputError(
                f"image of shape {arr.shape} does not fit this classifier, which takes "
                f"(C={self.in_channels}, H, W) images like its training images; use images of the same type"
            )
        boxes = tile_boxes(arr.shape[1], arr.shape[2], self.input)
        return [fit_image(arr[:, y : y + h, x : x + w], self.size) for y, x, h, w in boxes]

    def _predict(self, pieces: list[np.ndarray], counts: list[int]) -> Iterator[ClassPrediction]:
        probs = self._network(torch.from_numpy(np.stack(pieces)))
        first = 0
        for n in counts:
            mean = probs[first : first + n].mean(axis=0)
            first += n
            yield ClassPrediction(mean, int(np.argmax(mean)), n)

    def _network(self, x: torch.Tensor) -> np.ndarray:
        out = []
        with torch.no_grad(), self.choice.autocast():
            for i in range(0, len(x), BATCH):
                xb = x[i : i + BATCH].to(self.choice.device)
                if self.choice.channels_last:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                out.append(view_probabilities(self.model, xb, self.views).cpu())
        return torch.cat(out).double().numpy()


def load_classifier(package_dir: Path, device: str = "cpu") -> Classifier:
    """The classifier of a package folder (its card validated, its weights loaded with weights_only) on
    ``device`` (auto | cpu | cuda; bf16 on CPUs that do it natively, as in training)."""
    package_dir = Path(package_dir)
    card = read_card(package_dir)
    if card.get("architecture") != ARCHITECTURE or "input" not in card:
        raise ModelPackageError(
            f"the package in {package_dir} is a {card.get('training_type')} model "
            f"({card.get('architecture')}), not a classifier; use it with the segmentation or detection tools"
        )
    model = build_classifier(card["encoder"], int(card["in_channels"]), int(card["out_channels"]))
    path = package_dir / WEIGHTS
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ModelPackageError(f"{path} is missing; the package is incomplete") from exc
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelPackageError(
            f"{path} cannot be loaded safely ({exc}); the package is damaged or unsafe"
        ) from exc
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelPackageError(
            f"the weights in {path} do not fit the card's {card['encoder']} classifier with "
            f"{card['in_channels']} input channels and {card['out_channels']} classes: {str(exc)[:300]}"
        ) from exc
    choice = pick_device(device)
    model = model.to(choice.device).eval()
    if choice.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return Classifier(model, card, choice)
