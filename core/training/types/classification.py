"""Image classification: one class per image, with the probability of every class.

LOCAL STAND-IN for helper C's entry (issue 26): only what Apply and the CLI ask of the registry (the name,
the titles, what it trains on, ``result_kind`` :data:`CLASS_LISTS`, the curves and the headline). The
pixel questions of :class:`TrainingType` have no answer for a classifier: they raise. The lead keeps helper
C's entry at merge.
"""

from __future__ import annotations

from typing import Any

from core.errors import InvalidInputError
from core.training.types.base import CLASS_LISTS, IMAGE_CLASSES, TrainingType

_NO_PIXELS = "a classification model has no pixel maps; it gives one class per image"


class Classification(TrainingType):
    name = "classification"
    title = "Image classification — one class per image, with the probability of every class"
    short_title = "image classification"
    task = "image classification (one class per image, with the probability of every class)"
    annotation_hint = "Give each image its class (the project's labels are the classes)."
    annotation_kinds = frozenset({IMAGE_CLASSES})
    pixel_masks = False
    image_types = ("2d", "multichannel")
    object_ids = False
    object_metrics = False
    score_key = "accuracy"
    maps_used = ()
    search_mode = "classification"
    tuning_grid = {}  # noqa: RUF012 - read only
    per_image_columns = ()
    per_image_names = {}  # noqa: RUF012 - read only
    label_file_suffix = "class"
    result_kind = CLASS_LISTS
    curves = (
        ("Loss", "loss", "train_loss", "val_loss"),
        ("Accuracy", "accuracy", "train_accuracy", "val_accuracy"),
        ("Macro-F1", "macro-F1", "train_macro_f1", "val_macro_f1"),
    )
    kept_scores = {"val_accuracy": "accuracy"}  # noqa: RUF012 - read only
    headline = ("accuracy", "accuracy")

    def out_channels(self, n_labels: int, *, distance: bool) -> int:
        return n_labels  # one logit per class

    def distance(self, use_distance_head: bool) -> bool:
        return False

    def _no_pixels(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInputError(_NO_PIXELS)

    ground_truth = network_targets = output_layout = logits_to_maps = _no_pixels
    loss = loss_from_maps = loss_description = batch_foreground = foreground = _no_pixels
    label_maps = epoch_record = score = default_postprocess = result_plane = objects_plane = _no_pixels


CLASSIFICATION = Classification()
