"""Image classification: one class per image (or per ROI), with the probability of every class ("what does
the picture show").

A project's labels are its classes. Each image with a class is one example, read whole; each ROI carrying a
class is one more, its crop. The engine is :mod:`core.classification` (a CNN classifier, no pixel maps);
this entry tells the wizard, the training job, the report and the Trainings page how such a training
differs: its rules (at least 2 classes, 2 images per class, a split stratified by class, no background-only
images), its data, its scores (accuracy, balanced accuracy, macro-F1, top-2 accuracy, the confusion matrix)
and its curves. The segmentation engine's questions (pixel targets, output maps, post-processing) do not
apply to it: they raise an error that says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from core.classification.defaults import ARCHITECTURE, CONFIG_DEFAULTS, LOSS
from core.errors import InvalidInputError
from core.training.start_words import initialisation
from core.training.types.base import CLASS_LISTS, IMAGE_CLASSES, Maps, TrainingType, channel_record

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from core.config import Settings
    from core.training.config import TrainConfig
    from core.training.loop import TrainResult
    from core.training.split import Split, SplitImage
    from core.training.types.steps import ScoredValidation


class Classification(TrainingType):
    name = "classification"
    title = "Image classification — one class per image (or per ROI), with the probability of every class"
    short_title = "image classification"
    task = ("image classification (one class per image or region of interest, with the probability of every "
            "class)")
    annotation_hint = (
        "Trains on classes: the project's labels are the classes. Give each image its class (on the Annotate "
        "page or in the gallery; keys 1 to 9), or draw ROIs that carry a class (each crop is one example)."
    )
    annotation_kinds = frozenset({IMAGE_CLASSES})
    pixel_masks = False
    image_types = ("2d", "multichannel")
    object_ids = False
    object_metrics = False
    score_key = "accuracy"  # the engine keeps the epoch (views, averaged weights) that validates best by it
    maps_used = ()
    search_mode = "none"
    tuning_grid: dict[str, list] = {}  # noqa: RUF012 - read only
    metrics_sentence = (
        " Every validation example (an image, or the crop of an ROI) was given its most probable class. "
        "Accuracy is the share of examples given their true class; balanced accuracy the mean over classes "
        "of the share of each class's examples given it (recall); macro-F1 the mean of the classes' F1 "
        "scores (a class with neither true nor predicted examples left out, one predicted but never true "
        "counting 0); top-2 accuracy the share whose true class is among the two most probable. The "
        "confusion matrix counts the examples of each true class (rows) by predicted class (columns), and "
        "divides each row by its total (row-normalised)."
    )
    per_image_columns = ("predicted", "probability", "correct")
    per_image_names = {"label": "true class", "predicted": "predicted\nclass"}  # noqa: RUF012 - read only
    label_file_suffix = "class"
    result_kind = CLASS_LISTS
    curves = (
        ("Loss", "loss", "train_loss", "val_loss"),
        ("Accuracy", "accuracy", "train_accuracy", "val_accuracy"),
        ("Macro-F1", "macro-F1", "train_macro_f1", "val_macro_f1"),
    )
    kept_scores = {"val_accuracy": "accuracy", "val_macro_f1": "macro_f1"}  # noqa: RUF012 - read only
    headline = ("accuracy", "Accuracy")
    # of examples, not of pixels; F1 of a class, not of objects matched at IoU 0.5
    score_names = {"accuracy": "Accuracy", "f1": "F1"}  # noqa: RUF012 - read only
    # the classifier's own defaults (input size, weight decay, views, weight averaging, epochs:
    # core.classification.defaults); the segmentation heads and the post-processing search do not apply:
    # off, so that the configuration says so
    config_defaults = {  # noqa: RUF012 - read only
        **CONFIG_DEFAULTS, "use_distance_head": False, "edge_rays": False, "contact_weight": 0.0,
        "tune_postprocessing": False,
    }
    min_labels = 2
    label_noun = "class"
    count_noun = "example"
    uses_background = False
    roi_only_applies = False
    network_phrase = ("CNN classifier: the {encoder} encoder (no U-Net decoder), global average pooling and "
                      "one linear layer to the classes")
    architecture = ARCHITECTURE
    pictures_caption = ("Misclassified validation examples — true class → predicted class (its "
                        "probability)")

    # Wizard and split ----------------------------------------------------------------------------------
    def annotation_counts(self, session: Session, project_id: int) -> dict[int, dict[int, int]]:
        """image id -> {class: 1 for the image's own class, plus 1 per ROI carrying a class}."""
        from core.training.class_data import class_counts_per_image

        return class_counts_per_image(session, project_id)

    def split_images(self, session: Session, project_id: int, image_ids: Sequence[int]) -> list[SplitImage]:
        from core.training.class_data import class_split_images

        return class_split_images(session, project_id, image_ids)

    def training_rules(
        self,
        images: Sequence[SplitImage],
        label_ids: Sequence[int],
        *,
        mode: str,
        train_ids: Sequence[int] = (),
        val_ids: Sequence[int] = (),
        label_names: dict[int, str] | None = None,
    ) -> list[str]:
        """At least 2 classes, 2 images of each; a manual split with every class in training and in
        validation; no background-only images (:func:`core.training.split.check_class_rules`)."""
        from core.training.split import check_class_rules

        return check_class_rules(images, label_ids, mode=mode, train_ids=train_ids, val_ids=val_ids,
                                 label_names=label_names)

    def split(
        self,
        images: Sequence[SplitImage],
        label_ids: Sequence[int],
        *,
        mode: str,
        seed: int,
        train_ids: Sequence[int] = (),
        val_ids: Sequence[int] = (),
    ) -> Split:
        """Random: stratified by class, seeded, 80/20 within each class
        (:func:`core.training.split.stratified_split`); manual: the user's lists."""
        from core.training.split import make_class_split

        return make_class_split(images, label_ids, mode=mode, seed=seed, train_ids=train_ids, val_ids=val_ids)

    def encoder_choice(self, encoder: str) -> str:
        """The classifier built on ``encoder``: its smp encoder and how many stages (the U-Net's decoder
        and model sizes of the registry's description do not apply)."""
        from core.training.encoders import ENCODERS

        spec = ENCODERS[encoder]
        depth = int(spec.get("encoder_depth", 5))
        stages = f"its first {depth} stages" if depth < 5 else "all 5 stages"
        return (f"{encoder}: the {spec['smp_encoder']} encoder ({stages}), global average pooling and a "
                "linear layer to the classes")

    # The training job ----------------------------------------------------------------------------------
    def load_split(
        self, settings: Settings, engine: Engine, project_id: int, split: dict, config: TrainConfig
    ) -> tuple[list, list, list, list]:
        """:class:`~core.classification.examples.ClassExample` objects: images with a class, ROI crops."""
        from core.training.class_data import load_class_split

        return load_class_split(settings, engine, project_id, split, config)

    def train_model(
        self,
        config: TrainConfig,
        train: Sequence[Any],
        val: Sequence[Any],
        *,
        budget_seconds: float,
        workdir: Path,
        on_progress: Any = None,
        should_stop: Any = None,
        resume: bool = False,
        device: str = "auto",
        start: Any = None,
    ) -> TrainResult:
        """:func:`core.classification.train.train_classifier`."""
        from core.classification.train import train_classifier

        return train_classifier(config, train, val, budget_seconds=budget_seconds, workdir=workdir,
                                on_progress=on_progress, should_stop=should_stop, resume=resume,
                                device=device, start=start)

    def score_validation(
        self, package_dir: Path, val: Sequence[Any], config: TrainConfig, train_metrics: dict
    ) -> ScoredValidation:
        """Every validation example predicted and scored (:mod:`core.training.class_outcome`); the
        misclassified ones are the report's pictures."""
        from core.training.class_outcome import score_classifier

        return score_classifier(package_dir, val, config, train_metrics)

    def package_card(self, package_dir: Path) -> dict:
        """The classifier's card, with its own description of how it fits an image to its input
        (``describe_input``); {} when the folder holds no package."""
        from core.classification.predict import load_classifier

        if not Path(package_dir).is_dir():
            return {}
        classifier = load_classifier(Path(package_dir), "cpu")
        return {**classifier.card, "describe_input": classifier.describe_input()}

    # Report ----------------------------------------------------------------------------------------------
    def report_config(self, train_config: dict, card: dict) -> dict:
        """The classes, the seed and, from the classifier's card (:mod:`core.classification.card`, the
        records :func:`~core.classification.train.train_classifier` adds): the network, its input (size and
        how images are fitted: resized or tiles), augmentation, imbalance handling, loss, optimiser, batch
        size, learning rate, epochs and steps. ``card`` is :meth:`package_card`'s ({} without a package)."""
        info = card.get("training") or {}
        fit = card.get("input") or {}
        values = {
            "training_type": train_config.get("training_type"),
            "labels": [lab["name"] for lab in train_config.get("labels", [])],
            "encoder": card.get("encoder") or train_config.get("encoder"),
            "seed": train_config.get("seed"),
            "max_steps": train_config.get("max_steps"),
            "steps_per_epoch": train_config.get("steps_per_epoch"),
            "in_channels": card.get("in_channels"),
            "input_size": fit.get("size"),
            "network": _network_phrase(card),
            "input": card.get("describe_input") or card.get("input_description"),
            "augmentation": card.get("augmentation"),
            "imbalance": card.get("imbalance"),
            "loss": card.get("loss"),
            "optimizer": OPTIMIZER if card else None,
            "weight_decay": (card.get("config") or {}).get("weight_decay") if card else None,
            "learning_rate_schedule": _schedule_sentence() if card else None,
            "learning_rate_choice": (info.get("lr_test") or {}).get("reason"),
            "batch_size": info.get("batch_size"),
            "learning_rate": info.get("learning_rate"),
            "epochs": info.get("epochs"),
            "steps": info.get("steps"),
        }
        return {key: value for key, value in values.items() if value is not None}

    def methods_network(self, config: dict, versions: dict) -> str | None:
        network = config.get("network") or "a convolutional classifier"
        sentence = f"The network was {network}"
        channels = config.get("in_channels")
        if channels:
            sentence += f", taking {channels} input channel{'s' if channels != 1 else ''}"
        sentence += "; a softmax turned its one output per class into the class probabilities."
        if config.get("input"):
            sentence += f" {str(config['input']).strip()}"
        return sentence

    def methods_sentences(self, config: dict) -> str:
        from core.reports.formatting import format_duration

        parts = [_sentence(config.get("learning_rate_choice"), "The learning rate was "),
                 _sentence(config.get("learning_rate_schedule")),
                 _sentence(config.get("augmentation")), _sentence(config.get("imbalance"))]
        if config.get("split") == "random":
            parts.append("The random split was stratified by class: within each class about 20 % of the "
                         "images (at least one) went to validation.")
        steps, per_epoch = config.get("max_steps"), config.get("steps_per_epoch")
        budget = config.get("budget_seconds")
        if isinstance(steps, int) and not isinstance(steps, bool):
            epochs = f", in epochs of {per_epoch} steps" if isinstance(per_epoch, int) else ""
            parts.append(f"The training was bound by a number of steps, {steps}{epochs}, not by time.")
        elif isinstance(budget, (int, float)) and not isinstance(budget, bool):
            duration = f" ({config['duration']})" if isinstance(config.get("duration"), str) else ""
            parts.append(f"The training had a time budget of {format_duration(float(budget))}{duration}, "
                         "reading the images included.")
        return "".join(f" {part}" for part in parts if part)

    # The segmentation engine's questions do not apply -------------------------------------------------
    def ground_truth(self, truth: dict[str, np.ndarray]) -> np.ndarray:
        raise _no_pixels("ground truth planes")

    def network_targets(
        self, labels: np.ndarray, valid: np.ndarray, config: TrainConfig, *, rays: bool
    ) -> dict[str, np.ndarray]:
        raise _no_pixels("patch targets")

    def distance(self, use_distance_head: bool) -> bool:
        return False

    def out_channels(self, n_labels: int, *, distance: bool) -> int:
        """One output (logit) per class."""
        return n_labels

    def output_layout(self, labels: list[dict], *, distance: bool) -> list[dict]:
        """One logit per class (softmax over the classes), as the classifier's card records it."""
        return [channel_record(i, lab, "class", "softmax") for i, lab in enumerate(labels)]

    def logits_to_maps(
        self, logits: torch.Tensor, n_labels: int, *, distance: bool
    ) -> dict[str, torch.Tensor]:
        raise _no_pixels("probability maps")

    def loss(self, logits: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        raise _no_pixels("a pixel loss")

    def loss_from_maps(self, maps: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        raise _no_pixels("a pixel loss")

    def loss_description(self, *, distance: bool, rays: bool) -> str:
        return LOSS

    def batch_foreground(
        self, logits: torch.Tensor, targets: dict[str, torch.Tensor], n_labels: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise _no_pixels("foreground pixels")

    def foreground(self, maps: Maps) -> np.ndarray:
        raise _no_pixels("foreground pixels")

    def label_maps(self, maps: Maps, index: int) -> Maps:
        raise _no_pixels("label maps")

    def epoch_record(self, maps: Sequence[Maps], images: Sequence[Any], config: TrainConfig) -> dict:
        raise _no_pixels("per-epoch map scores")

    def score(self, record: dict) -> float | None:
        """An epoch's validation accuracy (what the engine keeps the best epoch by)."""
        return record.get("val_accuracy")

    def default_postprocess(self) -> dict:
        return {}

    def result_plane(self, maps: Maps, index: int, values: dict) -> np.ndarray:
        raise _no_pixels("result planes")

    def objects_plane(self, maps: Maps, index: int, values: dict) -> np.ndarray:
        raise _no_pixels("object planes")

    def assess(self, model: torch.nn.Module, card: dict, samples: Sequence[Any], **_: Any) -> Any:
        raise _no_pixels("an assessment of label images (its validation is score_validation)")


#: the optimiser of :func:`core.classification.train.train_classifier` (no weight decay on biases and
#: BatchNorm)
OPTIMIZER = "AdamW"


def _network_phrase(card: dict) -> str | None:
    """The classifier's network in words, from its card: the registry encoder (its smp encoder and how many
    stages), its initial weights (random, or a model it was fine-tuned from), and the head."""
    encoder, smp_name = card.get("encoder"), card.get("smp_encoder")
    if not encoder or not smp_name:
        return None
    depth = card.get("encoder_depth")
    stages = f"its first {depth} stages" if isinstance(depth, int) and depth < 5 else "all its stages"
    head = card.get("head") or "global average pooling and one linear layer to the class logits"
    return (f"a convolutional classifier: the {smp_name} encoder of segmentation_models_pytorch ({stages}; "
            f"segstudio's {encoder!r} encoder), {initialisation(card.get('start'))}, then {head}")


def _schedule_sentence() -> str:
    """How the classifier's learning rate moves over the training (:mod:`core.classification.train`)."""
    from core.classification.train import FINAL_LR_SHARE, WARMUP_SHARE

    return (f"The learning rate rose linearly over the first {WARMUP_SHARE:.0%} of the training, then "
            f"followed a cosine decay to {FINAL_LR_SHARE:.0%} of its peak at the end.")


def _sentence(text: object, prefix: str = "") -> str:
    """``prefix + text`` as one sentence ending in a full stop; "" without a text."""
    if not isinstance(text, str) or not text.strip():
        return ""
    body = prefix + text.strip()
    return body if body.endswith(".") else body + "."


def _no_pixels(what: str) -> InvalidInputError:
    return InvalidInputError(
        f"image classification has no {what}: it predicts one class per image or ROI with "
        "core.classification (train_classifier, load_classifier), not pixel maps with the segmentation engine"
    )


CLASSIFICATION = Classification()
