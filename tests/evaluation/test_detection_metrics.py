"""Detection metrics: IoU, COCO greedy matching, 101-point AP, counts, best score threshold (hand cases)."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.evaluation import detection
from core.evaluation.detection import (
    DEFAULT_SCORE_THRESHOLD,
    RECALL_POINTS,
    as_boxes,
    average_precision,
    best_score_threshold,
    box_iou,
    by_label,
    centres_inside,
    counts_at,
    label_metrics,
    match_boxes,
    matched_truth,
    mean_ap,
)

A = [0.0, 0.0, 10.0, 10.0]
B = [20.0, 0.0, 30.0, 10.0]
C = [40.0, 0.0, 50.0, 10.0]
FAR = [80.0, 80.0, 90.0, 90.0]


def _b(*rows) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def _s(*values) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# -- IoU and matching -----------------------------------------------------------------------------------


def test_box_iou_hand_values():
    a = _b(A, [0, 0, 0, 0])
    b = _b(A, [5, 0, 15, 10], [10, 0, 20, 10], [2, 2, 4, 4])
    iou = box_iou(a, b)
    assert iou.shape == (2, 4) and iou.dtype == np.float64
    # half overlap: 50 / (100 + 100 - 50); touching edges: 0; box inside: 4 / 100
    np.testing.assert_allclose(iou[0], [1.0, 50 / 150, 0.0, 0.04])
    np.testing.assert_array_equal(iou[1], 0.0)  # no area: IoU 0, also with itself
    assert box_iou(_b(), b).shape == (0, 4)


def test_box_checks_say_what_is_wrong():
    with pytest.raises(InvalidInputError, match=r"\(N, 4\)"):
        as_boxes(np.zeros((3, 5)))
    with pytest.raises(InvalidInputError, match="x_max < x_min"):
        as_boxes([[10, 0, 5, 10]])
    with pytest.raises(InvalidInputError, match="NaN"):
        as_boxes([[0, 0, np.nan, 1]])
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        match_boxes(_b(A), _s(3.2), _b(A), 0.5)  # a logit instead of a probability
    with pytest.raises(InvalidInputError, match="one score per box"):
        match_boxes(_b(A, B), _s(0.5), _b(A), 0.5)


def test_match_order_is_descending_score_and_stable_on_ties():
    pred = _b(FAR, A, B, C)
    tp, order = match_boxes(pred, _s(0.5, 0.9, 0.5, 0.5), _b(A, C), 0.5)
    np.testing.assert_array_equal(order, [1, 0, 2, 3])  # ties 0.5: lower index first
    np.testing.assert_array_equal(tp, [True, False, False, True])


def test_equal_iou_with_two_truth_boxes_goes_to_the_lower_truth_index():
    truth = _b([0, 0, 10, 10], [2, 0, 12, 10])
    pred = _b([1, 0, 11, 10])  # IoU 9/11 with both
    np.testing.assert_array_equal(matched_truth(pred, _s(0.9), truth), [0])


def test_crowded_truth_each_prediction_matches_one_box_and_the_next_takes_the_second_best():
    t0, t1 = [0, 0, 10, 10], [2, 0, 12, 10]  # IoU(t0, t1) = 8 / 12
    p0 = [0.5, 0, 10.5, 10]  # IoU 9.5/10.5 with t0, 8.5/11.5 with t1
    p1 = list(t0)  # its best truth t0 is taken: it gets t1 (IoU 2/3)
    np.testing.assert_array_equal(matched_truth(_b(p0, p1), _s(0.9, 0.8), _b(t0, t1)), [0, 1])
    curve = average_precision([(_b(p0, p1), _s(0.9, 0.8), _b(t0, t1))])
    assert curve.ap == pytest.approx(1.0)
    # at IoU 0.75, t1 (IoU 2/3 with p1) cannot be matched: p1 is a false positive
    np.testing.assert_array_equal(matched_truth(_b(p0, p1), _s(0.9, 0.8), _b(t0, t1), 0.75), [0, -1])


def test_duplicate_prediction_is_a_false_positive():
    images = [(_b(A, A), _s(0.9, 0.8), _b(A))]
    tp, _ = match_boxes(*images[0], 0.5)
    np.testing.assert_array_equal(tp, [True, False])
    # curve: (P 1, R 1), (P 1/2, R 1); the envelope is 1 at every recall point
    assert average_precision(images).ap == pytest.approx(1.0)
    counts = counts_at(images, 0.5)
    assert (counts["tp"], counts["fp"], counts["fn"]) == (1, 1, 0)
    assert counts["precision"] == 0.5 and counts["recall"] == 1.0 and counts["f1"] == pytest.approx(2 / 3)


# -- average precision ----------------------------------------------------------------------------------


def test_perfect_detection_has_ap_one_at_every_iou():
    images = [(_b(A, B), _s(0.9, 0.8), _b(B, A)), (_b(C), _s(0.7), _b(C))]
    metrics = label_metrics(images, 0.5)
    assert metrics["ap_50"] == metrics["ap_75"] == metrics["ap_50_95"] == pytest.approx(1.0)
    assert (metrics["tp"], metrics["fp"], metrics["fn"]) == (3, 0, 0)
    assert metrics["f1"] == 1.0


def test_one_false_positive_ranked_above_the_true_positive():
    # truth A, B; predictions FAR (0.9, FP), A (0.8, TP); B is missed.
    # curve: k=1: P 0, R 0; k=2: P 1/2, R 1/2.  Envelope: [1/2, 1/2].
    # recall points 0, 0.01, ..., 0.50 (51 points) first reach recall >= r at k <= 2: precision 1/2;
    # 0.51 ... 1 (50 points) are never reached: 0.  AP = 51 * (1/2) / 101 = 25.5 / 101.
    curve = average_precision([(_b(FAR, A), _s(0.9, 0.8), _b(A, B))])
    assert curve.ap == pytest.approx(25.5 / 101)
    np.testing.assert_allclose(curve.precision, [0.0, 0.5])
    np.testing.assert_allclose(curve.recall, [0.0, 0.5])
    np.testing.assert_allclose(curve.scores, [0.9, 0.8])
    assert curve.n_truth == 2


def test_false_positive_between_true_positives():
    # truth A, B, C; predictions A (0.9), FAR (0.8), B (0.7).
    # curve: (P 1, R 1/3), (P 1/2, R 1/3), (P 2/3, R 2/3); envelope [1, 2/3, 2/3].
    # r = 0 .. 0.33 (34 points): first point with R >= r is k=1: 1
    # r = 0.34 .. 0.66 (33 points): k=3: 2/3;  r = 0.67 .. 1 (34 points): 0.
    # AP = (34 * 1 + 33 * 2/3) / 101 = 56 / 101.
    curve = average_precision([(_b(A, FAR, B), _s(0.9, 0.8, 0.7), _b(A, B, C))])
    assert curve.ap == pytest.approx(56 / 101)


def test_ties_in_scores_keep_index_order_then_image_order():
    # FAR and A have the same score; FAR (index 0) ranks first: (P 0, R 0), (P 1/2, R 1) -> AP 1/2
    assert average_precision([(_b(FAR, A), _s(0.8, 0.8), _b(A))]).ap == pytest.approx(0.5)
    assert average_precision([(_b(A, FAR), _s(0.8, 0.8), _b(A))]).ap == pytest.approx(1.0)
    # across images: the first image's prediction ranks first on a tie
    first_fp = [(_b(FAR), _s(0.8), _b()), (_b(A), _s(0.8), _b(A))]
    assert average_precision(first_fp).ap == pytest.approx(0.5)
    assert average_precision(first_fp[::-1]).ap == pytest.approx(1.0)


def test_empty_images():
    images = [
        (_b(A), _s(0.5), _b(A)),  # a TP
        (_b(A, B), _s(0.9, 0.8), _b()),  # no truth: both predictions are FP
        (_b(), _s(), _b(B)),  # no prediction: a FN
    ]
    # pooled: 0.9 FP, 0.8 FP, 0.5 TP -> (P 0, R 0), (P 0, R 0), (P 1/3, R 1/2); envelope 1/3 everywhere
    # r = 0 .. 0.5 (51 points): 1/3; the rest 0.  AP = 51 / 3 / 101 = 17 / 101.
    assert average_precision(images).ap == pytest.approx(17 / 101)
    counts = counts_at(images, 0.0)
    assert counts == {
        "tp": 1, "fp": 2, "fn": 1, "n_truth": 2, "n_pred": 3,
        "precision": pytest.approx(1 / 3), "recall": 0.5, "f1": pytest.approx(2 / 5),
    }
    only_fn = counts_at([(_b(), _s(), _b(A))], 0.5)
    assert only_fn["precision"] is None and only_fn["recall"] == 0.0 and only_fn["f1"] == 0.0
    truth_no_pred = average_precision([(_b(), _s(), _b(A))])
    assert truth_no_pred.ap == 0.0 and len(truth_no_pred.precision) == 0
    nothing = counts_at([(_b(), _s(), _b())], 0.5)
    assert nothing["precision"] is None and nothing["recall"] is None and nothing["f1"] is None
    assert average_precision([]).ap is None


def test_label_without_truth_has_no_ap_and_is_left_out_of_the_mean():
    label0 = label_metrics([(_b(A), _s(0.9), _b(A))], 0.5)
    label1 = label_metrics([(_b(B), _s(0.9), _b())], 0.5)  # predictions only
    assert label1["ap_50"] is None and label1["ap_75"] is None and label1["ap_50_95"] is None
    assert label1["fp"] == 1 and label1["recall"] is None and label1["precision"] == 0.0
    assert mean_ap([label0, label1]) == {"map_50": 1.0, "map_50_95": 1.0}
    half = label_metrics([(_b(FAR, A), _s(0.9, 0.8), _b(A))], 0.5)  # AP 1/2 at every IoU
    assert mean_ap([label0, label1, half]) == {"map_50": 0.75, "map_50_95": 0.75}
    assert mean_ap([label1]) == {"map_50": None, "map_50_95": None}
    assert mean_ap([]) == {"map_50": None, "map_50_95": None}


def test_iou_050_versus_075_on_a_shifted_box():
    # shifted by 2 px: IoU 8 / 12 = 0.667: a TP at IoU 0.50 .. 0.65, a FP at 0.70 .. 0.95
    images = [(_b([2, 0, 12, 10]), _s(0.9), _b(A))]
    metrics = label_metrics(images, 0.5)
    assert metrics["ap_50"] == 1.0 and metrics["ap_75"] == 0.0
    assert metrics["ap_50_95"] == pytest.approx(0.4)  # 4 of the 10 thresholds
    assert counts_at(images, 0.5, 0.5)["tp"] == 1
    assert counts_at(images, 0.5, 0.75)["tp"] == 0


def test_score_threshold_of_the_counts():
    images = [(_b(A, FAR, B), _s(0.9, 0.6, 0.4), _b(A, B))]
    assert counts_at(images, 0.5)["tp"] == 1 and counts_at(images, 0.5)["fp"] == 1
    assert counts_at(images, 0.6)["n_pred"] == 2  # a score equal to the threshold is kept
    assert counts_at(images, 0.95)["n_pred"] == 0


# -- best score threshold ---------------------------------------------------------------------------------


def test_best_score_threshold_on_a_constructed_case():
    # truth A, B, C; ranked TP 0.9, TP 0.8, FP 0.7, FP 0.6, TP 0.5.  F1 = 2 TP / (kept + 3):
    # 0.9: 2/4 = 0.5; 0.8: 4/5 = 0.8; 0.7: 4/6; 0.6: 4/7; 0.5: 6/8 = 0.75 -> 0.8 at threshold 0.8
    images = [(_b(A, B, FAR, [60, 60, 70, 70], C), _s(0.9, 0.8, 0.7, 0.6, 0.5), _b(A, B, C))]
    threshold, f1 = best_score_threshold(images)
    assert threshold == 0.8 and f1 == pytest.approx(0.8)
    assert counts_at(images, threshold)["f1"] == pytest.approx(f1)
    # given candidates: 0.85 keeps one (F1 0.5), 0.55 keeps four (F1 4/7)
    threshold, f1 = best_score_threshold(images, candidates=[0.85, 0.55])
    assert threshold == 0.55 and f1 == pytest.approx(4 / 7)


def test_best_score_threshold_ties_go_to_the_higher_threshold():
    # truth A, B; TP 0.9, FP 0.8, FP 0.7, TP 0.6: F1 2/3 at 0.9 and at 0.6
    images = [(_b(A, FAR, [60, 60, 70, 70], B), _s(0.9, 0.8, 0.7, 0.6), _b(A, B))]
    assert best_score_threshold(images) == (0.9, pytest.approx(2 / 3))


def test_best_score_threshold_defaults_without_predictions_or_truth():
    assert best_score_threshold([(_b(), _s(), _b(A))]) == (DEFAULT_SCORE_THRESHOLD, None)
    assert best_score_threshold([(_b(A), _s(0.7), _b())]) == (DEFAULT_SCORE_THRESHOLD, None)
    assert best_score_threshold([]) == (DEFAULT_SCORE_THRESHOLD, None)
    with pytest.raises(InvalidInputError, match="candidates is empty"):
        best_score_threshold([(_b(A), _s(0.7), _b(A))], candidates=[])


# -- random cases against direct definitions --------------------------------------------------------------


def _random_images(seed: int, n_images: int = 6) -> list:
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n_images):
        n_truth = int(rng.integers(0, 8))
        truth = rng.uniform(0, 80, (n_truth, 2))
        truth = np.hstack([truth, truth + rng.uniform(5, 20, (n_truth, 2))])
        jitter = rng.normal(0, 2.5, truth.shape)
        extra = np.tile(rng.uniform(0, 80, (int(rng.integers(0, 4)), 2)), 2) + np.array([0, 0, 9, 9])
        pred = np.vstack([truth + jitter, extra])
        pred[:, 2:] = np.maximum(pred[:, 2:], pred[:, :2])
        keep = rng.random(len(pred)) < 0.85
        pred = pred[keep]
        images.append((pred, np.round(rng.random(len(pred)), 2), truth))
    return images


@pytest.mark.parametrize("seed", range(5))
def test_ap_equals_the_definition_and_counts_agree_with_the_curve(seed):
    images = _random_images(seed)
    for thr in (0.5, 0.75):
        curve = average_precision(images, thr)
        if curve.ap is None:
            continue
        # 101-point AP: at each recall point, the best precision among points with recall >= r (0 if none)
        expected = np.mean([
            curve.precision[curve.recall >= r].max() if (curve.recall >= r).any() else 0.0
            for r in RECALL_POINTS
        ])
        assert curve.ap == pytest.approx(expected)
        # the counts at a score threshold are the curve's cumulative counts at its last kept prediction
        for s in np.unique(curve.scores):
            counts = counts_at(images, s, thr)
            k = int((curve.scores >= s).sum())
            assert counts["n_pred"] == k
            assert counts["tp"] == round(curve.recall[k - 1] * curve.n_truth)
        threshold, f1 = best_score_threshold(images, thr)
        f1s = {s: counts_at(images, s, thr)["f1"] for s in np.unique(curve.scores)}
        assert f1 == pytest.approx(max(f1s.values()))
        assert threshold == max(s for s, v in f1s.items() if v == pytest.approx(f1))


# -- helpers ----------------------------------------------------------------------------------------------


def test_by_label_splits_multi_label_images():
    images = [(_b(A, B, C), _s(0.9, 0.8, 0.7), np.array([0, 1, 0]), _b(A, B), np.array([0, 1]))]
    split = by_label(images, 3)
    assert len(split) == 3 and all(len(per) == 1 for per in split)
    np.testing.assert_array_equal(split[0][0][0], _b(A, C))
    np.testing.assert_array_equal(split[0][0][1], [0.9, 0.7])
    np.testing.assert_array_equal(split[1][0][2], _b(B))
    assert split[2][0][0].shape == (0, 4) and split[2][0][2].shape == (0, 4)
    with pytest.raises(InvalidInputError, match=r"0\.\.2"):
        by_label([(_b(A), _s(0.9), np.array([3]), _b(), np.array([], dtype=int))], 3)


def test_centres_inside_a_valid_mask():
    valid = np.zeros((20, 20), dtype=bool)
    valid[:, :10] = True
    boxes = _b([0, 0, 4, 4], [8, 0, 12, 4], [8, 0, 11, 4], [-10, 0, -2, 4], [15, 30, 17, 34])
    # centres (2, 2) in; (10, 2) on column 10: out; (9.5, 2) pixel 9: in; outside the array: out
    np.testing.assert_array_equal(centres_inside(boxes, valid), [True, False, True, False, False])
    assert centres_inside(_b(), valid).shape == (0,)


def test_overlaps_computed_in_small_blocks_give_the_same_curve(monkeypatch):
    images = _random_images(7, n_images=4)
    whole = average_precision(images, 0.5)
    monkeypatch.setattr(detection, "_BLOCK_PAIRS", 3)  # a block of one or two predictions at a time
    blocked = average_precision(images, 0.5)
    assert blocked.ap == whole.ap
    np.testing.assert_array_equal(blocked.precision, whole.precision)
