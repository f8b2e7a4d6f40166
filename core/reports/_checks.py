"""Validation of :class:`ReportData` (once, at :func:`core.reports.build.build_report_zip`), then trust.

:func:`check_report_data` returns a cleaned copy: NaN and infinite numbers become None (shown as "n/d"),
numpy scalars become Python numbers, curves are sorted by epoch, and validation examples larger than
:data:`core.reports.images.EMBED_MAX_SIDE` are downscaled.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.errors import InvalidInputError, NotFoundError
from core.reports.data import BoxExample, ClassifiedExample, ReportData, ValidationExample
from core.reports.images import EMBED_MAX_SIDE, downscale_box_example, downscale_example, downscale_for_report
from core.training import types as training_types
from core.training.types.base import BOX_LISTS, CLASS_LISTS, LABEL_IMAGES

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def check_report_data(data: ReportData) -> ReportData:
    if not isinstance(data, ReportData):
        raise InvalidInputError(
            f"expected a ReportData, got {type(data).__name__}; build one with ReportData(...)."
        )
    for name in ("training", "dataset", "config", "metrics", "reproducibility"):
        if not isinstance(getattr(data, name), dict):
            raise InvalidInputError(
                f"ReportData.{name} must be a dict, got {type(getattr(data, name)).__name__}; "
                "pass {} if empty."
            )
    training = _clean(data.training)
    _check_training(training)
    cleaned = replace(
        data,
        training=training,
        dataset=_clean(data.dataset),
        config=_clean(data.config),
        curves=_check_curves(data.curves),
        metrics=_clean(data.metrics),
        reproducibility=_clean(data.reproducibility),
    )
    _check_dataset(cleaned.dataset)
    _check_metrics(cleaned.metrics)
    if cleaned.is_full:
        _check_full(cleaned)
        check = _EXAMPLE_CHECKS[training_types.TRAINING_TYPES[cleaned.training_type].result_kind]
        examples = [check(ex, k, cleaned) for k, ex in enumerate(data.examples)]
        _check_confusion(cleaned.metrics.get("confusion"), cleaned.label_names)
        pr_curves = _check_pr_curves(data.pr_curves, cleaned.label_names)
        model_dir = _check_model_dir(data.model_dir)
    else:  # the short report of a failed training has none of these
        examples, pr_curves, model_dir = [], [], None
    return replace(cleaned, examples=examples, pr_curves=pr_curves, model_dir=model_dir)


def _check_training(training: dict) -> None:
    name = training.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"training['name'] must be a non-empty string, got {name!r}.")
    status = str(training.get("status", "")).lower()
    if status not in STATUSES:
        raise InvalidInputError(
            f"training['status'] is {training.get('status')!r}; use one of {list(STATUSES)}."
        )
    duration = training.get("duration_s")
    if duration is not None and (not isinstance(duration, (int, float)) or duration < 0):
        raise InvalidInputError(f"training['duration_s'] must be seconds >= 0 or None, got {duration!r}.")


def _check_full(data: ReportData) -> None:
    if data.training_type not in training_types.TRAINING_TYPES:
        raise InvalidInputError(
            f"config['training_type'] is {data.config.get('training_type')!r}; "
            f"use one of {list(training_types.TRAINING_TYPES)}."
        )
    if not data.label_names:
        raise InvalidInputError(
            "the report has no labels; give dataset['labels'] as [{'name': ..., 'color': '#rrggbb'}, ...]."
        )
    for k, color in enumerate(data.label_colors):
        if not isinstance(color, str) or not _COLOR.match(color):
            raise InvalidInputError(
                f"label {data.label_names[k]!r} has colour {color!r}; use '#rrggbb', e.g. '#e6194b'."
            )


def _check_dataset(dataset: dict) -> None:
    for key in ("images", "labels"):
        value = dataset.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(item, dict) and "name" in item for item in value
        ):
            raise InvalidInputError(
                f"dataset['{key}'] must be a list of dicts, each with a 'name'; got {_preview(value)}."
            )


def _check_metrics(metrics: dict) -> None:
    for key in ("per_label", "per_image"):
        value = metrics.get(key, [])
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise InvalidInputError(
                f"metrics['{key}'] must be a list of row dicts (core.evaluation.report), "
                f"got {_preview(value)}."
            )
    if not isinstance(metrics.get("overall", {}), dict):
        raise InvalidInputError(f"metrics['overall'] must be a dict, got {_preview(metrics.get('overall'))}.")


def _check_curves(curves: object) -> list[dict]:
    if not isinstance(curves, list) or not all(isinstance(row, dict) for row in curves):
        raise InvalidInputError(f"curves must be a list of dicts, one per epoch, got {_preview(curves)}.")
    out = []
    for row in curves:
        epoch = row.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)):
            raise InvalidInputError(f"every curve row needs an integer 'epoch', got {_preview(row)}.")
        out.append(_clean(row))
    return sorted(out, key=lambda r: r["epoch"])


def _check_example(example: object, k: int, data: ReportData) -> ValidationExample:
    if not isinstance(example, ValidationExample):
        raise InvalidInputError(f"examples[{k}] must be a ValidationExample, got {type(example).__name__}.")
    where = f"validation example {example.name!r}"
    if not isinstance(example.name, str) or not example.name.strip():
        raise InvalidInputError(f"examples[{k}] has name {example.name!r}; give the image's name.")
    image = _display_image(example.image_rgb, where)
    gt, pred = np.asarray(example.gt), np.asarray(example.pred)
    n_labels = len(data.label_names)
    instance = training_types.TRAINING_TYPES[data.training_type].object_ids
    for name, arr in (("gt", gt), ("pred", pred)):
        if arr.shape[-2:] != image.shape[:2] or arr.ndim not in (2, 3):
            raise InvalidInputError(
                f"{where}: {name} has shape {arr.shape} but the image is {image.shape[:2]}; give (H, W) or "
                "(L, H, W) downscaled with the image (downscale_example does all three)."
            )
        if arr.ndim == 3 and arr.shape[0] != n_labels:
            raise InvalidInputError(
                f"{where}: {name} holds {arr.shape[0]} label(s) but the report has {n_labels} "
                f"({data.label_names}); give one (H, W) plane per label."
            )
        if instance and not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise InvalidInputError(f"{where}: {name} must be integer object labels, got dtype {arr.dtype}.")
        if not instance and arr.dtype != bool:
            if not np.issubdtype(arr.dtype, np.integer) or (arr.size and (arr.min() < 0 or arr.max() > 1)):
                raise InvalidInputError(
                    f"{where}: {name} must be bool masks for semantic training, got {arr.dtype}."
                )
    if gt.shape != pred.shape:
        raise InvalidInputError(f"{where}: gt {gt.shape} and pred {pred.shape} must have the same shape.")
    index = example.label_index
    if index is not None and (
        isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n_labels
    ):
        raise InvalidInputError(f"{where}: label_index={index!r} must be None or 0..{n_labels - 1}.")
    if gt.ndim == 2 and index is None and n_labels > 1 and not instance:
        raise InvalidInputError(
            f"{where}: a single (H, W) mask with {n_labels} labels is ambiguous; give (L, H, W) masks or set "
            "label_index."
        )
    if not instance:
        gt, pred = gt.astype(bool), pred.astype(bool)
    checked = ValidationExample(example.name, image, gt, pred, index)
    if max(image.shape[:2]) > EMBED_MAX_SIDE:
        checked = downscale_example(checked, max_side=EMBED_MAX_SIDE)
    return checked


def _check_box_example(example: object, k: int, data: ReportData) -> BoxExample:
    if not isinstance(example, BoxExample):
        raise InvalidInputError(
            f"examples[{k}] must be a BoxExample for a {data.training_type} training (its results are "
            "boxes), "
            f"got {type(example).__name__}."
        )
    where = f"validation example {example.name!r}"
    if not isinstance(example.name, str) or not example.name.strip():
        raise InvalidInputError(f"examples[{k}] has name {example.name!r}; give the image's name.")
    image = _display_image(example.image_rgb, where)
    n_labels = len(data.label_names)
    parts = {}
    for name in ("truth", "pred", "matched"):
        value = getattr(example, name)
        if not isinstance(value, (list, tuple)) or len(value) != n_labels:
            raise InvalidInputError(
                f"{where}: {name} must hold one array per label ({n_labels}: {data.label_names}), got "
                f"{_preview(value)}."
            )
        parts[name] = [np.asarray(v) for v in value]
    for label, (truth, pred, matched) in enumerate(zip(parts["truth"], parts["pred"], parts["matched"],
                                                       strict=True)):
        for name, boxes in (("truth", truth), ("pred", pred)):
            shaped = boxes.ndim == 2 and boxes.shape[1] == 4 and np.issubdtype(boxes.dtype, np.number)
            if boxes.size and not shaped:
                raise InvalidInputError(
                    f"{where}: {name} of label {data.label_names[label]!r} must be (N, 4) numbers "
                    f"[x_min, y_min, x_max, y_max], got {boxes.dtype} {boxes.shape}."
                )
        n_truth, n_pred = len(truth.reshape(-1, 4)), len(pred.reshape(-1, 4))
        ok = matched.shape == (n_pred,) and (not matched.size or (
            np.issubdtype(matched.dtype, np.integer) and matched.min() >= -1 and matched.max() < n_truth))
        if not ok:
            raise InvalidInputError(
                f"{where}: matched of label {data.label_names[label]!r} must give each of its {n_pred} "
                f"predictions the index of its true box (0..{n_truth - 1}) or -1 "
                "(core.evaluation.detection.matched_truth), got "
                f"{_preview(matched.tolist())}."
            )
    checked = BoxExample(
        example.name, image,
        [t.astype(np.float64).reshape(-1, 4) for t in parts["truth"]],
        [p.astype(np.float64).reshape(-1, 4) for p in parts["pred"]],
        [m.astype(np.int64).reshape(-1) for m in parts["matched"]],
    )
    if max(image.shape[:2]) > EMBED_MAX_SIDE:
        checked = downscale_box_example(checked, max_side=EMBED_MAX_SIDE)
    return checked


def _check_class_example(example: object, k: int, data: ReportData) -> ClassifiedExample:
    if not isinstance(example, ClassifiedExample):
        raise InvalidInputError(
            f"examples[{k}] must be a ClassifiedExample for a {data.training_type} training (its results are "
            f"classes), got {type(example).__name__}."
        )
    if not isinstance(example.name, str) or not example.name.strip():
        raise InvalidInputError(f"examples[{k}] has name {example.name!r}; give the example's name.")
    where = f"validation example {example.name!r}"
    image = _display_image(example.image_rgb, where)
    for name in ("truth", "predicted"):
        value = getattr(example, name)
        if value not in data.label_names:
            raise InvalidInputError(
                f"{where}: {name} is {value!r}; give one of the report's classes {data.label_names}."
            )
    probability = example.probability
    if isinstance(probability, bool) or not isinstance(probability, (int, float, np.floating)) or not (
            0.0 <= float(probability) <= 1.0):
        raise InvalidInputError(f"{where}: probability is {probability!r}; give a number from 0 to 1.")
    if max(image.shape[:2]) > EMBED_MAX_SIDE:
        image = downscale_for_report(image, max_side=EMBED_MAX_SIDE)
    return ClassifiedExample(example.name, image, example.truth, example.predicted, float(probability))


def _check_confusion(confusion: object, classes: list[str]) -> None:
    """``metrics['confusion']`` (classification), when present: the report's classes and two K x K
    matrices."""
    if confusion is None:
        return
    k = len(classes)
    ok = isinstance(confusion, dict) and confusion.get("classes") == classes
    for key in ("counts", "normalised"):
        matrix = confusion.get(key) if isinstance(confusion, dict) else None
        ok = ok and isinstance(matrix, list) and len(matrix) == k and all(
            isinstance(row, list) and len(row) == k for row in matrix)
    if not ok:
        raise InvalidInputError(
            f"metrics['confusion'] must be {{'classes': {classes}, 'counts': K x K, 'normalised': K x K}} "
            f"(rows: true class), got {_preview(confusion)}."
        )


#: the check of a validation example for each kind of result (label images, boxes, classes)
_EXAMPLE_CHECKS = {
    LABEL_IMAGES: _check_example,
    BOX_LISTS: _check_box_example,
    CLASS_LISTS: _check_class_example,
}


def _display_image(value: object, where: str) -> np.ndarray:
    image = np.asarray(value)
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise InvalidInputError(
            f"{where}: image_rgb must be uint8 (H, W, 3) or (H, W), got {image.dtype} {image.shape}; "
            "convert it for display first (e.g. core.imaging display conversion) and downscale it with "
            "downscale_for_report."
        )
    return image


def _check_pr_curves(curves: object, labels: list[str]) -> list[dict]:
    if not isinstance(curves, list) or not all(isinstance(c, dict) for c in curves):
        raise InvalidInputError(f"pr_curves must be a list of dicts, one per label, got {_preview(curves)}.")
    out = []
    for curve in curves:
        precision = np.asarray(curve.get("precision", []), dtype=np.float64).reshape(-1)
        recall = np.asarray(curve.get("recall", []), dtype=np.float64).reshape(-1)
        if curve.get("label") not in labels or precision.shape != recall.shape:
            raise InvalidInputError(
                f"each precision-recall curve needs a 'label' of the report ({labels}) and as many "
                f"'precision' as 'recall' values; got label {curve.get('label')!r} with {precision.size} and "
                f"{recall.size}."
            )
        out.append({**_clean({k: v for k, v in curve.items() if k not in ("precision", "recall")}),
                    "precision": precision, "recall": recall})
    return out


def _check_model_dir(model_dir: object) -> Path | None:
    if model_dir is None:
        return None
    path = Path(model_dir)  # type: ignore[arg-type]
    if not path.is_dir():
        raise NotFoundError(
            f"the model package folder {path} does not exist; pass the training's model folder."
        )
    return path


def _clean(value: object) -> object:
    """A copy with NaN / infinity -> None and numpy scalars -> Python numbers, recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
