"""Object detection metrics (COCO style): box IoU, greedy matching, precision-recall curves and AP.

Boxes are float64 ``(N, 4)`` arrays ``[x_min, y_min, x_max, y_max]`` in image pixel coordinates, where
pixel ``(r, c)`` covers ``[c, c + 1] x [r, r + 1]`` (a box over columns 10..19 has ``x_min = 10``,
``x_max = 20``). Scores are floats in ``[0, 1]``.

Matching follows pycocotools (``COCOeval.evaluateImg``): predictions in descending score (ties keep their
order), each matched to the not-yet-matched truth box of highest IoU >= the threshold (ties go to the lower
truth index; pycocotools takes the last one, which changes the counts only in contrived cases). Unlike
COCO there are no "crowd" boxes, area ranges or a cap on detections per image. Only overlapping pairs are
kept, so images with many thousands of boxes are matched without an ``N x M`` matrix in memory.

The functions of one label take ``images``: a sequence of ``(pred_boxes, pred_scores, truth_boxes)``, one
per image, for that label (:func:`by_label` splits multi-label data). AP pools every image's predictions
sorted by score and samples the monotone precision envelope at recall 0, 0.01, ..., 1 (COCO's 101 points,
the same ``np.linspace`` values): on random cases it equals pycocotools' bbox AP (area "all", no detection
cap) to rounding.
Because matching is greedy in score order, the matches of the predictions above a score threshold are the
first matches of the full ranking, so one pass gives the counts at every threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import InvalidInputError
from core.evaluation import _checks

#: IoU thresholds of COCO's AP@[.50:.95]: 0.50, 0.55, ..., 0.95.
IOU_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
#: Recall points of COCO's interpolated AP: 0, 0.01, ..., 1.
RECALL_POINTS: np.ndarray = np.linspace(0.0, 1.0, 101)
#: Score threshold returned by :func:`best_score_threshold` when there is nothing to choose from.
DEFAULT_SCORE_THRESHOLD = 0.5

_TOLERANCE = 1e-9  # an IoU that equals the threshold up to rounding reaches it
_BLOCK_PAIRS = 1 << 22  # (prediction, truth) pairs per block of the IoU computation

Image = tuple[np.ndarray, np.ndarray, np.ndarray]  # (pred_boxes, pred_scores, truth_boxes) of one label
Overlaps = tuple[np.ndarray, np.ndarray, np.ndarray, int]  # sparse IoUs: indptr, truth indices, IoUs, n truth


@dataclass(frozen=True, eq=False)
class PRCurve:
    """The precision-recall curve of one label at one IoU threshold, and its AP.

    ``precision``, ``recall`` and ``scores`` have one entry per prediction, in descending score: the
    precision and recall of keeping the predictions down to that one. ``ap`` is COCO's 101-point AP, None
    when there is no truth box (AP undefined), 0.0 when there are truth boxes but no prediction.
    """

    ap: float | None
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    n_truth: int
    iou_threshold: float


def as_boxes(value: object, name: str = "boxes") -> np.ndarray:
    """``value`` as a float64 ``(N, 4)`` box array; checks it is finite with ``x_min <= x_max`` and
    ``y_min <= y_max``."""
    arr = np.asarray(value)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InvalidInputError(f"{name} must be numeric pixel coordinates, got dtype {arr.dtype}.")
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InvalidInputError(
            f"{name} must be an (N, 4) array of [x_min, y_min, x_max, y_max], got shape {arr.shape}; "
            "pass one row per box (reshape a single box with np.reshape(box, (1, 4)))."
        )
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"{name} contains NaN or infinite coordinates; drop those boxes first.")
    bad = np.flatnonzero((arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1]))
    if len(bad):
        raise InvalidInputError(
            f"{name} row {bad[0]} is {arr[bad[0]].tolist()}: x_max < x_min or y_max < y_min; "
            "boxes are [x_min, y_min, x_max, y_max] (not [x, y, width, height] or [y, x, ...])."
        )
    return arr


def as_scores(value: object, n: int, name: str = "scores") -> np.ndarray:
    """``value`` as a float64 ``(n,)`` array of scores in ``[0, 1]``."""
    arr = np.asarray(value).reshape(-1)
    if arr.shape != (n,):
        raise InvalidInputError(f"{name} has {arr.size} value(s) for {n} box(es); give one score per box.")
    if n and not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InvalidInputError(f"{name} must be numbers in [0, 1], got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if n and not (np.isfinite(arr).all() and arr.min() >= 0.0 and arr.max() <= 1.0):
        raise InvalidInputError(
            f"{name} must be in [0, 1], got values from {arr.min()} to {arr.max()}; "
            "pass probabilities (apply a sigmoid or softmax to raw logits)."
        )
    return arr


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4): float64 ``(N, M)``.

    Boxes without area have IoU 0 with everything (also with themselves).
    """
    a, b = as_boxes(a, "a"), as_boxes(b, "b")
    return _iou(a, b)


def match_boxes(
    pred: np.ndarray, scores: np.ndarray, truth: np.ndarray, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """COCO greedy matching of one image and label.

    Returns ``(tp, order)``: ``order`` sorts the predictions by descending score (stable: on ties the lower
    index first) and ``tp[k]`` says whether prediction ``order[k]`` matched a truth box.
    """
    pred, scores, truth = _image(pred, scores, truth, "")
    thr = _checks.fraction(iou_threshold, "iou_threshold")
    order = _order(scores)
    return _greedy(_overlaps(pred, truth), order, thr)[order] >= 0, order


def matched_truth(
    pred: np.ndarray, scores: np.ndarray, truth: np.ndarray, iou_threshold: float = 0.5
) -> np.ndarray:
    """The truth index each prediction matched (int64 ``(N,)``, -1 for a false positive), in the
    predictions' own order; truth boxes missing from it are false negatives (for TP/FP/FN pictures)."""
    pred, scores, truth = _image(pred, scores, truth, "")
    thr = _checks.fraction(iou_threshold, "iou_threshold")
    return _greedy(_overlaps(pred, truth), _order(scores), thr)


def average_precision(images: Sequence[Image], iou_threshold: float = 0.5) -> PRCurve:
    """COCO 101-point interpolated AP and precision-recall curve of one label over many images."""
    thr = _checks.fraction(iou_threshold, "iou_threshold")
    return _curve(_prepare(images), thr)


def counts_at(images: Sequence[Image], score_threshold: float, iou_threshold: float = 0.5) -> dict:
    """TP / FP / FN of the predictions with score >= ``score_threshold``, and the scores made from them.

    Returns ``tp, fp, fn, n_truth, n_pred, precision, recall, f1``; a score whose denominator is 0 is None
    (precision without predictions, recall without truth, F1 with neither).
    """
    score_thr = _checks.fraction(score_threshold, "score_threshold")
    thr = _checks.fraction(iou_threshold, "iou_threshold")
    return _counts(_prepare(images), score_thr, thr)


def best_score_threshold(
    images: Sequence[Image], iou_threshold: float = 0.5, candidates: Sequence[float] | None = None
) -> tuple[float, float | None]:
    """The score threshold that maximises F1 at ``iou_threshold``, and that F1.

    ``candidates`` default to the distinct prediction scores; on ties the higher threshold wins. Without any
    prediction or any truth box no threshold is better than another: returns
    ``(DEFAULT_SCORE_THRESHOLD, None)``.
    """
    thr = _checks.fraction(iou_threshold, "iou_threshold")
    scores, tp, n_truth = _ranked(_prepare(images), thr)
    if len(scores) == 0 or n_truth == 0:
        return DEFAULT_SCORE_THRESHOLD, None
    if candidates is None:
        cand = np.unique(scores)[::-1]
    else:
        cand = np.unique([_checks.fraction(c, "candidates") for c in candidates])[::-1]
        if cand.size == 0:
            raise InvalidInputError("candidates is empty; give at least one score threshold or None.")
    tp_cum = np.concatenate([[0], np.cumsum(tp)])  # TPs among the first k predictions
    kept = len(scores) - np.searchsorted(scores[::-1], cand, side="left")  # predictions with score >= c
    f1 = 2 * tp_cum[kept] / (kept + n_truth)
    best = int(np.argmax(f1))  # the first maximum: the highest threshold
    return float(cand[best]), float(f1[best])


def label_metrics(images: Sequence[Image], score_threshold: float) -> dict:
    """All metrics of one label: ``ap_50``, ``ap_75``, ``ap_50_95`` (mean AP over :data:`IOU_THRESHOLDS`)
    and the :func:`counts_at` fields at IoU 0.5 and ``score_threshold``. APs are None without truth."""
    score_thr = _checks.fraction(score_threshold, "score_threshold")
    prepared = _prepare(images)
    aps = {t: _curve(prepared, t).ap for t in IOU_THRESHOLDS}
    defined = [a for a in aps.values() if a is not None]
    return {
        "ap_50": aps[0.5],
        "ap_75": aps[0.75],
        "ap_50_95": float(np.mean(defined)) if defined else None,
        **_counts(prepared, score_thr, 0.5),
    }


def mean_ap(per_label: Sequence[dict]) -> dict:
    """``map_50`` and ``map_50_95``: means of :func:`label_metrics`' ``ap_50`` / ``ap_50_95`` over the
    labels whose AP is defined (None when no label has any truth box)."""
    out = {}
    for key, src in (("map_50", "ap_50"), ("map_50_95", "ap_50_95")):
        defined = [m[src] for m in per_label if m.get(src) is not None]
        out[key] = float(np.mean(defined)) if defined else None
    return out


def by_label(
    images: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]], n_labels: int
) -> list[list[Image]]:
    """Split multi-label images into per-label ``images`` for the functions above.

    Each image is ``(pred_boxes, pred_scores, pred_labels, truth_boxes, truth_labels)``; returns one list
    per label 0..n_labels-1, each with one ``(pred_boxes, pred_scores, truth_boxes)`` per image.
    """
    out: list[list[Image]] = [[] for _ in range(n_labels)]
    for i, item in enumerate(images):
        if len(item) != 5:
            raise InvalidInputError(
                f"image {i} has {len(item)} parts; give (pred_boxes, pred_scores, pred_labels, "
                "truth_boxes, truth_labels)."
            )
        pb, ps, pl, tb, tl = item
        pb, ps, tb = _image(pb, ps, tb, f"image {i}: ")
        pl = as_labels(pl, len(pb), n_labels, f"image {i}: pred_labels")
        tl = as_labels(tl, len(tb), n_labels, f"image {i}: truth_labels")
        for label in range(n_labels):
            p, t = pl == label, tl == label
            out[label].append((pb[p], ps[p], tb[t]))
    return out


def as_labels(value: object, n: int, n_labels: int | None = None, name: str = "labels") -> np.ndarray:
    """``value`` as an int64 ``(n,)`` array of label indices ``0..n_labels-1``."""
    arr = np.asarray(value).reshape(-1) if np.size(value) else np.zeros(0, dtype=np.int64)
    if arr.shape != (n,):
        raise InvalidInputError(f"{name} has {arr.size} value(s) for {n} box(es); give one label per box.")
    if n and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(f"{name} must be integer label indices, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64, copy=False)
    if n and (arr.min() < 0 or (n_labels is not None and arr.max() >= n_labels)):
        top = "" if n_labels is None else f"..{n_labels - 1}"
        raise InvalidInputError(
            f"{name} must be label indices 0{top}, got values from {arr.min()} to {arr.max()}."
        )
    return arr


def centres_inside(boxes: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Whether each box's centre pixel is True in ``valid`` (H, W): bool ``(N,)``.

    The centre pixel is ``(floor(cy), floor(cx))``; centres outside the array are False. Use it to drop
    predictions and truth outside a region of interest before matching.
    """
    boxes = as_boxes(boxes)
    mask = _checks.as_mask(valid, "valid", ndim=2)
    cx = np.floor((boxes[:, 0] + boxes[:, 2]) / 2).astype(np.int64)
    cy = np.floor((boxes[:, 1] + boxes[:, 3]) / 2).astype(np.int64)
    inside = (cy >= 0) & (cy < mask.shape[0]) & (cx >= 0) & (cx < mask.shape[1])
    out = np.zeros(len(boxes), dtype=bool)
    out[inside] = mask[cy[inside], cx[inside]]
    return out


# -- internals: inputs are checked arrays from here on ------------------------------------------------


def _image(pred: object, scores: object, truth: object, where: str) -> Image:
    pred = as_boxes(pred, f"{where}pred_boxes")
    return pred, as_scores(scores, len(pred), f"{where}pred_scores"), as_boxes(truth, f"{where}truth_boxes")


def _prepare(images: Sequence[Image]) -> list[tuple[np.ndarray, np.ndarray, Overlaps, int]]:
    """Per image: (scores, order, overlaps, number of truth boxes), computed once for all thresholds."""
    out = []
    for i, item in enumerate(images):
        if len(item) != 3:
            raise InvalidInputError(
                f"image {i} has {len(item)} parts; give (pred_boxes, pred_scores, truth_boxes) per image "
                "(split labels with by_label)."
            )
        pred, scores, truth = _image(*item, f"image {i}: ")
        out.append((scores, _order(scores), _overlaps(pred, truth), len(truth)))
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _order(scores: np.ndarray) -> np.ndarray:
    return np.argsort(-scores, kind="stable")


def _overlaps(pred: np.ndarray, truth: np.ndarray) -> Overlaps:
    """The nonzero IoUs of each prediction with the truth boxes, row by row (CSR: ``indptr``, truth
    indices ascending within a row, IoUs), computed in blocks of rows so memory stays small."""
    rows, cols, vals = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    step = max(1, _BLOCK_PAIRS // max(len(truth), 1))
    for start in range(0, len(pred) if len(truth) else 0, step):
        iou = _iou(pred[start : start + step], truth)
        r, c = np.nonzero(iou > 0)
        rows.append(r + start)
        cols.append(c)
        vals.append(iou[r, c])
    rows_all = np.concatenate(rows)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows_all, minlength=len(pred)))])
    return indptr, np.concatenate(cols), np.concatenate(vals), len(truth)


def _greedy(overlaps: Overlaps, order: np.ndarray, thr: float) -> np.ndarray:
    """Truth index matched by each prediction (-1: none), predictions visited in ``order``."""
    indptr, cols, vals, n_truth = overlaps
    match = np.full(len(indptr) - 1, -1, dtype=np.int64)
    free = np.ones(n_truth, dtype=bool)
    limit = thr - _TOLERANCE
    left = n_truth
    for p in order:
        if left == 0:
            break
        lo, hi = indptr[p], indptr[p + 1]
        if lo == hi:
            continue
        cand, iou = cols[lo:hi], vals[lo:hi]
        iou = np.where(free[cand] & (iou >= limit), iou, -1.0)
        k = int(np.argmax(iou))  # the first maximum: the lower truth index on ties
        if iou[k] > 0:
            match[p] = cand[k]
            free[cand[k]] = False
            left -= 1
    return match


def _ranked(prepared: list, thr: float) -> tuple[np.ndarray, np.ndarray, int]:
    """All images' predictions pooled in descending score: (scores, is-TP flags, number of truth boxes)."""
    n_truth = sum(n for *_, n in prepared)
    scores = [s[o] for s, o, _, _ in prepared]
    tps = [_greedy(ov, o, thr)[o] >= 0 for _, o, ov, _ in prepared]
    scores = np.concatenate(scores) if scores else np.zeros(0)
    tp = np.concatenate(tps) if tps else np.zeros(0, dtype=bool)
    order = np.argsort(-scores, kind="stable")  # as pycocotools: ties keep image order, then in-image order
    return scores[order], tp[order], n_truth


def _curve(prepared: list, thr: float) -> PRCurve:
    scores, tp, n_truth = _ranked(prepared, thr)
    tp_cum = np.cumsum(tp, dtype=np.float64)
    precision = tp_cum / np.arange(1, len(tp) + 1)
    recall = tp_cum / n_truth if n_truth else np.zeros(len(tp))
    if n_truth == 0:
        ap = None
    elif len(tp) == 0:
        ap = 0.0
    else:
        # pycocotools: the precision envelope (max precision at any recall >= r), read at the first point
        # whose recall reaches each of the 101 recall points, 0 past the last recall reached
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        idx = np.searchsorted(recall, RECALL_POINTS, side="left")
        sampled = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0.0)
        ap = float(sampled.mean())
    return PRCurve(
        ap=ap, precision=precision, recall=recall, scores=scores, n_truth=n_truth, iou_threshold=thr
    )


def _counts(prepared: list, score_thr: float, thr: float) -> dict:
    tp = n_pred = n_truth = 0
    for scores, order, overlaps, n in prepared:
        keep = order[scores[order] >= score_thr]
        tp += int((_greedy(overlaps, keep, thr) >= 0).sum())
        n_pred += len(keep)
        n_truth += n
    fp, fn = n_pred - tp, n_truth - tp
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "n_truth": n_truth,
        "n_pred": n_pred,
        "precision": _ratio(tp, n_pred),
        "recall": _ratio(tp, n_truth),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den
