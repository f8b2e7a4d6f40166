"""Detection scores on validation images: boxes decoded from each image's maps, matched to the true boxes
(COCO-style average precision, :mod:`core.evaluation.detection`), the box-merging IoU and the score
threshold tuned per label.

Images are the engine's :class:`~core.training.validation.ValImage`: their exact true boxes
(``boxes``: ``(label, y0, x0, y1, x1)``) when the source has them, else the boxes of the painted planes;
true and predicted boxes whose centre lies outside the valid area (outside the ROIs) are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core.detection.decode import candidates, merged
from core.detection.targets import plane_boxes
from core.evaluation.detection import (
    average_precision,
    best_score_threshold,
    centres_inside,
    counts_at,
    label_metrics,
    mean_ap,
)

#: box-merging IoUs searched after training (per label, by AP at IoU 0.5)
NMS_GRID = (0.3, 0.4, 0.5, 0.6, 0.7)
DEFAULT_VALUES = {"score_threshold": 0.3, "nms_iou": 0.5}
Maps = dict[str, np.ndarray]
Item = tuple[np.ndarray, np.ndarray, np.ndarray]  # predicted boxes, their scores, true boxes


def truth_boxes(image: Any, index: int) -> np.ndarray:
    """``(N, 4)`` true boxes of label ``index`` of a validation image, inside its valid area."""
    if getattr(image, "boxes", None):
        rows = [(x0, y0, x1, y1) for lab, y0, x0, y1, x1 in image.boxes if lab == index]
        boxes = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    else:
        boxes = plane_boxes(image.labels[index])
    return boxes[centres_inside(boxes, image.valid)]


def predicted(maps: Maps, index: int, nms_iou: float, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label ``index``'s boxes and scores of one image's maps, merged at ``nms_iou``, inside the valid
    area."""
    boxes, scores = candidates(maps["heat"][index], maps["box_h"][0], maps["box_w"][0])
    inside = centres_inside(boxes, valid)
    return merged(boxes[inside], scores[inside], nms_iou)


def label_candidates(maps: Sequence[Maps], images: Sequence[Any], index: int) -> list[Item]:
    """``(candidate boxes, their scores, true boxes)`` of label ``index`` per image, inside the valid
    area, before overlapping boxes are merged (merging is the only step the tuning varies)."""
    out = []
    for m, im in zip(maps, images, strict=True):
        boxes, scores = candidates(m["heat"][index], m["box_h"][0], m["box_w"][0])
        inside = centres_inside(boxes, im.valid)
        out.append((boxes[inside], scores[inside], truth_boxes(im, index)))
    return out


def merge_items(items: Sequence[Item], nms_iou: float) -> list[Item]:
    """The items with each image's overlapping boxes merged at ``nms_iou``."""
    return [(*merged(boxes, scores, nms_iou), truth) for boxes, scores, truth in items]


def label_items(maps: Sequence[Maps], images: Sequence[Any], index: int, nms_iou: float) -> list[Item]:
    """``(pred boxes, scores, true boxes)`` of label ``index`` per image."""
    return merge_items(label_candidates(maps, images, index), nms_iou)


def epoch_scores(maps: Sequence[Maps], images: Sequence[Any], n_labels: int, prefix: str = "val") -> dict:
    """An epoch's ``<prefix>_map50`` (mean AP at IoU 0.5 over labels with true boxes, default merging) and
    precision, recall and F1 at each label's best score threshold, averaged over labels."""
    aps, prec, rec, f1s = [], [], [], []
    for i in range(n_labels):
        items = label_items(maps, images, i, DEFAULT_VALUES["nms_iou"])
        curve = average_precision(items, 0.5)
        if curve.ap is None:
            continue
        aps.append(curve.ap)
        threshold, _ = best_score_threshold(items, 0.5)
        counts = counts_at(items, threshold, 0.5)
        for out, key in ((prec, "precision"), (rec, "recall"), (f1s, "f1")):
            if counts[key] is not None:
                out.append(counts[key])
    mean = lambda xs: float(np.mean(xs)) if xs else None  # noqa: E731
    return {f"{prefix}_map50": mean(aps), f"{prefix}_precision": mean(prec), f"{prefix}_recall": mean(rec),
            f"{prefix}_f1": mean(f1s)}


def tune(maps: Sequence[Maps], images: Sequence[Any], labels: Sequence[Any], *, tune: bool = True,
         grid: Sequence[float] = NMS_GRID) -> list[dict]:
    """Per label: the merging IoU with the best AP at IoU 0.5, then the score threshold with the best F1
    (``tuned_score``: that AP). Without tuning, :data:`DEFAULT_VALUES`."""
    params = []
    for i, lab in enumerate(labels):
        head = {"label_id": lab.id, "label": lab.name}
        if not tune:
            params.append({**head, **DEFAULT_VALUES, "tuned_score": None})
            continue
        found = label_candidates(maps, images, i)
        best: tuple[float, float] | None = None
        for iou in grid:
            ap = average_precision(merge_items(found, iou), 0.5).ap
            if ap is not None and (best is None or ap > best[0]):
                best = (ap, iou)
        if best is None:  # no true box of this label in the validation images
            params.append({**head, **DEFAULT_VALUES, "tuned_score": None})
            continue
        threshold, _ = best_score_threshold(merge_items(found, best[1]), 0.5)
        params.append({**head, "score_threshold": float(threshold), "nms_iou": float(best[1]),
                       "tuned_score": float(best[0])})
    return params


def final_metrics(
    maps: Sequence[Maps], images: Sequence[Any], labels: Sequence[Any], params: list[dict]
) -> dict:
    """Per-label detection metrics (AP at IoU 0.5, 0.75 and 0.5:0.95; precision, recall, F1 and counts at the
    label's score threshold), their means, and true vs predicted object counts per image and label."""
    per_label = []
    counts: list[dict] = [{"image": im.key} for im in images]
    for i, lab in enumerate(labels):
        items = label_items(maps, images, i, params[i]["nms_iou"])
        threshold = params[i]["score_threshold"]
        per_label.append({"label_id": lab.id, "label": lab.name, "detection": label_metrics(items, threshold)})
        for row, (_, scores, truth) in zip(counts, items, strict=True):
            row[lab.name] = {"true": len(truth), "predicted": int((scores >= threshold).sum())}
    means = mean_ap([e["detection"] for e in per_label])
    f1s = [e["detection"]["f1"] for e in per_label if e["detection"].get("f1") is not None]
    return {"per_label": per_label, **means, "mean_f1": float(np.mean(f1s)) if f1s else None,
            "counts_per_image": counts}
