"""Box post-processing: NMS (hand cases, per label), centre ownership, merging of overlapping tiles."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.inference.boxes import batched_nms, centres_in, clip_boxes, merge_tiles, nms


def _b(*rows) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


A = [0.0, 0.0, 10.0, 10.0]
A_SHIFT = [2.0, 0.0, 12.0, 10.0]  # IoU with A: 8 / 12 = 0.667
A_HALF = [5.0, 0.0, 15.0, 10.0]  # IoU with A: 50 / 150 = 1/3; with A_SHIFT: 70 / 130
FAR = [50.0, 50.0, 60.0, 60.0]


# -- NMS -------------------------------------------------------------------------------------------------


def test_nms_hand_cases():
    boxes = _b(A, A_SHIFT, FAR)
    scores = np.array([0.9, 0.8, 0.7])
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [0, 2])
    np.testing.assert_array_equal(nms(boxes, scores, 0.7), [0, 1, 2])
    # the kept order is the score order
    np.testing.assert_array_equal(nms(boxes, np.array([0.1, 0.8, 0.9]), 0.5), [2, 1])
    # an IoU equal to the threshold is not suppressed (suppression needs IoU > threshold)
    np.testing.assert_array_equal(nms(_b(A, A_HALF), np.array([0.9, 0.8]), 1 / 3), [0, 1])
    assert nms(_b(), np.zeros(0), 0.5).shape == (0,)


def test_nms_suppressed_boxes_do_not_suppress_others():
    # A_SHIFT is suppressed by A; A_HALF overlaps A_SHIFT (0.54) but A only by 1/3: A_HALF stays
    boxes = _b(A, A_SHIFT, A_HALF)
    np.testing.assert_array_equal(nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5), [0, 2])


def test_nms_ties_keep_the_lower_index():
    np.testing.assert_array_equal(nms(_b(A_SHIFT, A), np.array([0.8, 0.8]), 0.5), [0])
    np.testing.assert_array_equal(nms(_b(A, A_SHIFT), np.array([0.8, 0.8]), 0.5), [0])


def test_batched_nms_works_per_label():
    boxes = _b(A, A, A_SHIFT, FAR)
    scores = np.array([0.9, 0.6, 0.8, 0.7])
    labels = np.array([0, 1, 0, 1])
    # label 0: A beats A_SHIFT; label 1: A (0.6) and FAR do not overlap; the same box in two labels stays
    np.testing.assert_array_equal(batched_nms(boxes, scores, labels, 0.5), [0, 3, 1])
    # per-label thresholds: 0.7 keeps A_SHIFT in label 0
    np.testing.assert_array_equal(batched_nms(boxes, scores, labels, [0.7, 0.5]), [0, 2, 3, 1])
    with pytest.raises(InvalidInputError, match="one threshold per label"):
        batched_nms(boxes, scores, labels, [0.5])
    with pytest.raises(InvalidInputError, match="one label per box"):
        batched_nms(boxes, scores, labels[:2], 0.5)


# -- centres and clipping ---------------------------------------------------------------------------------


def test_centres_in_assigns_every_box_to_exactly_one_region_of_a_partition():
    rng = np.random.default_rng(0)
    corner = rng.integers(-5, 95, (400, 2)).astype(float)
    boxes = np.hstack([corner, corner + rng.integers(0, 12, (400, 2))])  # many centres on whole/half pixels
    edges_y, edges_x = [0, 30, 31, 64, 90], [0, 25, 50, 90]
    regions = [
        (y0, x0, y1, x1) for y0, y1 in itertools.pairwise(edges_y) for x0, x1 in itertools.pairwise(edges_x)
    ]
    owners = np.stack([centres_in(boxes, r) for r in regions]).sum(axis=0)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    inside_image = (cx >= 0) & (cx < 90) & (cy >= 0) & (cy < 90)
    np.testing.assert_array_equal(owners, inside_image.astype(int))


def test_centre_on_a_border_belongs_to_the_region_right_and_below():
    box = _b([40, 10, 60, 30])  # centre (50, 20)
    assert not centres_in(box, (0, 0, 50, 50))[0]  # x = 50 is the left region's (exclusive) end
    assert centres_in(box, (0, 50, 50, 100))[0]
    assert centres_in(box, (20, 50, 40, 100))[0]  # y = 20 is this region's first row
    assert not centres_in(box, (0, 50, 20, 100))[0]


def test_clip_boxes():
    clipped = clip_boxes(_b([-5, -3, 10, 10], [90, 95, 130, 120], [200, 200, 210, 210]), 100, 120)
    np.testing.assert_array_equal(clipped, _b([0, 0, 10, 10], [90, 95, 120, 100], [120, 100, 120, 100]))


# -- merging tiles ----------------------------------------------------------------------------------------


def _tile_grid(height: int, width: int, step: int, margin: int):
    """(core, extent) of each tile: cores of ``step`` px partition the image, extents add ``margin``."""
    for y0 in range(0, height, step):
        for x0 in range(0, width, step):
            core = (y0, x0, min(y0 + step, height), min(x0 + step, width))
            extent = (max(y0 - margin, 0), max(x0 - margin, 0),
                      min(y0 + step + margin, height), min(x0 + step + margin, width))
            yield core, extent


def _detect_in_tile(objects: np.ndarray, labels: np.ndarray, extent) -> tuple:
    """What an ideal model sees in a tile: every object it shows at least partly, clipped to the tile.

    Cut-off objects get a HIGHER score than whole ones, so only the centre rule (not NMS) can drop them.
    """
    y0, x0, y1, x1 = extent
    boxes = objects.copy()
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], x0, x1)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], y0, y1)
    seen = ((boxes[:, 2] - boxes[:, 0]) > 0) & ((boxes[:, 3] - boxes[:, 1]) > 0)
    whole = np.all(boxes == objects, axis=1)
    scores = np.where(whole, 0.6, 0.95)
    return boxes[seen], scores[seen], labels[seen]


def _merge_simulated(objects, labels, height, width, step, margin, iou_threshold=0.5):
    parts = []
    for core, extent in _tile_grid(height, width, step, margin):
        boxes, scores, tile_labels = _detect_in_tile(objects, labels, extent)
        parts.append((boxes, scores, tile_labels, core))
    return merge_tiles(parts, iou_threshold)


def test_objects_on_tile_borders_come_back_once_with_their_full_box():
    # a 100 x 100 image in 2 x 2 tiles with cores of 50 px and a 12 px margin; objects up to 10 px
    objects = _b(
        [45, 20, 55, 28],  # centre x = 50: on the vertical border
        [20, 46, 28, 54],  # centre y = 50: on the horizontal border
        [45, 45, 55, 55],  # centre (50, 50): on the corner of all four tiles
        [41, 70, 50, 78],  # ends exactly on the border, inside the left tiles
        [50, 80, 59, 88],  # starts exactly on the border
        [44, 2, 54, 10],  # crosses the border, centre 49: left tile
        [5, 5, 15, 15],  # far from any border
        [45, 45, 55, 55],  # the same box as the corner one, another label
    )
    labels = np.array([0, 0, 1, 0, 1, 0, 0, 0])
    boxes, scores, out_labels = _merge_simulated(objects, labels, 100, 100, step=50, margin=12)
    assert len(boxes) == len(objects)
    np.testing.assert_array_equal(scores, 0.6)  # every one is a whole view
    got = {(int(label), tuple(box)) for box, label in zip(boxes, out_labels, strict=True)}
    assert got == {(int(label), tuple(box)) for box, label in zip(objects, labels, strict=True)}
    assert np.all(np.diff(out_labels) >= 0)  # sorted by label


@pytest.mark.parametrize("seed", range(4))
def test_random_objects_across_many_tiles_are_recovered_exactly(seed):
    rng = np.random.default_rng(seed)
    height, width, step, margin = 173, 211, 40, 16
    # objects on a jittered grid (no two overlap), sizes up to 14 px < margin, many on tile borders
    ys, xs = np.meshgrid(np.arange(0, height - 15, 17), np.arange(0, width - 15, 17), indexing="ij")
    corner = np.stack([xs.ravel(), ys.ravel()], axis=1) + rng.integers(0, 3, (xs.size, 2))
    size = rng.integers(2, 15, (xs.size, 2))
    objects = np.hstack([corner, corner + size]).astype(float)
    objects = objects[(objects[:, 2] <= width) & (objects[:, 3] <= height)]
    labels = rng.integers(0, 3, len(objects))
    boxes, scores, out_labels = _merge_simulated(objects, labels, height, width, step, margin)
    order = np.lexsort((objects[:, 1], objects[:, 0], labels))
    got = np.lexsort((boxes[:, 1], boxes[:, 0], out_labels))
    np.testing.assert_array_equal(scores, 0.6)  # only whole views survive
    np.testing.assert_array_equal(boxes[got], objects[order])
    np.testing.assert_array_equal(out_labels[got], labels[order])


def test_merge_tiles_removes_duplicates_near_seams_and_sorts_by_label_then_score():
    # two tiles whose model found the same object twice (both centred in their own core)
    # (centres x 49.5 and 51, IoU 37 / 40)
    left = (_b([30, 10, 69, 20], [10, 60, 20, 70]), np.array([0.7, 0.4]), np.array([1, 0]), (0, 0, 100, 50))
    right = (_b([32, 10, 70, 20]), np.array([0.9]), np.array([1]), (0, 50, 100, 100))
    boxes, scores, labels = merge_tiles([left, right], 0.5)
    np.testing.assert_array_equal(labels, [0, 1])
    np.testing.assert_array_equal(boxes, _b([10, 60, 20, 70], [32, 10, 70, 20]))
    np.testing.assert_array_equal(scores, [0.4, 0.9])
    empty = merge_tiles([], 0.5)
    assert empty[0].shape == (0, 4) and empty[1].shape == (0,) and empty[2].dtype == np.int64
    with pytest.raises(InvalidInputError, match="core_region"):
        merge_tiles([left[:3]], 0.5)
