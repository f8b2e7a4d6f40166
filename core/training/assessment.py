"""Score a trained model on images with ground truth: per-image counts, predictions, table rows.

Used after training (validation set, report), for a rebuilt report and by `segstudio evaluate` on a folder
of images with masks or boxes. :func:`assess` asks the model's training type
(:meth:`~core.training.types.base.TrainingType.assess`); the pixel types' assessment is here
(:func:`assess_label_images`), detection's in :mod:`core.training.box_assessment`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.evaluation.instance import InstanceCounts, instance_scores, match_instances
from core.evaluation.pixel import pixel_counts, pixel_scores
from core.evaluation.postprocess import POSTPROCESS_DEFAULTS
from core.evaluation.report import image_rows, label_rows
from core.reports import ValidationExample, downscale_example
from core.training.predict import predict_maps
from core.training.types import TrainingType, training_type


@dataclass
class Sample:
    """An image with ground truth: pixels (C, H, W); truth (L, H, W) int instance ids (instance models and
    detection: each box painted with its own id) or bool masks (semantic); valid (H, W) bool or None;
    boxes: the exact true boxes ``(label index, y0, x0, y1, x1)`` where the source has them (detection
    scores those rather than the painted planes)."""

    name: str
    pixels: np.ndarray
    truth: np.ndarray
    valid: np.ndarray | None = None
    boxes: list = field(default_factory=list)


@dataclass
class Assessment:
    labels: list[str]
    training_type: str
    pixel: dict[str, np.ndarray] = field(default_factory=dict)  # image -> (L, 4) counts
    instance: dict[str, list[InstanceCounts]] = field(default_factory=dict)  # image -> per label
    predictions: dict[str, np.ndarray] = field(default_factory=dict)  # image -> (L, H, W) labels or masks

    def per_label(self) -> list[dict]:
        return label_rows(self.labels, pixel=self.pixel or None, instance=self.instance or None)

    def per_image(self) -> list[dict]:
        return image_rows(self.labels, pixel=self.pixel or None, instance=self.instance or None)

    def overall(self) -> dict:
        """Headline numbers: mean foreground IoU over labels; instance F1@0.5 and mean AP summed over labels."""
        total = sum(self.pixel.values()) if self.pixel else None
        out: dict = {}
        if total is not None:
            ious = [s["iou"] for s in pixel_scores(total) if s["iou"] is not None]
            accs = [s["accuracy"] for s in pixel_scores(total) if s["accuracy"] is not None]
            out["iou"] = float(np.mean(ious)) if ious else None
            out["accuracy"] = float(np.mean(accs)) if accs else None
        if self.instance:
            summed = sum((c for counts in self.instance.values() for c in counts), InstanceCounts())
            scores = instance_scores(summed)
            out.update(f1=scores["f1"], precision=scores["precision"], recall=scores["recall"],
                       mean_ap=scores["mean_ap"], mean_matched_iou=scores["mean_matched_iou"])
        return out

    def example(self, sample: Sample, rgb: np.ndarray) -> ValidationExample | None:
        """The validation picture of ``sample`` (``rgb``: its display picture (H, W, 3)): ground truth and
        prediction as label images, downscaled for the report; None when its prediction was not kept."""
        pred = self.predictions.get(sample.name)
        if pred is None:
            return None
        return downscale_example(ValidationExample(sample.name, rgb, sample.truth, pred))

    def pr_curves(self) -> list[dict]:
        """Precision-recall curves per label (label images have none)."""
        return []


def postprocess(maps: dict[str, np.ndarray], card: dict) -> np.ndarray:
    """Labels (L, H, W) int32 (instance) or bool masks (semantic) with the card's post-processing values."""
    kind = training_type(card["training_type"])
    params = card.get("postprocess") or [{} for _ in card["labels"]]
    planes = []
    for i in range(len(card["labels"])):
        p = {**POSTPROCESS_DEFAULTS, **{k: v for k, v in params[i].items() if v is not None}}
        planes.append(kind.result_plane(maps, i, {**p, "min_size": int(p["min_size"])}))
    return np.stack(planes)


def assess(
    model: torch.nn.Module,
    card: dict,
    samples: Sequence[Sample],
    *,
    on_image: Callable[[int, int], None] | None = None,
    keep_predictions: bool = True,
):  # the training type's assessment (see TrainingType.assess)
    """Score ``model`` on ``samples`` as its training type does (``on_image(done, total)`` after each)."""
    return training_type(card["training_type"]).assess(model, card, samples, on_image=on_image,
                                                       keep_predictions=keep_predictions)


def assess_label_images(
    kind: TrainingType,
    model: torch.nn.Module,
    card: dict,
    samples: Sequence[Sample],
    *,
    on_image: Callable[[int, int], None] | None = None,
    keep_predictions: bool = True,
) -> Assessment:
    """The pixel types' assessment: each sample's label images with the card's post-processing, pixel
    counts per label and, for types that match objects, object matches."""
    labels = [lab["name"] for lab in card["labels"]]
    result = Assessment(labels=labels, training_type=card["training_type"])
    for index, sample in enumerate(samples):
        maps = predict_maps(model, card, sample.pixels)
        pred = postprocess(maps, card)
        if kind.object_metrics:
            result.instance[sample.name] = [match_instances(pred[i], sample.truth[i], sample.valid)
                                            for i in range(len(labels))]
        result.pixel[sample.name] = pixel_counts(
            kind.plane_foreground(pred), kind.truth_foreground(sample.truth), sample.valid
        )
        if keep_predictions:
            result.predictions[sample.name] = pred
        if on_image:
            on_image(index + 1, len(samples))
    return result
