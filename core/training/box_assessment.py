"""Detection's assessment of a trained model on images with true boxes: after training (the validation
images), for a rebuilt report and for `segstudio evaluate` (the detection entry's
:meth:`~core.training.types.base.TrainingType.assess`).

Each image is predicted whole with the card's views (:func:`core.training.predict.predict_maps`, tiled when
large), its boxes decoded with each label's tuned box merging and kept down to
:data:`core.detection.decode.MIN_SCORE` (average precision ranks them all), true and predicted boxes whose
centre lies outside the image's valid area left out, as in training (:mod:`core.detection.scoring`).
Precision, recall, F1 and TP / FP / FN count the boxes at or above the label's score threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from core.detection import scoring
from core.evaluation.detection import average_precision, counts_at, label_metrics, matched_truth, mean_ap
from core.reports import BoxExample, downscale_box_example
from core.training.predict import predict_maps
from core.training.validation import ValImage

if TYPE_CHECKING:
    from core.training.assessment import Sample
    from core.training.types.base import TrainingType

#: the IoU at which the counts, the precision-recall curves and the pictures match boxes
MATCH_IOU = 0.5
#: predicted boxes (N, 4), their scores (N,), true boxes (M, 4)
Item = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class BoxAssessment:
    """The boxes of every assessed image: ``items[image][label]`` is ``(predicted boxes, scores, true
    boxes)`` (boxes ``[x_min, y_min, x_max, y_max]``, all predictions down to the lowest decoded score);
    ``params`` the post-processing per label (``score_threshold``, ``nms_iou``)."""

    labels: list[str]
    training_type: str
    params: list[dict]
    items: dict[str, list[Item]] = field(default_factory=dict)

    def label_items(self, index: int) -> list[Item]:
        """Label ``index``'s ``(pred, scores, truth)`` of every image, in the order they were assessed."""
        return [per_label[index] for per_label in self.items.values()]

    def threshold(self, index: int) -> float:
        return float(self.params[index]["score_threshold"])

    def per_label(self) -> list[dict]:
        """One row per label: ``ap_50``, ``ap_75``, ``ap_50_95``, and at the label's score threshold
        ``precision``, ``recall``, ``f1``, ``tp``, ``fp``, ``fn``, ``n_gt`` (true boxes), ``n_pred``
        (predicted boxes)."""
        return [{"label": name, **_row(label_metrics(self.label_items(i), self.threshold(i)))}
                for i, name in enumerate(self.labels)]

    def per_image(self) -> list[dict]:
        """One row per image and label: true and predicted boxes and their matches (``n_gt``, ``n_pred``,
        ``tp``, ``fp``, ``fn``, ``precision``, ``recall``, ``f1``)."""
        rows = []
        for image, per_label in self.items.items():
            for i, name in enumerate(self.labels):
                counts = counts_at([per_label[i]], self.threshold(i), MATCH_IOU)
                rows.append({"image": image, "label": name, **_row(counts)})
        return rows

    def overall(self) -> dict:
        """``map_50`` and ``map_50_95`` (means over the labels with true boxes), ``mean_f1`` (mean of the
        labels' F1, the number the package was scored by) and ``precision``, ``recall``, ``f1`` of all
        labels' boxes together."""
        per_label = self.per_label()
        f1s = [row["f1"] for row in per_label if row["f1"] is not None]
        tp, fp, fn = (sum(row[k] for row in per_label) for k in ("tp", "fp", "fn"))
        return {
            **mean_ap(per_label),
            "mean_f1": float(np.mean(f1s)) if f1s else None,
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
            "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
        }

    def pr_curves(self) -> list[dict]:
        """Per label, the precision-recall curve at IoU 0.5 (:func:`average_precision`): ``label``, ``ap``,
        ``precision``, ``recall``, ``scores`` (one value per prediction ranked by score), ``n_truth``,
        ``score_threshold`` and ``operating_point`` ``(recall, precision)`` at that threshold."""
        out = []
        for i, name in enumerate(self.labels):
            items = self.label_items(i)
            curve = average_precision(items, MATCH_IOU)
            at = counts_at(items, self.threshold(i), MATCH_IOU)
            out.append({"label": name, "ap": curve.ap, "precision": curve.precision, "recall": curve.recall,
                        "scores": curve.scores, "n_truth": curve.n_truth,
                        "score_threshold": self.threshold(i),
                        "operating_point": (at["recall"], at["precision"])})
        return out

    def example(self, sample: Sample, rgb: np.ndarray) -> BoxExample | None:
        """The validation picture of ``sample`` (``rgb``: its display picture): per label the true boxes, the
        predicted boxes at or above the score threshold and what each matched at IoU 0.5."""
        per_label = self.items.get(sample.name)
        if per_label is None:
            return None
        truth, pred, matched = [], [], []
        for i, (boxes, scores, true_boxes) in enumerate(per_label):
            keep = scores >= self.threshold(i)
            truth.append(true_boxes)
            pred.append(boxes[keep])
            matched.append(matched_truth(boxes[keep], scores[keep], true_boxes, MATCH_IOU))
        return downscale_box_example(BoxExample(sample.name, rgb, truth, pred, matched))


def assess_boxes(
    kind: TrainingType,
    model: torch.nn.Module,
    card: dict,
    samples: Sequence[Sample],
    *,
    on_image: Callable[[int, int], None] | None = None,
) -> BoxAssessment:
    """Predict and decode every sample's boxes with the card's post-processing (its type's defaults where
    the card has none) and keep them with the true boxes (the sample's exact ``boxes``, else the boxes of
    its painted planes)."""
    labels = [lab["name"] for lab in card["labels"]]
    recorded = card.get("postprocess") or [{} for _ in labels]
    params = [{**kind.default_postprocess(), **{k: v for k, v in p.items() if v is not None}}
              for p in recorded]
    result = BoxAssessment(labels=labels, training_type=card["training_type"], params=params)
    for index, sample in enumerate(samples):
        maps = predict_maps(model, card, sample.pixels)
        hw = sample.pixels.shape[-2:]
        valid = np.ones(hw, dtype=bool) if sample.valid is None else np.asarray(sample.valid, dtype=bool)
        image = ValImage(sample.name, sample.pixels, sample.truth, valid, list(sample.boxes))
        result.items[sample.name] = [
            (*scoring.predicted(maps, i, float(params[i]["nms_iou"]), valid), scoring.truth_boxes(image, i))
            for i in range(len(labels))
        ]
        if on_image:
            on_image(index + 1, len(samples))
    return result


def _row(metrics: dict) -> dict:
    """A metrics dict with the object counts under the names the tables share (``n_gt``, ``n_pred``)."""
    out = {k: v for k, v in metrics.items() if k not in ("n_truth", "n_pred")}
    return {**out, "n_gt": metrics["n_truth"], "n_pred": metrics["n_pred"]}
