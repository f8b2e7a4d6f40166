"""Tables for the report: per-image and per-label rows (lists of plain dicts) from per-image counts.

Inputs are the counts the evaluation collected per image (counts add up, so every table is a sum of
counts reduced once):

- ``pixel``: ``{image name: int (L, 4) array}`` from :func:`core.evaluation.pixel.pixel_counts`;
- ``instance``: ``{image name: [InstanceCounts per label]}`` from
  :func:`core.evaluation.instance.match_instances`.

Columns: ``image`` (per-image rows), ``label``, then pixel scores ``pixel_iou``, ``pixel_dice``,
``pixel_precision``, ``pixel_recall``, ``pixel_accuracy`` and, for instance counts, ``n_gt``, ``n_pred``,
``tp``, ``fp``, ``fn`` (at IoU 0.5), ``precision``, ``recall``, ``f1``, ``mean_matched_iou``, ``ap_50``,
``ap_75``, ``mean_ap``. Undefined scores are None (show them as "n/a").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from core.errors import InvalidInputError
from core.evaluation.instance import THRESHOLDS, InstanceCounts, instance_scores
from core.evaluation.pixel import SCORE_NAMES, pixel_scores

#: Name of the row that sums every label (see :func:`label_rows`).
ALL_LABELS = "all labels"
PIXEL_COLUMNS = tuple(f"pixel_{name}" for name in SCORE_NAMES)
INSTANCE_COLUMNS = (
    "n_gt", "n_pred", "tp", "fp", "fn", "precision", "recall", "f1", "mean_matched_iou", "ap_50", "ap_75",
    "mean_ap",
)  # fmt: skip

PixelCounts = Mapping[str, np.ndarray]
InstanceCountsByImage = Mapping[str, Sequence[InstanceCounts]]


def image_rows(
    labels: Sequence[str], *, pixel: PixelCounts | None = None, instance: InstanceCountsByImage | None = None
) -> list[dict]:
    """One row per (image, label), images in the order given, then labels in the order given."""
    pixel, instance, images = _check_report_inputs(labels, pixel, instance)
    rows = []
    for image in images:
        pixel_part = _pixel_columns(pixel[image]) if pixel is not None else None
        for k, label in enumerate(labels):
            row: dict = {"image": image, "label": label}
            if pixel_part is not None:
                row.update(pixel_part[k])
            if instance is not None:
                row.update(_instance_columns(instance[image][k]))
            rows.append(row)
    return rows


def label_rows(
    labels: Sequence[str],
    *,
    pixel: PixelCounts | None = None,
    instance: InstanceCountsByImage | None = None,
    overall: bool = True,
) -> list[dict]:
    """One row per label with the counts of all images summed, then reduced.

    With ``overall`` and more than one label, a last row :data:`ALL_LABELS` sums the counts of every label
    too (micro average: each pixel and each object weighs the same).
    """
    pixel, instance, images = _check_report_inputs(labels, pixel, instance)
    pixel_total = sum(pixel[image] for image in images) if pixel is not None else None
    instance_total = (
        [sum((instance[image][k] for image in images), InstanceCounts()) for k in range(len(labels))]
        if instance is not None
        else None
    )
    rows = []
    for k, label in enumerate(labels):
        row: dict = {"label": label}
        if pixel_total is not None:
            row.update(_pixel_columns(pixel_total[k : k + 1])[0])
        if instance_total is not None:
            row.update(_instance_columns(instance_total[k]))
        rows.append(row)
    if overall and len(labels) > 1:
        row = {"label": ALL_LABELS}
        if pixel_total is not None:
            row.update(_pixel_columns(pixel_total.sum(axis=0, keepdims=True))[0])
        if instance_total is not None:
            row.update(_instance_columns(sum(instance_total, InstanceCounts())))
        rows.append(row)
    return rows


def _pixel_columns(counts: np.ndarray) -> list[dict]:
    return [{f"pixel_{name}": scores[name] for name in SCORE_NAMES} for scores in pixel_scores(counts)]


def _instance_columns(counts: InstanceCounts) -> dict:
    s = instance_scores(counts)
    out = {name: s[name] for name in INSTANCE_COLUMNS if name in s}
    out["ap_50"] = s["ap"][THRESHOLDS.index(0.5)]
    out["ap_75"] = s["ap"][THRESHOLDS.index(0.75)]
    return {name: out[name] for name in INSTANCE_COLUMNS}


def _check_report_inputs(
    labels: Sequence[str], pixel: PixelCounts | None, instance: InstanceCountsByImage | None
) -> tuple[dict[str, np.ndarray] | None, dict[str, list[InstanceCounts]] | None, list[str]]:
    if isinstance(labels, str) or len(labels) == 0:
        raise InvalidInputError(f"labels must be a non-empty list of label names, got {labels!r}.")
    if pixel is None and instance is None:
        raise InvalidInputError("pass pixel counts, instance counts or both; got neither.")
    n_labels = len(labels)
    pixel_out = instance_out = None
    images: list[str] = []
    if pixel is not None:
        pixel_out = {}
        for image, counts in pixel.items():
            arr = np.asarray(counts)
            if arr.shape != (n_labels, 4) or not np.issubdtype(arr.dtype, np.integer):
                raise InvalidInputError(
                    f"pixel counts of image {image!r} have shape {arr.shape} and dtype {arr.dtype}; expected "
                    f"integers of shape ({n_labels}, 4), one row per label (from pixel_counts)."
                )
            pixel_out[image] = arr.astype(np.int64)
        images = list(pixel_out)
    if instance is not None:
        instance_out = {}
        for image, per_label in instance.items():
            items = list(per_label)
            if len(items) != n_labels or not all(isinstance(c, InstanceCounts) for c in items):
                raise InvalidInputError(
                    f"instance counts of image {image!r} must be {n_labels} InstanceCounts, one per label; "
                    f"got {len(items)} item(s)."
                )
            instance_out[image] = items
        if pixel_out is not None and set(instance_out) != set(pixel_out):
            only_pixel = sorted(set(pixel_out) - set(instance_out))
            only_instance = sorted(set(instance_out) - set(pixel_out))
            raise InvalidInputError(
                f"pixel and instance counts cover different images: only pixel {only_pixel}, "
                f"only instance {only_instance}; give both for the same images."
            )
        if not images:
            images = list(instance_out)
    return pixel_out, instance_out, images
