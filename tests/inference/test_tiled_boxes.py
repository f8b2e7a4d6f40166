"""Tiled prediction to boxes: objects on tile borders counted once and whole, agreement with a whole-image
decode, the halo from the card, a working scale below 1, flat streaming over a reader, cancel."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from core.detection.decode import detections
from core.errors import InvalidInputError
from core.imaging import open_image
from core.inference import PredictionCancelled, Predictor
from core.inference.boxes import _grid_nms, _nms
from core.inference.grid import Grid
from core.inference.tiled_boxes import box_halo, box_tile, predict_boxes
from core.training.predict import predict_maps
from tests.inference.box_helpers import PointwiseBoxes, box_picture, boxes_card
from tests.inference.helpers import Pointwise, pointwise_card, whole_image_maps

TILE, HALO, BLOCK = 64, 32, 128


def _borders(size: int) -> list[int]:
    """Where the tile cores of an image side of ``size`` start (besides 0)."""
    grid = Grid(size, size, TILE, HALO, BLOCK, 32)
    starts = {t.core_y[0] for r in range(grid.rows) for c in range(grid.cols) for t in grid.tiles(r, c)}
    return sorted(starts - {0})


def _sorted(boxes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((boxes[:, 1], boxes[:, 0], labels))
    return boxes[order], labels[order]


@pytest.mark.parametrize("nms_iou", [0.5, 1.0])  # 1.0: no merging at all, the tiles' cores alone decide
def test_objects_on_tile_borders_are_counted_once_and_whole(nms_iou):
    h, w = 300, 360
    rows, cols = _borders(h), _borders(w)
    assert len(rows) >= 3 and len(cols) >= 3  # several seams each way
    objects = []
    for b in cols[:3]:  # centres just left of, on and right of vertical seams (the centre pixel decides)
        objects += [(0, 40, b - 1, 56.0), (0, 110, b, 44.0)]
    for b in rows[:3]:  # and of horizontal seams
        objects += [(1, b - 1, 330, 50.0), (1, b, 20, 36.0)]
    objects += [(0, rows[1], cols[1], 60.0)]  # where four tiles meet, as large as the halo allows
    objects += [(1, rows[1], cols[1], 60.0)]  # another label at the same place (sides shared): both kept
    objects += [(0, 0, 200, 30.0), (0, h - 1, w - 1, 30.0)]  # on the image's edges: clipped, kept
    picture, expected, labels = box_picture((h, w), objects, n_labels=2)
    predictor = Predictor(PointwiseBoxes(2), boxes_card(2, nms_iou=nms_iou), batch_size=3)

    result = predict_boxes(picture, predictor, tile=TILE, halo=HALO, block=BLOCK)

    assert result.tiles > 20 and result.halo == HALO
    assert result.counts == [int((labels == 0).sum()), int((labels == 1).sum())]
    got, got_labels = _sorted(result.boxes, result.labels)
    want, want_labels = _sorted(expected, labels)
    np.testing.assert_array_equal(got_labels, want_labels)
    np.testing.assert_allclose(got, want, atol=1e-3)  # every box its full size: none cut at a seam
    assert (result.scores > 0.99).all()


def test_a_duplicate_across_a_seam_is_merged_into_the_higher_scoring_box():
    h, w = 160, 200
    seam = _borders(w)[0]
    objects = [(0, 80, seam - 3, 40.0), (0, 80, seam + 3, 40.0), (0, 30, 30, 20.0)]  # the first two: IoU 0.74
    picture, expected, _ = box_picture((h, w), objects, radius=3, peak={1: 230})
    predictor = Predictor(PointwiseBoxes(1), boxes_card(1, nms_iou=0.5))
    result = predict_boxes(picture, predictor, tile=TILE, halo=HALO, block=BLOCK)
    assert result.counts == [2]
    got = result.boxes[np.argsort(result.boxes[:, 1])]
    np.testing.assert_allclose(got, expected[[2, 0]], atol=1e-3)  # the weaker right-hand twin is gone


def test_tiled_boxes_equal_the_whole_image_decode():
    rng = np.random.default_rng(4)
    h, w = 256, 320
    objects = []
    for _ in range(40):
        objects.append((int(rng.integers(2)), int(rng.integers(h)), int(rng.integers(w)),
                        float(rng.uniform(12, 50))))
    picture, _, _ = box_picture((h, w), objects, n_labels=2, radius=6)
    predictor = Predictor(PointwiseBoxes(2), boxes_card(2, nms_iou=0.4))
    result = predict_boxes(picture, predictor, tile=TILE, halo=HALO, block=BLOCK)
    boxes, scores, labels = detections(whole_image_maps(predictor, picture), predictor.postprocess)
    above = scores >= 0.5
    got, got_labels = _sorted(result.boxes, result.labels)
    want, want_labels = _sorted(boxes[above], labels[above])
    np.testing.assert_array_equal(got_labels, want_labels)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_the_halo_covers_the_largest_training_box():
    predictor = Predictor(PointwiseBoxes(1), boxes_card(1))
    assert box_halo(predictor) == predictor.halo == 64  # no largest_box: the network's own halo
    big = Predictor(PointwiseBoxes(1), boxes_card(1, largest_box=300))
    assert box_halo(big) == 192  # 300 * 1.25 / 2 = 187.5, rounded up to a multiple of 32
    assert box_halo(Predictor(PointwiseBoxes(1), boxes_card(1, largest_box=40))) == 64


def test_box_sides_are_in_image_pixels_at_a_working_scale_below_one():
    h, w = 256, 256
    picture, expected, _ = box_picture((h, w), [(0, 64, 64, 30.0), (0, 160, 190, 24.0)], radius=12)
    card = boxes_card(1, scale={"factor": 0.5, "rule": "set by the user"})
    predictor = Predictor(PointwiseBoxes(1), card)
    result = predict_boxes(picture, predictor, tile=TILE, halo=HALO, block=BLOCK)
    boxes, scores, _ = detections(predict_maps(predictor.model, card, picture), predictor.postprocess)
    whole = boxes[scores >= 0.5]
    assert len(result.boxes) == len(whole) == 2
    sides = result.boxes[:, 2:] - result.boxes[:, :2]
    want = np.sort(2 * (expected[:, 2] - expected[:, 0]))
    np.testing.assert_allclose(np.sort(sides[:, 0]), want, rtol=0.02)
    np.testing.assert_allclose(result.boxes[np.argsort(result.boxes[:, 0])], whole[np.argsort(whole[:, 0])],
                               atol=1.0)


def test_a_reader_is_predicted_region_by_region_with_progress_and_cancel(tmp_path):
    picture, _, _ = box_picture((200, 260), [(0, 50, 60, 30.0), (0, 150, 200, 30.0)])
    path = tmp_path / "picture.tif"
    tifffile.imwrite(path, picture, tile=(64, 64), photometric="minisblack", planarconfig="separate")
    predictor = Predictor(PointwiseBoxes(1), boxes_card(1))
    seen = []
    with open_image(path) as reader:
        result = predict_boxes(reader, predictor, tile=TILE, halo=HALO, block=BLOCK, on_progress=seen.append)
        assert len(result.boxes) == 2 and seen[-1] == 1.0 and seen == sorted(seen)
        with pytest.raises(PredictionCancelled):
            predict_boxes(reader, predictor, tile=TILE, halo=HALO, block=BLOCK, should_stop=lambda: True)


def test_a_segmentation_model_is_refused():
    predictor = Predictor(Pointwise("semantic"), pointwise_card("semantic"))
    with pytest.raises(InvalidInputError, match="label images, not boxes"):
        predict_boxes(np.zeros((64, 64), np.uint8), predictor)


def test_grid_nms_keeps_exactly_what_greedy_nms_keeps():
    rng = np.random.default_rng(1)
    n = 1500
    xy = rng.uniform(0, 800, (n, 2))
    wh = rng.uniform(4, 40, (n, 2))
    wh[::97] *= 12  # a few large boxes across many cells
    boxes = np.concatenate([xy, xy + wh], axis=1)
    boxes[::211, 2] = boxes[::211, 0]  # boxes without area
    scores = np.round(rng.random(n), 2)  # ties: the lower index first
    for thr in (0.0, 0.3, 0.7):
        order = np.argsort(-scores, kind="stable")
        keep = []
        while order.size:
            keep.append(order[0])
            rest = order[1:]
            order = rest[_small(boxes, order[0], rest) <= thr]
        np.testing.assert_array_equal(_grid_nms(boxes, scores, thr), keep)
        np.testing.assert_array_equal(_nms(boxes, scores, thr), keep)


def _small(boxes, best, rest):
    from core.evaluation.detection import box_iou

    return box_iou(boxes[best : best + 1], boxes[rest])[0]


def test_the_tile_grows_for_a_model_working_at_a_lower_scale():
    assert box_tile(Predictor(PointwiseBoxes(1), boxes_card(1))) == 512
    half = boxes_card(1, scale={"factor": 0.5, "rule": "set by the user"})
    quarter = boxes_card(1, scale={"factor": 0.25, "rule": "auto"})
    assert box_tile(Predictor(PointwiseBoxes(1), half)) == 1024
    assert box_tile(Predictor(PointwiseBoxes(1), quarter)) == 1024  # at most MAX_TILE


def test_a_tile_keeps_every_object_however_many():
    objects = [(0, r, c, 6.0) for r in range(4, 400, 9) for c in range(4, 400, 9)]  # 1,936 in one tile
    picture, expected, _ = box_picture((400, 400), objects, radius=3)
    predictor = Predictor(PointwiseBoxes(1), boxes_card(1, nms_iou=1.0))
    result = predict_boxes(picture, predictor, tile=512, halo=HALO)
    assert result.tiles == 1 and len(result.boxes) == len(objects) > 1000
    np.testing.assert_allclose(result.boxes[np.lexsort((result.boxes[:, 0], result.boxes[:, 1]))],
                               expected[np.lexsort((expected[:, 0], expected[:, 1]))], atol=1e-3)
