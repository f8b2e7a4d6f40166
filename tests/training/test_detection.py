"""Object detection's own pieces: box targets, the loss, decoding, views and scale of the size maps, the
validation scores and tuning, and a tiny training end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.detection import scoring
from core.detection.decode import detections, label_boxes, peaks
from core.detection.loss import detection_loss, detection_loss_from_maps
from core.detection.targets import centre_targets, paint_boxes, plane_boxes
from core.training.config import LabelSpec, TrainConfig
from core.training.loop import SUCCEEDED, train
from core.training.package import load_model
from core.training.predict import predict_maps
from core.training.sources import BoxImage
from core.training.types import training_type
from core.training.validation import ValImage
from core.training.views import averaged_maps

DETECTION = training_type("detection")


def test_boxes_are_painted_largest_first_and_read_back_exactly():
    boxes = [(2, 2, 30, 30), (10, 10, 16, 40)]  # (y0, x0, y1, x1): the second overlaps the first's middle
    plane = paint_boxes(boxes, (48, 48))
    assert (plane[12, 12], plane[3, 3]) == (2, 1)  # the smaller on top
    np.testing.assert_array_equal(plane_boxes(plane), [[2, 2, 30, 30], [10, 10, 40, 16]])


def test_centre_targets_peak_at_each_centre_with_its_log_size():
    plane = paint_boxes([(10, 20, 21, 31), (40, 5, 50, 45)], (64, 64))
    t = centre_targets(plane[None])
    assert t["heat"].shape == (1, 64, 64) and t["size"].shape == (2, 64, 64)
    assert t["heat"][0, 15, 25] == 1.0 and t["heat"][0, 44, 24] == 1.0  # (21 - 1 + 10) / 2 = 15; 44.5 -> 44
    assert int((t["heat"] == 1.0).sum()) == 2
    np.testing.assert_allclose(t["size"][:, 15, 25], np.log([11, 11]), rtol=1e-6)
    np.testing.assert_allclose(t["size"][:, 44, 24], np.log([10, 40]), rtol=1e-6)
    assert t["size_weight"][15, 25] == 1.0 and t["size_weight"][0, 0] == 0.0


def _maps(centres, sizes, shape=(64, 64), n_labels=1):
    """Heat maps with Gaussian peaks at ``centres`` (label, row, col, score) and size maps."""
    heat = np.zeros((n_labels, *shape), np.float32)
    box_h, box_w = np.ones((1, *shape), np.float32), np.ones((1, *shape), np.float32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for (lab, r, c, score), (h, w) in zip(centres, sizes, strict=True):
        heat[lab] = np.maximum(heat[lab], score * np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / 8.0))
        near = (abs(yy - r) <= 3) & (abs(xx - c) <= 3)
        box_h[0][near], box_w[0][near] = h, w
    return {"heat": heat, "box_h": box_h, "box_w": box_w}


def test_decoding_finds_each_peak_with_its_box():
    maps = _maps([(0, 20, 30, 0.9), (0, 45, 10, 0.6)], [(10, 16), (8, 8)])
    rows, cols = peaks(maps["heat"][0])
    assert list(zip(rows, cols, strict=True))[:2] == [(20, 30), (45, 10)]
    boxes, scores = label_boxes(maps["heat"][0], maps["box_h"][0], maps["box_w"][0], nms_iou=0.5)
    np.testing.assert_allclose(boxes, [[22.5, 15.5, 38.5, 25.5], [6.5, 41.5, 14.5, 49.5]])
    np.testing.assert_allclose(scores, [0.9, 0.6], rtol=1e-6)
    two = _maps([(0, 20, 30, 0.9), (1, 45, 10, 0.6)], [(10, 16), (8, 8)], n_labels=2)
    _, _, labels = detections(two, [{"nms_iou": 0.5}, {"nms_iou": 0.5}])
    assert list(labels) == [0, 1]


def test_the_loss_is_low_for_the_right_maps_and_high_for_wrong_ones():
    plane = paint_boxes([(10, 20, 21, 31)], (64, 64))
    t = {k: torch.from_numpy(v).unsqueeze(0) for k, v in centre_targets(plane[None]).items()}
    t["valid"] = torch.ones(1, 64, 64, dtype=torch.bool)
    good = torch.full((1, 3, 64, 64), -8.0)
    good[0, 0, 15, 25] = 8.0
    good[0, 1:] = float(np.log(11))
    bad = torch.zeros(1, 3, 64, 64)
    assert float(detection_loss(good, t)) < 0.05 < float(detection_loss(bad, t))
    maps = DETECTION.logits_to_maps(good, 1, distance=False)
    assert float(detection_loss_from_maps(maps, t)) < 0.05
    t["valid"][:] = False  # nothing annotated: nothing to learn, and no division by zero
    assert float(detection_loss(bad, t)) == 0.0


def test_quarter_turned_views_swap_box_height_and_width_back():
    def network(batch):  # box_h follows the rows' ramp, box_w the columns'
        ramp = batch[:, :1]
        return {"box_h": (ramp[:, :, 1:2] - ramp[:, :, :1]).abs().expand_as(ramp).clone(),
                "box_w": (ramp[:, :, :, 1:2] - ramp[:, :, :, :1]).abs().expand_as(ramp).clone()}

    rows = torch.arange(8.0).reshape(1, 1, 8, 1).expand(1, 1, 8, 8).contiguous()
    maps = averaged_maps(network, rows, 8)
    assert torch.allclose(maps["box_h"], torch.ones(1, 1, 8, 8)) and float(maps["box_w"].abs().max()) == 0.0


def _val_image(boxes, shape=(64, 64)):
    plane = paint_boxes([b[1:] for b in boxes], shape)
    return ValImage("im", np.zeros((1, *shape), np.float32), plane[None], np.ones(shape, bool), list(boxes))


def test_scoring_tunes_the_merging_and_scores_perfect_maps_perfectly():
    image = _val_image([(0, 15, 25, 25, 41), (0, 40, 6, 48, 14)])  # centres (20, 33) and (44, 10)
    maps = _maps([(0, 19, 32, 0.9), (0, 43, 9, 0.6)], [(10, 16), (8, 8)])
    labels = (LabelSpec(1, "cell"),)
    params = scoring.tune([maps], [image], labels)
    assert params[0]["tuned_score"] == pytest.approx(1.0) and params[0]["nms_iou"] in scoring.NMS_GRID
    assert params[0]["score_threshold"] == pytest.approx(0.6, abs=1e-6)
    metrics = scoring.final_metrics([maps], [image], labels, params)
    assert metrics["map_50"] == pytest.approx(1.0) and metrics["mean_f1"] == pytest.approx(1.0)
    assert metrics["counts_per_image"] == [{"image": "im", "cell": {"true": 2, "predicted": 2}}]
    record = scoring.epoch_scores([maps], [image], 1)
    assert record["val_map50"] == pytest.approx(1.0) and record["val_recall"] == pytest.approx(1.0)


def test_boxes_outside_the_valid_area_are_left_out_of_the_scores():
    image = _val_image([(0, 15, 25, 25, 41), (0, 40, 6, 48, 14)])
    image.valid[32:] = False  # the second box's centre is outside the ROI
    maps = _maps([(0, 19, 32, 0.9), (0, 43, 9, 0.6)], [(10, 16), (8, 8)])
    items = scoring.label_items([maps], [image], 0, 0.5)
    assert len(items[0][0]) == len(items[0][2]) == 1


def _squares(seed: int, size: int = 64):
    rng = np.random.default_rng(seed)
    image = rng.normal(0.1, 0.03, (1, size, size)).astype(np.float32)
    boxes = []
    for k in range(3):
        y, x = 4 + 20 * k, int(rng.integers(4, size - 16))
        image[0, y : y + 12, x : x + 12] += 0.8
        boxes.append((0, y, x, y + 12, x + 12))
    return BoxImage(f"sq{seed}", image, boxes, n_labels=1)


def test_a_tiny_detection_training_writes_a_package_scored_by_map(tmp_path):
    images = [_squares(i) for i in range(6)]
    cfg = TrainConfig(training_type="detection", labels=(LabelSpec(1, "square", "#ff0000"),), patch_size=64,
                      batch_size=4, learning_rate=3e-3, max_steps=12, steps_per_epoch=6, views=2, scale=1.0,
                      **DETECTION.config_defaults)
    result = train(cfg, images[:4], images[4:], budget_seconds=600, workdir=tmp_path)
    assert result.status == SUCCEEDED and result.metrics["map_50"] is not None
    assert {"train_map50", "val_map50", "val_f1"} <= set(result.history[-1])
    assert set(result.postprocess[0]) >= {"score_threshold", "nms_iou"}
    assert result.metrics["counts_per_image"][0]["square"]["true"] == 3
    model, card = load_model(result.package_dir)
    assert card["training_type"] == "detection" and card["out_channels"] == 3
    maps = predict_maps(model, card, images[4].read(0, 0, 64, 64))
    assert maps["heat"].shape == (1, 64, 64) and maps["box_h"].shape == (1, 64, 64)


class _Constant(torch.nn.Module):
    """Logits of a one-label detection network: heat 0, box sides e^2.3 (about 10) pixels everywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        out = torch.zeros(x.shape[0], 3, *x.shape[2:]) + self.anchor
        out[:, 1:] = 2.3
        return out


def test_box_sides_found_at_a_working_scale_are_stretched_back_to_image_pixels(tmp_path):
    images = [_squares(i) for i in range(3)]
    cfg = TrainConfig(training_type="detection", labels=(LabelSpec(1, "square", "#ff0000"),), patch_size=64,
                      batch_size=2, learning_rate=3e-3, max_steps=1, steps_per_epoch=1, views=1, scale=1.0,
                      average_from=None, **DETECTION.config_defaults)
    card = train(cfg, images[:2], images[2:], budget_seconds=600, workdir=tmp_path).card
    pixels = images[0].read(0, 0, 64, 64)
    full = predict_maps(_Constant(), card, pixels)
    half = predict_maps(_Constant(), {**card, "scale": {"factor": 0.5, "rule": "set by the user"}}, pixels)
    np.testing.assert_allclose(full["box_h"], np.exp(2.3), rtol=1e-5)
    np.testing.assert_allclose(half["box_h"], 2 * np.exp(2.3), rtol=1e-5)
    np.testing.assert_allclose(half["box_w"], 2 * np.exp(2.3), rtol=1e-5)


def _two_sizes():
    """An image with 12 boxes of 40 px (label 0) and one of 20 px (label 1)."""
    image = np.zeros((1, 256, 256), np.float32)
    boxes = [(0, 4 + 60 * (k // 4), 4 + 60 * (k % 4), 44 + 60 * (k // 4), 44 + 60 * (k % 4)) for k in range(12)]
    boxes.append((1, 200, 200, 220, 220))
    return BoxImage("two", image, boxes, n_labels=2)


def test_the_working_scale_can_follow_the_label_with_the_smallest_objects():
    from core.training.scale import choose_scale

    images = [_two_sizes()]
    assert choose_scale("auto", images, max_width=16.0)["factor"] == 0.25  # the 40 px boxes decide
    chosen = choose_scale("auto", images, smallest_label=True, max_width=16.0)
    assert chosen["factor"] == 0.5 and chosen["median_width"] == 20.0


def test_patches_centre_on_a_rare_label_as_often_as_on_a_common_one():
    from core.training.sampling import PatchSampler

    cfg = TrainConfig(training_type="detection", labels=(LabelSpec(1, "a"), LabelSpec(2, "b")), patch_size=64,
                      object_bias=1.0, **DETECTION.config_defaults)
    sampler = PatchSampler([_two_sizes()], cfg, {"method": "percentile", "scope": "dataset", "low": [0.0],
                                                 "high": [1.0]}, batch_size=1)
    rng = np.random.default_rng(0)
    corners = [sampler._corner(sampler.images[0], rng, 0) for _ in range(400)]
    near_rare = np.mean([y >= 150 and x >= 150 for y, x in corners])
    assert 0.4 < near_rare < 0.6  # one box of 13, drawn about half the time
