"""Boxes from a detection network's maps: the local maxima of each label's heat map are object centres,
their score the heat there; the height and width maps at a centre give its box.

Maps are in the image's pixels (the working scale already undone, sizes included). A centre at pixel
``(r, c)`` is the point ``(c + 0.5, r + 0.5)``; boxes are ``[x_min, y_min, x_max, y_max]`` float64.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

#: the lowest score decoded (average precision ranks every detection above it; the tuned score threshold
#: decides which are reported)
MIN_SCORE = 0.05
#: highest-scoring peaks kept per label and image before merging overlaps: this many per megapixel, at
#: least :data:`MIN_KEPT` (COCO scores 100 per image)
MAX_PER_MEGAPIXEL = 1000
MIN_KEPT = 300


def peaks(
    heat: np.ndarray, min_score: float = MIN_SCORE, *, radius: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of the local maxima of ``heat`` ``(H, W)`` at least ``min_score`` (a maximum of
    its ``2 * radius + 1`` square), highest first, at most :data:`MAX_PER_MEGAPIXEL` per megapixel (at
    least :data:`MIN_KEPT`)."""
    top = ndi.maximum_filter(heat, size=2 * radius + 1, mode="constant", cval=-1.0)
    rows, cols = np.nonzero((heat >= top) & (heat >= min_score))
    kept = max(MIN_KEPT, int(MAX_PER_MEGAPIXEL * heat.size / 1e6))
    order = np.argsort(-heat[rows, cols], kind="stable")[:kept]
    return rows[order], cols[order]


def candidates(
    heat: np.ndarray, box_h: np.ndarray, box_w: np.ndarray, *, min_score: float = MIN_SCORE
) -> tuple[np.ndarray, np.ndarray]:
    """Every peak's box ``(N, 4)`` and score ``(N,)`` of one label's heat map with the shared size maps (all
    ``(H, W)``), highest score first, before overlapping boxes are merged."""
    rows, cols = peaks(heat, min_score)
    scores = heat[rows, cols].astype(np.float64)
    h, w = box_h[rows, cols].astype(np.float64), box_w[rows, cols].astype(np.float64)
    cy, cx = rows + 0.5, cols + 0.5
    height, width = heat.shape
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).reshape(-1, 4)
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0.0, width)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0.0, height)
    return boxes, scores


def merged(boxes: np.ndarray, scores: np.ndarray, nms_iou: float) -> tuple[np.ndarray, np.ndarray]:
    """``boxes`` and ``scores`` without those overlapping a higher-scoring box by more than ``nms_iou``."""
    from core.inference.boxes import nms  # not at import time: core.inference imports the training types

    keep = nms(boxes, scores, nms_iou)
    return boxes[keep], scores[keep]


def label_boxes(
    heat: np.ndarray, box_h: np.ndarray, box_w: np.ndarray, *, nms_iou: float, min_score: float = MIN_SCORE
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(N, 4)`` and scores ``(N,)`` of one label's heat map with the shared size maps (all
    ``(H, W)``); boxes overlapping a higher-scoring one by more than ``nms_iou`` are dropped."""
    return merged(*candidates(heat, box_h, box_w, min_score=min_score), nms_iou)


def detections(maps: dict[str, np.ndarray], values: list[dict], *, min_score: float = MIN_SCORE):
    """Every label's boxes of one image's maps (``heat`` ``(L, H, W)``, ``box_h``/``box_w`` ``(1, H, W)``)
    with each label's ``nms_iou`` from ``values``: ``(boxes (N, 4), scores (N,), labels (N,))``."""
    parts = [label_boxes(maps["heat"][i], maps["box_h"][0], maps["box_w"][0], nms_iou=v["nms_iou"],
                         min_score=min_score) for i, v in enumerate(values)]
    boxes = np.concatenate([b for b, _ in parts]).reshape(-1, 4)
    scores = np.concatenate([s for _, s in parts])
    labels = np.concatenate([np.full(len(s), i, dtype=np.int64) for i, (_, s) in enumerate(parts)])
    return boxes, scores, labels
