"""Image classification: one class per image (or per ROI), with the probabilities of every class.

ENGINE BRANCH'S LOCAL VERSION (helper A): the smallest entry the classification engine needs to be
registered (so that :class:`~core.training.config.TrainConfig` and the model card accept the type). The
journey branch (helper C) owns this file; at the merge its entry replaces this one. What the engine asks of
it: :meth:`out_channels` (one logit per class) and :attr:`config_defaults`
(:data:`core.classification.train.CONFIG_DEFAULTS`). A classifier has no pixel maps, so the pixel engine's
questions are answered with an error that says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from core.classification.defaults import CONFIG_DEFAULTS, LOSS
from core.errors import InvalidInputError
from core.training.types.base import IMAGE_CLASSES, Maps, TrainingType, channel_record

if TYPE_CHECKING:
    from core.training.config import TrainConfig

CLASS_LISTS = "classes"
_NO_PIXELS = ("a classification model has no pixel maps; train and predict it with core.classification "
              "(train_classifier, load_classifier)")


def _no_pixels() -> InvalidInputError:
    return InvalidInputError(_NO_PIXELS)


class Classification(TrainingType):
    name = "classification"
    title = "Image classification — one class per image (or per ROI), with the probability of every class"
    short_title = "image classification"
    task = "image classification (one class per image, with the probabilities of every class)"
    annotation_hint = "Trains on the class of each image (and on ROIs that carry a class, as crops)."
    annotation_kinds = frozenset({IMAGE_CLASSES})
    pixel_masks = False
    image_types = ("2d", "multichannel")
    object_ids = False
    object_metrics = False
    score_key = "accuracy"
    maps_used = ()
    search_mode = "none"
    tuning_grid: dict[str, list] = {}  # noqa: RUF012 - read only
    per_image_columns = ()
    per_image_names: dict[str, str] = {}  # noqa: RUF012 - read only
    label_file_suffix = "class"
    result_kind = CLASS_LISTS
    curves = (
        ("Loss", "loss", "train_loss", "val_loss"),
        ("Accuracy", "accuracy", "train_accuracy", "val_accuracy"),
        ("Macro-F1", "macro-F1", "train_macro_f1", "val_macro_f1"),
    )
    kept_scores = {"val_accuracy": "accuracy", "val_macro_f1": "macro_f1"}  # noqa: RUF012 - read only
    headline = ("accuracy", "accuracy")

    config_defaults = CONFIG_DEFAULTS

    def ground_truth(self, truth: dict[str, np.ndarray]) -> np.ndarray:
        raise _no_pixels()

    def network_targets(self, labels: np.ndarray, valid: np.ndarray, config: TrainConfig, *,
                        rays: bool) -> dict[str, np.ndarray]:
        raise _no_pixels()

    def distance(self, use_distance_head: bool) -> bool:
        return False

    def out_channels(self, n_labels: int, *, distance: bool) -> int:
        return n_labels

    def output_layout(self, labels: list[dict], *, distance: bool) -> list[dict]:
        return [channel_record(i, lab, "class", "softmax") for i, lab in enumerate(labels)]

    def logits_to_maps(self, logits: torch.Tensor, n_labels: int, *,
                       distance: bool) -> dict[str, torch.Tensor]:
        raise _no_pixels()

    def loss(self, logits: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        raise _no_pixels()

    def loss_from_maps(self, maps: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        raise _no_pixels()

    def loss_description(self, *, distance: bool, rays: bool) -> str:
        return LOSS

    def batch_foreground(self, logits: torch.Tensor, targets: dict[str, torch.Tensor],
                         n_labels: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise _no_pixels()

    def foreground(self, maps: Maps) -> np.ndarray:
        raise _no_pixels()

    def label_maps(self, maps: Maps, index: int) -> Maps:
        raise _no_pixels()

    def epoch_record(self, maps: Sequence[Maps], images: Sequence[Any], config: TrainConfig) -> dict:
        raise _no_pixels()

    def score(self, record: dict) -> float | None:
        return record.get("val_accuracy")

    def default_postprocess(self) -> dict:
        return {}

    def result_plane(self, maps: Maps, index: int, values: dict) -> np.ndarray:
        raise _no_pixels()

    def objects_plane(self, maps: Maps, index: int, values: dict) -> np.ndarray:
        raise _no_pixels()


CLASSIFICATION = Classification()
