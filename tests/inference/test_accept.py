"""Accepting predictions as annotations: shapes with source "prediction" that rasterise to the objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.annotations.raster import instance_labels, semantic_masks
from core.errors import AnnotationError, InvalidInputError
from core.inference import Predictor, predict_image, prediction_to_shapes, read_prediction_region
from tests.evaluation.helpers import random_discs
from tests.inference.helpers import Pointwise, bumps, pointwise_card, same_objects


def test_instance_planes_become_one_polygon_per_object():
    first = random_discs((80, 90), 12, seed=3)
    second = random_discs((80, 90), 5, seed=4)
    shapes = prediction_to_shapes(np.stack([first, second]), [21, 22])
    assert {s.source for s in shapes} == {"prediction"} and {s.kind for s in shapes} == {"annotation"}
    mine = [s for s in shapes if s.label_id == 21]
    assert len(mine) >= len(np.unique(first)) - 1
    back = instance_labels(shapes, 21, first.shape)
    assert np.array_equal(back > 0, first > 0)
    assert same_objects(back, first) or len(mine) > len(np.unique(first)) - 1  # split pieces stay separate
    assert np.array_equal(instance_labels(shapes, 22, second.shape) > 0, second > 0)


def test_semantic_planes_and_origin_offset():
    mask = np.zeros((40, 50), dtype=np.uint16)
    mask[5:15, 5:20] = 3
    mask[14:30, 18:25] = 8  # touches the first: one connected piece for a semantic plane
    shapes = prediction_to_shapes(mask, [5], instance=False, origin=(100, 200))
    assert len(shapes) == 1
    back = semantic_masks(shapes, [5], (140, 250))[0]
    assert np.array_equal(back[100:, 200:], mask > 0) and back.sum() == (mask > 0).sum()


def test_region_of_a_large_prediction(tmp_path: Path):
    predictor = Predictor(Pointwise("instance"), pointwise_card("instance"))
    image = bumps((200, 260), seed=7, n=50)
    result = predict_image(image, predictor, tile=32, halo=0, block=64, context=32, out=tmp_path / "p.tif")
    region = read_prediction_region(result.path, 50, 60, 100, 120)
    assert region.shape == (1, 100, 120)
    shapes = prediction_to_shapes(region, [9], origin=(50, 60))
    full = instance_labels(shapes, 9, (200, 260))
    expected = np.zeros((200, 260), dtype=bool)
    expected[50:150, 60:180] = region[0] > 0
    assert np.array_equal(full > 0, expected)


def test_empty_prediction_gives_no_shapes():
    assert prediction_to_shapes(np.zeros((2, 10, 10), dtype=np.uint16), [1, 2]) == []


def test_bad_input():
    with pytest.raises(AnnotationError, match="one id per plane"):
        prediction_to_shapes(np.zeros((2, 10, 10), dtype=np.uint16), [1])
    with pytest.raises(InvalidInputError, match="integer"):
        prediction_to_shapes(np.zeros((10, 10), dtype=np.float32), [1])
