"""The post-processing search and the final metrics of the pixel types (semantic and instance
segmentation): what :meth:`~core.training.types.base.TrainingType.tune_and_score` and
:meth:`~core.training.types.base.TrainingType.final_metrics` do unless a type answers otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.evaluation.instance import InstanceCounts, instance_scores, match_instances
from core.evaluation.pixel import pixel_counts, pixel_scores
from core.evaluation.tuning import tune_postprocessing

if TYPE_CHECKING:
    from core.training.config import TrainConfig
    from core.training.types.base import Maps, TrainingType


def tune_and_score(
    kind: TrainingType, maps: Sequence[Maps], images: Sequence[Any], config: TrainConfig, *, tune: bool
) -> tuple[list[dict], dict]:
    """Post-processing values per label tuned on the maps (defaults when ``tune`` is off) and the final
    metrics with them."""
    from core.training.types.base import label_items

    params: list[dict] = []
    for i, lab in enumerate(config.labels):
        items = label_items(kind, maps, images, i)
        values, score = (
            tune_postprocessing(items, mode=kind.search_mode, grid=kind.tuning_grid)
            if tune else (kind.default_postprocess(), None)
        )
        params.append({"label_id": lab.id, "label": lab.name, **values, "tuned_score": score})
    return params, final_metrics(kind, maps, images, config, params)


def final_metrics(
    kind: TrainingType, maps: Sequence[Maps], images: Sequence[Any], config: TrainConfig, params: list[dict]
) -> dict:
    """Per-label pixel (and, for object types, instance) scores with the given post-processing."""
    counts = np.zeros((config.n_labels, 4), dtype=np.int64)
    inst = [InstanceCounts() for _ in range(config.n_labels)]
    for m, im in zip(maps, images, strict=True):
        preds = [kind.result_plane(m, i, params[i]) for i in range(config.n_labels)]
        if kind.object_metrics:
            for i, pred in enumerate(preds):
                inst[i] = inst[i] + match_instances(pred, im.labels[i], im.valid)
        pred_masks, gt = kind.plane_foreground(np.stack(preds)), kind.truth_foreground(im.labels)
        counts += pixel_counts(pred_masks, gt, im.valid)
    per_label = []
    for i, (lab, scores) in enumerate(zip(config.labels, pixel_scores(counts), strict=True)):
        entry = {"label_id": lab.id, "label": lab.name, "pixel": scores}
        if kind.object_metrics:
            entry["instance"] = instance_scores(inst[i])
        per_label.append(entry)
    ious = [e["pixel"]["iou"] for e in per_label if e["pixel"]["iou"] is not None]
    out = {"per_label": per_label, "mean_iou": float(np.mean(ious)) if ious else None}
    if kind.object_metrics:
        f1s = [e["instance"]["f1"] for e in per_label if e["instance"]["f1"] is not None]
        out["mean_f1"] = float(np.mean(f1s)) if f1s else None
    return out
