"""Pixel metrics per label, in two stages: count TP/FP/FN/TN, then reduce once.

Counts of several images (or tiles of one image) add up: ``pixel_counts(a) + pixel_counts(b)`` equals the
counts of the two images side by side, so per-dataset scores are ``pixel_scores(sum of counts)``.
"""

from __future__ import annotations

import numpy as np

from core.errors import InvalidInputError
from core.evaluation import _checks

#: Column order of the counts array returned by :func:`pixel_counts`.
COUNT_COLUMNS = ("tp", "fp", "fn", "tn")
#: Keys of each dict returned by :func:`pixel_scores`.
SCORE_NAMES = ("iou", "dice", "precision", "recall", "accuracy")


def pixel_counts(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Count true/false positives/negatives per label.

    Args:
        pred: bool (L, H, W) predicted masks, one per label (an (H, W) mask counts as L = 1).
        gt: bool (L, H, W) ground-truth masks, same shape as ``pred``.
        valid: optional bool (H, W) mask of the pixels that carry ground truth; other pixels are not counted.

    Returns:
        int64 (L, 4) array with columns tp, fp, fn, tn (see :data:`COUNT_COLUMNS`).
    """
    pred, gt, valid = _check_counts_inputs(pred, gt, valid)
    n_labels = pred.shape[0]
    pred = pred.reshape(n_labels, -1)
    gt = gt.reshape(n_labels, -1)
    if valid is None:
        n_pixels = pred.shape[1]
    else:
        flat_valid = valid.reshape(-1)
        pred = pred[:, flat_valid]
        gt = gt[:, flat_valid]
        n_pixels = int(flat_valid.sum())
    tp = np.count_nonzero(pred & gt, axis=1)
    n_pred = np.count_nonzero(pred, axis=1)
    n_gt = np.count_nonzero(gt, axis=1)
    fp = n_pred - tp
    fn = n_gt - tp
    tn = n_pixels - tp - fp - fn
    return np.stack([tp, fp, fn, tn], axis=1).astype(np.int64)


def pixel_scores(counts: np.ndarray) -> list[dict[str, float | None]]:
    """Reduce counts to scores, one dict per label.

    Args:
        counts: int (L, 4) or (4,) array of tp, fp, fn, tn (from :func:`pixel_counts`, possibly summed).

    Returns:
        One dict per label with iou, dice, precision, recall and accuracy. A score whose denominator is 0
        is None, never 0 or NaN: no ground truth and no prediction gives iou/dice None, no prediction gives
        precision None, no ground truth gives recall None, no counted pixel gives accuracy None.
    """
    counts = _check_counts(counts)
    rows = []
    for tp, fp, fn, tn in counts.tolist():
        rows.append(
            {
                "iou": _ratio(tp, tp + fp + fn),
                "dice": _ratio(2 * tp, 2 * tp + fp + fn),
                "precision": _ratio(tp, tp + fp),
                "recall": _ratio(tp, tp + fn),
                "accuracy": _ratio(tp + tn, tp + fp + fn + tn),
            }
        )
    return rows


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def _check_counts_inputs(
    pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    pred_arr = np.asarray(pred)
    gt_arr = np.asarray(gt)
    if pred_arr.ndim == 2:
        pred_arr = pred_arr[None]
    if gt_arr.ndim == 2:
        gt_arr = gt_arr[None]
    pred_arr = _checks.as_mask(pred_arr, "pred", ndim=3)
    gt_arr = _checks.as_mask(gt_arr, "gt", ndim=3)
    _checks.same_shape(pred_arr, gt_arr, "pred", "gt")
    return pred_arr, gt_arr, _checks.valid_mask(valid, pred_arr.shape[1:])


def _check_counts(counts: np.ndarray) -> np.ndarray:
    arr = np.asarray(counts)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InvalidInputError(
            f"counts must be an (L, 4) array of tp, fp, fn, tn, got shape {arr.shape}; "
            "make it with core.evaluation.pixel.pixel_counts."
        )
    if not np.issubdtype(arr.dtype, np.integer) or (arr.size and arr.min() < 0):
        raise InvalidInputError(
            f"counts must be non-negative integers, got dtype {arr.dtype}; "
            "make it with core.evaluation.pixel.pixel_counts."
        )
    return arr
