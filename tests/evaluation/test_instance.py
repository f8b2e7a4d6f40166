import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from core.errors import InvalidInputError
from core.evaluation.instance import (
    THRESHOLDS,
    InstanceCounts,
    instance_scores,
    match_instances,
    matched_pairs,
)
from tests.evaluation.helpers import random_discs


def test_thresholds_are_dsb2018():
    assert THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def test_perfect_match():
    gt = np.zeros((8, 8), dtype=np.int32)
    gt[0:2, 0:2] = 1
    gt[4:8, 4:8] = 2
    counts = match_instances(gt, gt)
    assert counts.tp.tolist() == [2] * 10
    assert counts.fp.tolist() == [0] * 10 and counts.fn.tolist() == [0] * 10
    s = instance_scores(counts)
    assert (s["precision"], s["recall"], s["f1"], s["mean_matched_iou"], s["mean_ap"]) == (1, 1, 1, 1, 1)
    assert s["ap"] == [1.0] * 10


def test_partial_overlap_matches_up_to_its_iou():
    gt = np.zeros((2, 10), dtype=np.int32)
    gt[:, :] = 1  # 20 px
    pred = np.zeros_like(gt)
    pred[:, :7] = 4  # 14 px inside gt: IoU 0.7
    counts = match_instances(pred, gt)
    assert counts.tp.tolist() == [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert counts.fp.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert counts.fn.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    s = instance_scores(counts)
    assert s["f1"] == 1.0
    assert s["mean_matched_iou"] == pytest.approx(0.7)
    assert s["ap"] == [1.0] * 5 + [0.0] * 5
    assert s["mean_ap"] == pytest.approx(0.5)


def test_half_overlap_is_not_a_match():
    gt = np.zeros((2, 8), dtype=np.int32)
    gt[:, 0:4] = 1  # 8 px
    pred = np.zeros_like(gt)
    pred[:, 2:6] = 1  # 8 px, 4 shared: IoU 4 / 12
    s = instance_scores(match_instances(pred, gt))
    assert (s["tp"], s["fp"], s["fn"]) == (0, 1, 1)
    assert (s["precision"], s["recall"], s["f1"]) == (0.0, 0.0, 0.0)
    assert s["mean_matched_iou"] is None
    assert s["mean_ap"] == 0.0


def test_false_positive_and_false_negative():
    gt = np.zeros((10, 10), dtype=np.int32)
    gt[0:3, 0:3] = 1
    gt[6:9, 0:3] = 2  # missed
    pred = np.zeros_like(gt)
    pred[0:3, 0:3] = 1
    pred[0:3, 6:9] = 2  # nothing there
    s = instance_scores(match_instances(pred, gt))
    assert (s["n_gt"], s["n_pred"], s["tp"], s["fp"], s["fn"]) == (2, 2, 1, 1, 1)
    assert (s["precision"], s["recall"], s["f1"]) == (0.5, 0.5, 0.5)
    assert s["ap"] == [pytest.approx(1 / 3)] * 10


def test_split_object_matches_once_at_iou_half():
    gt = np.zeros((2, 8), dtype=np.int32)
    gt[:, :] = 1  # 16 px
    pred = np.zeros_like(gt)
    pred[:, :4] = 1  # 8 px, IoU 0.5
    pred[:, 4:] = 2  # 8 px, IoU 0.5: the same gt object cannot match twice
    counts = match_instances(pred, gt)
    assert (counts.tp[0], counts.fp[0], counts.fn[0]) == (1, 1, 0)
    assert (counts.tp[1], counts.fp[1], counts.fn[1]) == (0, 2, 1)
    assert len(matched_pairs(pred, gt)) == 1


def test_matching_prefers_the_higher_iou_among_equal_counts():
    gt = np.zeros((2, 9), dtype=np.int32)
    gt[:, :8] = 1  # 16 px
    pred = np.zeros_like(gt)
    pred[:, :4] = 1  # IoU 8/16 = 0.5
    pred[:, 4:9] = 2  # IoU 8/18 < 0.5
    pred2 = np.zeros((2, 9), dtype=np.int32)
    pred2[:, :5] = 7  # IoU 10/16
    pred2[:, 5:] = 8  # IoU 6/18
    assert matched_pairs(pred, gt) == [(1, 1, 0.5)]
    assert matched_pairs(pred2, gt, threshold=0.5) == [(7, 1, pytest.approx(10 / 16))]


def test_empty_gt_and_empty_pred_give_none():
    empty = np.zeros((5, 5), dtype=np.int32)
    s = instance_scores(match_instances(empty, empty))
    for key in ("precision", "recall", "f1", "mean_matched_iou", "mean_ap"):
        assert s[key] is None
    assert s["ap"] == [None] * 10
    assert (s["n_gt"], s["n_pred"], s["tp"]) == (0, 0, 0)


def test_predictions_on_empty_ground_truth():
    gt = np.zeros((5, 5), dtype=np.int32)
    pred = gt.copy()
    pred[1:3, 1:3] = 1
    s = instance_scores(match_instances(pred, gt))
    assert (s["precision"], s["recall"], s["f1"], s["mean_ap"]) == (0.0, None, 0.0, 0.0)


def test_valid_mask_ignores_objects_mostly_outside():
    gt = np.zeros((4, 12), dtype=np.int32)
    pred = np.zeros_like(gt)
    valid = np.zeros(gt.shape, dtype=bool)
    valid[:, :6] = True
    pred[0:2, 0:4] = 1  # inside, matches gt 1
    gt[0:2, 0:4] = 1
    pred[2:4, 4:8] = 2  # half inside: counted, no gt -> FP
    pred[0:2, 5:11] = 3  # 1 of 6 columns inside: ignored
    gt[2:4, 9:12] = 2  # outside: ignored
    counts = match_instances(pred, gt, valid)
    assert (counts.n_pred, counts.n_gt) == (2, 1)
    assert (counts.tp[0], counts.fp[0], counts.fn[0]) == (1, 1, 0)
    without = match_instances(pred, gt)
    assert (without.n_pred, without.n_gt, without.tp[0]) == (3, 2, 1)


def test_counts_add_up_across_images():
    a_gt, b_gt = random_discs((40, 50), 12, 1), random_discs((40, 30), 8, 2)
    a_pred, b_pred = random_discs((40, 50), 12, 3), random_discs((40, 30), 8, 4)
    a_pred[a_gt > 0] = a_gt[a_gt > 0] + 100  # some good matches
    offset = 1000  # keep the second image's labels distinct when joined
    joined = match_instances(
        np.hstack([a_pred, np.where(b_pred > 0, b_pred + offset, 0)]),
        np.hstack([a_gt, np.where(b_gt > 0, b_gt + offset, 0)]),
    )
    summed = match_instances(a_pred, a_gt) + match_instances(b_pred, b_gt)
    assert summed == joined
    assert sum([match_instances(a_pred, a_gt), match_instances(b_pred, b_gt)]) == joined
    assert summed.tp[0] > 0
    assert instance_scores(summed) == instance_scores(joined)


def brute_force_tp(pred, gt):
    """Dense IoU matrix and assignment per threshold: the slow reference."""
    p_ids = [i for i in np.unique(pred) if i]
    g_ids = [i for i in np.unique(gt) if i]
    iou = np.zeros((len(g_ids), len(p_ids)))
    for r, g in enumerate(g_ids):
        for c, p in enumerate(p_ids):
            inter = np.sum((gt == g) & (pred == p))
            iou[r, c] = inter / np.sum((gt == g) | (pred == p))
    tps = []
    for t in THRESHOLDS:
        ok = iou >= t - 1e-9
        rows, cols = linear_sum_assignment(-ok.astype(float))
        tps.append(int(ok[rows, cols].sum()))
    return tps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force_reference(seed):
    gt = random_discs((48, 48), 15, seed)
    pred = random_discs((48, 48), 15, seed + 50)
    pred[gt > 0] = np.where(np.arange(gt.size).reshape(gt.shape)[gt > 0] % 5 == 0, 0, gt[gt > 0] + 30)
    counts = match_instances(pred, gt)
    assert counts.tp.tolist() == brute_force_tp(pred, gt)


def test_many_objects_and_sparse_large_label_values():
    # 1024 squares of 4x4 on a grid; prediction shifted by one column: IoU 12/20 = 0.6
    gt = np.zeros((256, 256), dtype=np.int64)
    pred = np.zeros_like(gt)
    label = 0
    for r in range(0, 256, 8):
        for c in range(0, 256, 8):
            label += 1
            gt[r : r + 4, c : c + 4] = label
            pred[r : r + 4, c + 1 : c + 5] = label * 1_000_003  # huge, sparse ids
    counts = match_instances(pred, gt)
    assert counts.n_gt == counts.n_pred == 1024
    assert counts.tp.tolist() == [1024, 1024, 1024] + [0] * 7
    assert counts.matched_iou_sum == pytest.approx(1024 * 0.6)
    assert matched_pairs(pred, gt)[0] == (1_000_003, 1, pytest.approx(0.6))


def test_counts_round_trip_through_dict():
    counts = match_instances(random_discs((30, 30), 5, 7), random_discs((30, 30), 5, 8))
    assert InstanceCounts.from_dict(counts.to_dict()) == counts
    assert InstanceCounts() + counts == counts


@pytest.mark.parametrize(
    ("pred", "gt", "message"),
    [
        (np.zeros((4, 4)), np.zeros((4, 4), np.int32), "integer label image"),
        (np.full((4, 4), -1), np.zeros((4, 4), np.int32), "negative"),
        (np.zeros((4, 4), np.int32), np.zeros((4, 5), np.int32), "shape"),
        (np.zeros((1, 4, 4), np.int32), np.zeros((1, 4, 4), np.int32), r"\(H, W\)"),
    ],
)
def test_bad_inputs_raise_with_a_message(pred, gt, message):
    with pytest.raises(InvalidInputError, match=message):
        match_instances(pred, gt)


def test_prepared_ground_truth_gives_the_same_table():
    from core.evaluation.instance import counts_from_overlaps, overlap_table, prepare_ground_truth

    gt = random_discs((40, 40), 10, 11)
    pred = random_discs((40, 40), 10, 12)
    valid = np.ones(gt.shape, dtype=bool)
    valid[:, 30:] = False
    truth = prepare_ground_truth(gt, valid)
    assert counts_from_overlaps(overlap_table(pred, truth)) == match_instances(pred, gt, valid)
    with pytest.raises(InvalidInputError, match="already part"):
        overlap_table(pred, truth, valid)
    with pytest.raises(InvalidInputError, match="prepared ground truth has shape"):
        overlap_table(pred[:, :20], truth)
