"""A classification training's validation: the packaged classifier predicts every validation example (image
or ROI crop), then :func:`core.evaluation.classification.classification_metrics` scores it. Gives the
training's metrics (overall, per class, per example, the confusion matrix) and the misclassified examples
for the report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.classification.examples import ClassExample
from core.reports.data import ClassifiedExample
from core.reports.images import downscale_for_report
from core.training.config import TrainConfig
from core.training.types.steps import ScoredValidation

#: the overall scores a classification training is listed and compared with
OVERALL_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "top2_accuracy", "n")
#: misclassified examples drawn in the report (all are listed in metrics_per_image.csv)
MAX_MISCLASSIFIED = 24
#: longest side of a misclassified example's picture
THUMB_SIDE = 256


def classification_summary(
    metrics: dict, names: Sequence[str], rows: list[dict], train_metrics: dict
) -> dict:
    """A training's ``metrics`` from :func:`classification_metrics`'s dict: ``overall``, ``per_label`` (one
    row per class: ``label``, precision, recall, F1, support), ``per_image`` (``rows``), ``confusion``."""
    return {
        "overall": {key: metrics.get(key) for key in OVERALL_KEYS},
        "per_label": [{"label": row["class"], **{k: row[k] for k in ("precision", "recall", "f1", "support")}}
                      for row in metrics["per_class"]],
        "per_image": rows,
        "confusion": {"classes": list(names), "counts": metrics["confusion"],
                      "normalised": metrics["confusion_normalised"]},
        "training": {k: v for k, v in train_metrics.items() if k != "per_label"},
    }


def _picture(pixels: np.ndarray) -> np.ndarray:
    from core.training.report_assembly import display_rgb

    return downscale_for_report(display_rgb(np.asarray(pixels)), max_side=THUMB_SIDE)


def score_classifier(
    package_dir: Path, val: Sequence[ClassExample], config: TrainConfig, train_metrics: dict
) -> ScoredValidation:
    """Predict and score the validation examples with the package in ``package_dir``."""
    from core.classification.predict import load_classifier
    from core.evaluation.classification import classification_metrics

    classifier = load_classifier(Path(package_dir), "cpu")
    names = [lab.name for lab in config.labels]
    probabilities, rows, wrong = [], [], []
    for example in val:
        pixels = example.read()
        prediction = classifier.probabilities(pixels)
        probs = np.asarray(prediction.probabilities, dtype=np.float64)
        probabilities.append(probs)
        predicted = names[prediction.label]
        rows.append({"image": example.key, "label": names[example.label], "predicted": predicted,
                     "probability": float(probs[prediction.label]),
                     "correct": prediction.label == example.label,
                     "tiles": int(prediction.tiles),
                     **{f"p({name})": float(p) for name, p in zip(names, probs, strict=True)}})
        if prediction.label != example.label and len(wrong) < MAX_MISCLASSIFIED:
            wrong.append(ClassifiedExample(example.key, _picture(pixels), names[example.label], predicted,
                                           float(probs[prediction.label])))
    truth = [example.label for example in val]
    scores = classification_metrics(truth, np.stack(probabilities), names)
    metrics = classification_summary(scores, names, rows, train_metrics)
    metrics["input"] = classifier.describe_input()
    return ScoredValidation(_plain(metrics), wrong, [])


def _plain(value: dict) -> dict:
    """``value`` as plain JSON values (numpy numbers and arrays too), as the database stores it."""
    def convert(item: object) -> object:
        if isinstance(item, np.generic):
            return item.item()
        if isinstance(item, np.ndarray):
            return item.tolist()
        raise TypeError(f"{type(item).__name__} is not a JSON value")

    return json.loads(json.dumps(value, default=convert))
