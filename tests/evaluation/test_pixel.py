import numpy as np
import pytest

from core.errors import InvalidInputError
from core.evaluation.pixel import pixel_counts, pixel_scores


def square(r0, r1, c0, c1, shape=(6, 6)):
    m = np.zeros(shape, dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def test_perfect_match():
    gt = square(1, 3, 1, 3)
    counts = pixel_counts(gt[None], gt[None])
    assert counts.dtype == np.int64
    assert counts.tolist() == [[4, 0, 0, 32]]
    assert pixel_scores(counts) == [
        {"iou": 1.0, "dice": 1.0, "precision": 1.0, "recall": 1.0, "accuracy": 1.0}
    ]


def test_half_overlap_hand_counted():
    pred = square(1, 3, 1, 3)  # 4 px
    gt = square(1, 3, 2, 4)  # 4 px, 2 shared
    counts = pixel_counts(pred[None], gt[None])
    assert counts.tolist() == [[2, 2, 2, 30]]
    (s,) = pixel_scores(counts)
    assert s["iou"] == pytest.approx(2 / 6)
    assert s["dice"] == pytest.approx(0.5)
    assert s["precision"] == pytest.approx(0.5)
    assert s["recall"] == pytest.approx(0.5)
    assert s["accuracy"] == pytest.approx(32 / 36)


def test_false_positive_only_and_false_negative_only():
    empty = np.zeros((6, 6), dtype=bool)
    blob = square(0, 2, 0, 2)
    (fp,) = pixel_scores(pixel_counts(blob[None], empty[None]))
    assert fp == {"iou": 0.0, "dice": 0.0, "precision": 0.0, "recall": None, "accuracy": 32 / 36}
    (fn,) = pixel_scores(pixel_counts(empty[None], blob[None]))
    assert fn == {"iou": 0.0, "dice": 0.0, "precision": None, "recall": 0.0, "accuracy": 32 / 36}


def test_empty_gt_and_empty_pred_give_none_not_zero_or_nan():
    empty = np.zeros((1, 4, 4), dtype=bool)
    (s,) = pixel_scores(pixel_counts(empty, empty))
    assert s == {"iou": None, "dice": None, "precision": None, "recall": None, "accuracy": 1.0}


def test_valid_mask_excludes_pixels_without_ground_truth():
    pred = square(0, 2, 0, 6)  # top two rows
    gt = square(0, 1, 0, 6)  # top row
    valid = square(0, 6, 0, 3)  # left half carries ground truth
    counts = pixel_counts(pred[None], gt[None], valid)
    # left half: 6 pred px, 3 gt px (all inside pred), 18 px in all
    assert counts.tolist() == [[3, 3, 0, 12]]
    nothing_valid = np.zeros((6, 6), dtype=bool)
    (s,) = pixel_scores(pixel_counts(pred[None], gt[None], nothing_valid))
    assert s == {"iou": None, "dice": None, "precision": None, "recall": None, "accuracy": None}


def test_labels_are_counted_independently_and_may_overlap():
    pred = np.stack([square(0, 2, 0, 2), square(0, 2, 0, 4)])
    gt = np.stack([square(0, 2, 0, 2), square(0, 2, 0, 2)])
    counts = pixel_counts(pred, gt)
    assert counts.tolist() == [[4, 0, 0, 32], [4, 4, 0, 28]]
    scores = pixel_scores(counts)
    assert [s["iou"] for s in scores] == [1.0, 0.5]


def test_counts_add_up_across_images():
    rng = np.random.default_rng(0)
    a_pred, a_gt = rng.random((2, 3, 7, 5)) > 0.5
    b_pred, b_gt = rng.random((2, 3, 7, 9)) > 0.4
    a_valid = rng.random((7, 5)) > 0.2
    b_valid = rng.random((7, 9)) > 0.2
    summed = pixel_counts(a_pred, a_gt, a_valid) + pixel_counts(b_pred, b_gt, b_valid)
    joined = pixel_counts(
        np.concatenate([a_pred, b_pred], axis=2),
        np.concatenate([a_gt, b_gt], axis=2),
        np.concatenate([a_valid, b_valid], axis=1),
    )
    assert np.array_equal(summed, joined)
    assert pixel_scores(summed) == pixel_scores(joined)


def test_two_dimensional_masks_count_as_one_label_and_01_integers_are_masks():
    gt = square(1, 3, 1, 3)
    assert pixel_counts(gt.astype(np.uint8), gt).tolist() == [[4, 0, 0, 32]]
    assert pixel_scores(np.array([4, 0, 0, 32]))[0]["iou"] == 1.0


@pytest.mark.parametrize(
    ("pred", "gt", "valid", "message"),
    [
        (np.zeros((1, 4, 4), bool), np.zeros((1, 4, 5), bool), None, "shape"),
        (np.zeros((1, 4, 4)), np.zeros((1, 4, 4), bool), None, "bool mask"),
        (np.full((1, 4, 4), 3), np.zeros((1, 4, 4), bool), None, "0 and 1"),
        (np.zeros((1, 4, 4), bool), np.zeros((1, 4, 4), bool), np.ones((3, 3), bool), "valid"),
        (np.zeros(4, bool), np.zeros(4, bool), None, "dimensions"),
    ],
)
def test_bad_inputs_raise_with_a_message(pred, gt, valid, message):
    with pytest.raises(InvalidInputError, match=message):
        pixel_counts(pred, gt, valid)


def test_bad_counts_raise():
    with pytest.raises(InvalidInputError, match="tp, fp, fn, tn"):
        pixel_scores(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(InvalidInputError, match="non-negative integers"):
        pixel_scores(np.array([[1.5, 0, 0, 0]]))
