"""Instance metrics: one-to-one object matching on IoU, counted per threshold, reduced once.

Matching follows the DSB2018 challenge (and StarDist's ``matching``): a predicted and a ground-truth object
match at threshold ``t`` when their IoU is >= ``t``; among candidate pairs, an optimal one-to-one assignment
(:func:`scipy.optimize.linear_sum_assignment`) maximises the number of matches, then their total IoU.
Overlaps are counted sparsely (one ``np.bincount`` over paired labels), so images with thousands of objects
are matched in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.errors import InvalidInputError
from core.evaluation import _checks
from core.evaluation._labels import compact_labels

#: IoU thresholds of the DSB2018 average precision: 0.5, 0.55, ..., 0.95.
THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
#: IoU threshold of the headline precision / recall / F1 and of the overlays.
MATCH_THRESHOLD = 0.5

_TOLERANCE = 1e-9  # IoU values that equal a threshold up to rounding count as reaching it
_DENSE_PAIR_LIMIT = 4_000_000  # above this many (gt, pred) id pairs, count overlaps with np.unique instead


def _zeros() -> np.ndarray:
    return np.zeros(len(THRESHOLDS), dtype=np.int64)


@dataclass(eq=False)
class InstanceCounts:
    """Object counts of one or more images; counts add up (``a + b``, ``sum(list_of_counts)``).

    ``tp``, ``fp``, ``fn`` are int64 arrays with one entry per threshold of :data:`THRESHOLDS`;
    ``matched_iou_sum`` and ``n_matched`` describe the matches at IoU 0.5; ``n_gt`` and ``n_pred`` count the
    objects that were evaluated.
    """

    tp: np.ndarray = field(default_factory=_zeros)
    fp: np.ndarray = field(default_factory=_zeros)
    fn: np.ndarray = field(default_factory=_zeros)
    matched_iou_sum: float = 0.0
    n_matched: int = 0
    n_gt: int = 0
    n_pred: int = 0

    def __add__(self, other: object) -> InstanceCounts:
        if not isinstance(other, InstanceCounts):
            return NotImplemented
        return InstanceCounts(
            tp=self.tp + other.tp,
            fp=self.fp + other.fp,
            fn=self.fn + other.fn,
            matched_iou_sum=self.matched_iou_sum + other.matched_iou_sum,
            n_matched=self.n_matched + other.n_matched,
            n_gt=self.n_gt + other.n_gt,
            n_pred=self.n_pred + other.n_pred,
        )

    def __radd__(self, other: object) -> InstanceCounts:
        if isinstance(other, int) and other == 0:  # lets sum() start from 0
            return self
        return self.__add__(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InstanceCounts):
            return NotImplemented
        return (
            np.array_equal(self.tp, other.tp)
            and np.array_equal(self.fp, other.fp)
            and np.array_equal(self.fn, other.fn)
            and bool(np.isclose(self.matched_iou_sum, other.matched_iou_sum))
            and (self.n_matched, self.n_gt, self.n_pred) == (other.n_matched, other.n_gt, other.n_pred)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def to_dict(self) -> dict:
        """Plain JSON-ready dict; :meth:`from_dict` reads it back."""
        return {
            "tp": self.tp.tolist(),
            "fp": self.fp.tolist(),
            "fn": self.fn.tolist(),
            "matched_iou_sum": float(self.matched_iou_sum),
            "n_matched": int(self.n_matched),
            "n_gt": int(self.n_gt),
            "n_pred": int(self.n_pred),
        }

    @classmethod
    def from_dict(cls, data: dict) -> InstanceCounts:
        return cls(
            tp=np.asarray(data["tp"], dtype=np.int64),
            fp=np.asarray(data["fp"], dtype=np.int64),
            fn=np.asarray(data["fn"], dtype=np.int64),
            matched_iou_sum=float(data["matched_iou_sum"]),
            n_matched=int(data["n_matched"]),
            n_gt=int(data["n_gt"]),
            n_pred=int(data["n_pred"]),
        )


@dataclass(frozen=True)
class Overlaps:
    """Sparse overlap table of one image; objects are numbered 0..N-1 (``pred_ids``/``gt_ids`` give labels).

    Areas and intersections are counted inside ``valid``; ``pred_full_area`` is the whole object's area.
    ``pred_counted`` / ``gt_counted`` are False for objects mostly (> 50 %) outside ``valid``.
    """

    pred_ids: np.ndarray
    gt_ids: np.ndarray
    pred_full_area: np.ndarray
    pred_counted: np.ndarray
    gt_counted: np.ndarray
    pair_gt: np.ndarray
    pair_pred: np.ndarray
    pair_iou: np.ndarray


def match_instances(
    pred_labels: np.ndarray, gt_labels: np.ndarray, valid: np.ndarray | None = None
) -> InstanceCounts:
    """Match predicted to ground-truth objects at every IoU threshold of :data:`THRESHOLDS`.

    Args:
        pred_labels: int (H, W) predicted instance labels, 0 = background.
        gt_labels: int (H, W) ground-truth instance labels, 0 = background.
        valid: optional bool (H, W) pixels that carry ground truth. Objects (predicted or ground truth) with
            more than half of their pixels outside it are ignored; the others are measured inside it.

    Returns:
        The :class:`InstanceCounts` of this image.
    """
    return counts_from_overlaps(overlap_table(pred_labels, gt_labels, valid))


def matched_pairs(
    pred_labels: np.ndarray,
    gt_labels: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    threshold: float = MATCH_THRESHOLD,
) -> list[tuple[int, int, float]]:
    """The matched ``(pred_label, gt_label, iou)`` triples at one IoU threshold, sorted by pred label."""
    threshold = _checks.fraction(threshold, "threshold")
    table = overlap_table(pred_labels, gt_labels, valid)
    keep = table.pred_counted[table.pair_pred] & table.gt_counted[table.pair_gt]
    gi, pi, iou = _match(table.pair_gt[keep], table.pair_pred[keep], table.pair_iou[keep], threshold)
    order = np.argsort(pi, kind="stable")
    return [
        (int(table.pred_ids[p]), int(table.gt_ids[g]), float(s))
        for g, p, s in zip(gi[order], pi[order], iou[order], strict=True)
    ]


def instance_scores(counts: InstanceCounts) -> dict:
    """Reduce instance counts to scores.

    Returns:
        A dict with ``n_gt``, ``n_pred``, ``tp``, ``fp``, ``fn`` (at IoU 0.5), ``precision``, ``recall``,
        ``f1`` (at IoU 0.5), ``mean_matched_iou`` (mean IoU of the matches at 0.5), ``thresholds``
        (:data:`THRESHOLDS`), ``ap`` (TP / (TP + FP + FN) per threshold, as in DSB2018) and ``mean_ap``.
        A score whose denominator is 0 is None (no ground truth and no prediction: everything is None).
    """
    tp, fp, fn = (np.asarray(getattr(counts, name), dtype=np.int64).tolist() for name in ("tp", "fp", "fn"))
    ap = [_ratio(t, t + p + n) for t, p, n in zip(tp, fp, fn, strict=True)]
    defined = [a for a in ap if a is not None]
    return {
        "n_gt": int(counts.n_gt),
        "n_pred": int(counts.n_pred),
        "tp": tp[0],
        "fp": fp[0],
        "fn": fn[0],
        "precision": _ratio(tp[0], tp[0] + fp[0]),
        "recall": _ratio(tp[0], tp[0] + fn[0]),
        "f1": _ratio(2 * tp[0], 2 * tp[0] + fp[0] + fn[0]),
        "mean_matched_iou": None if counts.n_matched == 0 else counts.matched_iou_sum / counts.n_matched,
        "thresholds": list(THRESHOLDS),
        "ap": ap,
        "mean_ap": sum(defined) / len(defined) if defined else None,
    }


@dataclass(frozen=True)
class GroundTruth:
    """A ground-truth label image prepared once, to match several predictions against it.

    ``index`` holds the renumbered label (0..N) of each counted pixel (those inside ``valid``, flattened).
    """

    shape: tuple[int, ...]
    ids: np.ndarray
    index: np.ndarray
    area: np.ndarray
    counted: np.ndarray
    valid: np.ndarray | None


def prepare_ground_truth(gt_labels: np.ndarray, valid: np.ndarray | None = None) -> GroundTruth:
    """Prepare an int (H, W) ground-truth label image (and optional bool (H, W) ``valid``) for matching."""
    gt = _checks.as_labels(gt_labels, "gt_labels")
    return _prepare(gt, _checks.valid_mask(valid, gt.shape))


def overlap_table(
    pred_labels: np.ndarray, gt_labels: np.ndarray | GroundTruth, valid: np.ndarray | None = None
) -> Overlaps:
    """Count the pixel overlap of every (gt, pred) object pair that touches, and each pair's IoU.

    ``gt_labels`` may be a :class:`GroundTruth` from :func:`prepare_ground_truth` (then ``valid`` is
    already part of it and must be None here).
    """
    if isinstance(gt_labels, GroundTruth):
        pred = _checks.as_labels(pred_labels, "pred_labels")
        gt = gt_labels
        if valid is not None:
            raise InvalidInputError("valid is already part of the prepared ground truth; pass valid=None.")
        if pred.shape != gt.shape:
            raise InvalidInputError(
                f"pred_labels has shape {pred.shape} but the prepared ground truth has shape {gt.shape}."
            )
    else:
        pred_arr, gt_arr, valid_arr = _check_match_inputs(pred_labels, gt_labels, valid)
        pred, gt = pred_arr, _prepare(gt_arr, valid_arr)
    pred_ids, pred_idx = compact_labels(pred)
    n_pred, n_gt = len(pred_ids), len(gt.ids)
    pred_full = np.bincount(pred_idx.ravel(), minlength=n_pred + 1)[1:]
    if gt.valid is None:
        pv = pred_idx.ravel()
        pred_area = pred_full
        pred_counted = np.ones(n_pred, dtype=bool)
    else:
        pv = pred_idx.ravel()[gt.valid]
        pred_area = np.bincount(pv, minlength=n_pred + 1)[1:]
        pred_counted = (pred_area > 0) & (2 * pred_area >= pred_full)
    gv = gt.index
    both = (pv > 0) & (gv > 0)
    stride = n_pred + 1
    keys = gv[both].astype(np.int64) * stride + pv[both]
    if (n_gt + 1) * stride <= _DENSE_PAIR_LIMIT:
        hist = np.bincount(keys, minlength=(n_gt + 1) * stride)
        pair_keys = np.flatnonzero(hist)
        inter = hist[pair_keys]
    else:
        pair_keys, inter = np.unique(keys, return_counts=True)
    pair_gt = pair_keys // stride - 1
    pair_pred = pair_keys % stride - 1
    union = gt.area[pair_gt] + pred_area[pair_pred] - inter
    return Overlaps(
        pred_ids=pred_ids,
        gt_ids=gt.ids,
        pred_full_area=pred_full,
        pred_counted=pred_counted,
        gt_counted=gt.counted,
        pair_gt=pair_gt,
        pair_pred=pair_pred,
        pair_iou=inter / union,
    )


def counts_from_overlaps(table: Overlaps, pred_keep: np.ndarray | None = None) -> InstanceCounts:
    """Counts of an overlap table; ``pred_keep`` (bool per pred object) drops predicted objects first."""
    pred_counted = table.pred_counted if pred_keep is None else table.pred_counted & pred_keep
    keep = pred_counted[table.pair_pred] & table.gt_counted[table.pair_gt]
    gi, pi, iou = table.pair_gt[keep], table.pair_pred[keep], table.pair_iou[keep]
    n_pred = int(pred_counted.sum())
    n_gt = int(table.gt_counted.sum())
    _, _, matched_iou = _match(gi, pi, iou, THRESHOLDS[0])
    # above IoU 0.5 an object has at most one partner: every candidate pair is a match
    above = np.asarray(THRESHOLDS[1:])[:, None] - _TOLERANCE
    tp = np.concatenate([[len(matched_iou)], (matched_iou[None, :] >= above).sum(axis=1)]).astype(np.int64)
    return InstanceCounts(
        tp=tp,
        fp=n_pred - tp,
        fn=n_gt - tp,
        matched_iou_sum=float(matched_iou.sum()),
        n_matched=len(matched_iou),
        n_gt=n_gt,
        n_pred=n_pred,
    )


def _prepare(gt: np.ndarray, valid: np.ndarray | None) -> GroundTruth:
    ids, idx = compact_labels(gt)
    n_gt = len(ids)
    if valid is None:
        index = idx.ravel()
        area = np.bincount(index, minlength=n_gt + 1)[1:]
        counted = np.ones(n_gt, dtype=bool)
        return GroundTruth(shape=gt.shape, ids=ids, index=index, area=area, counted=counted, valid=None)
    flat_valid = valid.ravel()
    full = np.bincount(idx.ravel(), minlength=n_gt + 1)[1:]
    index = idx.ravel()[flat_valid]
    area = np.bincount(index, minlength=n_gt + 1)[1:]
    counted = (area > 0) & (2 * area >= full)
    return GroundTruth(shape=gt.shape, ids=ids, index=index, area=area, counted=counted, valid=flat_valid)


def _candidates(
    gi: np.ndarray, pi: np.ndarray, iou: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sel = iou >= threshold - _TOLERANCE
    return gi[sel], pi[sel], iou[sel]


def _match(
    gi: np.ndarray, pi: np.ndarray, iou: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal one-to-one matching among pairs with IoU >= threshold: most matches, then most total IoU."""
    gi, pi, iou = _candidates(gi, pi, iou, threshold)
    rows, row_of = np.unique(gi, return_inverse=True)
    cols, col_of = np.unique(pi, return_inverse=True)
    if len(rows) == len(gi) and len(cols) == len(pi):  # no object has two candidates: nothing to choose
        return gi, pi, iou
    from scipy.optimize import linear_sum_assignment  # here, not at import: pages import this module

    cost = np.zeros((len(rows), len(cols)))
    # count dominates: the IoU term of all matches together stays below 1
    cost[row_of, col_of] = -1.0 - iou / (2.0 * len(iou))
    r, c = linear_sum_assignment(cost)
    chosen = cost[r, c] < 0
    lookup = np.full((len(rows), len(cols)), -1, dtype=np.int64)
    lookup[row_of, col_of] = np.arange(len(iou))
    picked = lookup[r[chosen], c[chosen]]
    return gi[picked], pi[picked], iou[picked]


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def _check_match_inputs(
    pred_labels: np.ndarray, gt_labels: np.ndarray, valid: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    pred = _checks.as_labels(pred_labels, "pred_labels")
    gt = _checks.as_labels(gt_labels, "gt_labels")
    _checks.same_shape(pred, gt, "pred_labels", "gt_labels")
    return pred, gt, _checks.valid_mask(valid, pred.shape)
