"""Box post-processing of a detection prediction: non-maximum suppression and merging of tiles.

Boxes are float64 ``(N, 4)`` arrays ``[x_min, y_min, x_max, y_max]`` in pixels (pixel ``(r, c)`` covers
``[c, c + 1] x [r, r + 1]``), scores floats in ``[0, 1]``, labels int label indices.

A large image is predicted tile by tile. The tiles' *core* regions partition the image and each tile reads
its core plus a margin wider than the largest object, so the tile whose core holds an object's centre sees
the whole object. :func:`merge_tiles` keeps from each tile only the boxes centred in its core (a cut-off
object seen by a neighbour has its clipped centre outside that neighbour's core when the margin is wider
than the object) and then runs a per-label NMS over the union for what the model itself duplicated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import InvalidInputError
from core.evaluation import _checks
from core.evaluation.detection import as_boxes, as_labels, as_scores

Region = tuple[int, int, int, int]  # (y0, x0, y1, x1), half-open, pixels


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the boxes kept, in descending score.

    Boxes are visited in descending score (ties: the lower index first); a box is dropped when its IoU with
    a box kept before it is greater than ``iou_threshold`` (as torchvision's ``nms``).
    """
    boxes = as_boxes(boxes)
    scores = as_scores(scores, len(boxes))
    return _nms(boxes, scores, _checks.fraction(iou_threshold, "iou_threshold"))


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float | Sequence[float]
) -> np.ndarray:
    """:func:`nms` within each label independently: indices kept, in descending score (ties: lower index).

    ``iou_threshold`` is one number, or one per label index (``iou_threshold[label]``).
    """
    boxes = as_boxes(boxes)
    scores = as_scores(scores, len(boxes))
    labels = as_labels(labels, len(boxes))
    return _batched(boxes, scores, labels, _thresholds(iou_threshold, labels))


def centres_in(boxes: np.ndarray, region: Region) -> np.ndarray:
    """Whether each box's centre lies in ``region`` = ``(y0, x0, y1, x1)`` (half-open): bool ``(N,)``.

    The centre is ``((x_min + x_max) / 2, (y_min + y_max) / 2)``; with half-open regions that partition the
    image every box belongs to exactly one of them (a centre on a border goes to the region right/below).
    """
    boxes = as_boxes(boxes)
    y0, x0, y1, x1 = _region(region)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    return (cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)


def merge_tiles(
    parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, Region]],
    iou_threshold: float | Sequence[float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge the detections of overlapping tiles into one set for the image.

    ``parts``: one ``(boxes, scores, labels, core_region)`` per tile, boxes in IMAGE coordinates; the
    cores ``(y0, x0, y1, x1)`` partition the image. Each tile keeps the boxes centred in its core, then a
    per-label NMS (``iou_threshold`` as in :func:`batched_nms`) removes duplicates near seams.
    Returns ``(boxes float64 (N, 4), scores float64 (N,), labels int64 (N,))`` sorted by label, then
    descending score.
    """
    kept_boxes, kept_scores, kept_labels = [np.zeros((0, 4))], [np.zeros(0)], [np.zeros(0, dtype=np.int64)]
    for i, part in enumerate(parts):
        if len(part) != 4:
            raise InvalidInputError(
                f"tile {i} has {len(part)} parts; give (boxes, scores, labels, core_region) per tile."
            )
        boxes = as_boxes(part[0], f"tile {i}: boxes")
        scores = as_scores(part[1], len(boxes), f"tile {i}: scores")
        labels = as_labels(part[2], len(boxes), name=f"tile {i}: labels")
        inside = centres_in(boxes, part[3])
        kept_boxes.append(boxes[inside])
        kept_scores.append(scores[inside])
        kept_labels.append(labels[inside])
    boxes = np.concatenate(kept_boxes)
    scores = np.concatenate(kept_scores)
    labels = np.concatenate(kept_labels)
    keep = _batched(boxes, scores, labels, _thresholds(iou_threshold, labels))
    keep = keep[np.lexsort((-scores[keep], labels[keep]))]  # keep is in score order: lexsort is stable
    return boxes[keep], scores[keep], labels[keep]


def clip_boxes(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """A copy of ``boxes`` clipped to the image ``[0, width] x [0, height]`` (boxes outside get no area)."""
    boxes = as_boxes(boxes)
    height = _checks.size(height, "height")
    width = _checks.size(width, "width")
    out = boxes.copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out


#: above this many boxes :func:`_nms` compares each box only with the kept boxes near it (the same result)
GRID_NMS_FROM = 256


def _nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> np.ndarray:
    """Greedy suppression in score order: one IoU matrix of all the boxes for a few, a grid index for many
    (:func:`_grid_nms`)."""
    if len(boxes) > GRID_NMS_FROM:
        return _grid_nms(boxes, scores, thr)
    order = np.argsort(-scores, kind="stable")
    ranked = boxes[order]
    over = _iou_rows(ranked, ranked) > thr
    alive = np.ones(len(order), dtype=bool)
    for i in range(len(order)):
        if alive[i]:
            row = over[i]
            row[: i + 1] = False
            alive &= ~row
    return order[alive].astype(np.int64)


def _iou_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` with every box of ``b`` (both already checked)."""
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _grid_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> np.ndarray:
    """The greedy NMS of :func:`_nms` for many boxes (a whole-slide image's): the boxes are indexed by the
    cells of a square grid they cover (boxes that overlap share the cell holding a point of their
    intersection); each box kept, in descending score, suppresses the boxes still alive in its cells. The
    work grows with the boxes kept times their neighbours, not with the square of all boxes."""
    n = len(boxes)
    order = np.argsort(-scores, kind="stable")
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    cell = max(2.0 * float(np.median(sides)), float(sides.max()) / 8, 1.0)  # a box covers <= 10 x 10 cells
    lo = np.floor(boxes[:, :2] / cell).astype(np.int64)  # (col, row) of the cell of (x_min, y_min)
    span = np.floor(boxes[:, 2:] / cell).astype(np.int64) - lo + 1  # cells covered across, down
    lo -= lo.min(axis=0)
    per = span[:, 0] * span[:, 1]
    owner = np.repeat(np.arange(n), per)
    k = np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)  # the cell's number within its box
    cols = lo[owner, 0] + k % span[owner, 0]
    rows = lo[owner, 1] + k // span[owner, 0]
    keys = rows * (int(cols.max()) + 1) + cols  # each box's cells, box after box
    by_key = np.argsort(keys, kind="stable")
    sorted_keys, sorted_owner = keys[by_key], owner[by_key]
    starts = np.cumsum(per) - per
    alive = np.ones(n, dtype=bool)
    keep = []
    for i in order:
        if not alive[i]:
            continue
        keep.append(i)
        alive[i] = False
        mine = keys[starts[i] : starts[i] + per[i]]
        left = np.searchsorted(sorted_keys, mine, "left")
        right = np.searchsorted(sorted_keys, mine, "right")
        near = np.concatenate([sorted_owner[a:b] for a, b in zip(left, right, strict=True)])
        near = near[alive[near]]
        if near.size:
            alive[near[_iou_one(boxes[i], boxes[near]) > thr]] = False
    return np.asarray(keep, dtype=np.int64)


def _iou_one(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one box with each of ``others`` (as :func:`~core.evaluation.detection.box_iou`: boxes without
    area have IoU 0), without re-checking boxes already checked."""
    w = np.maximum(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0.0)
    h = np.maximum(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0.0)
    inter = w * h
    area = max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)
    areas = np.maximum(others[:, 2] - others[:, 0], 0.0) * np.maximum(others[:, 3] - others[:, 1], 0.0)
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=(union > 0) & (area > 0) & (areas > 0))


def _batched(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, thresholds: dict) -> np.ndarray:
    keep = [np.zeros(0, dtype=np.int64)]
    for label, thr in thresholds.items():
        idx = np.flatnonzero(labels == label)
        keep.append(idx[_nms(boxes[idx], scores[idx], thr)])
    kept = np.concatenate(keep)
    return kept[np.lexsort((kept, -scores[kept]))]


def _thresholds(iou_threshold: float | Sequence[float], labels: np.ndarray) -> dict[int, float]:
    """The IoU threshold of each label present in ``labels``."""
    present = [int(v) for v in np.unique(labels)]
    if np.ndim(iou_threshold) == 0:
        thr = _checks.fraction(iou_threshold, "iou_threshold")
        return dict.fromkeys(present, thr)
    per_label = list(iou_threshold)  # type: ignore[arg-type]
    if present and present[-1] >= len(per_label):
        raise InvalidInputError(
            f"iou_threshold gives {len(per_label)} value(s) but label index {present[-1]} occurs; "
            "give one threshold per label, or a single number for all."
        )
    return {label: _checks.fraction(per_label[label], f"iou_threshold[{label}]") for label in present}


def _region(region: object) -> tuple[float, float, float, float]:
    try:
        y0, x0, y1, x1 = (float(v) for v in region)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"region must be (y0, x0, y1, x1) in pixels, got {region!r}."
        ) from None
    if y1 < y0 or x1 < x0:
        raise InvalidInputError(f"region {region!r} has y1 < y0 or x1 < x0; give (y0, x0, y1, x1).")
    return y0, x0, y1, x1
