"""Downscaling for the report: aligned image / label shrinking, limits, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.reports import ValidationExample, downscale_example, downscale_for_report


def test_small_arrays_come_back_unchanged():
    image = np.zeros((20, 30, 3), np.uint8)
    assert downscale_for_report(image, max_side=30) is image


def test_image_block_mean_uint8_and_float():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10
    out = downscale_for_report(image, max_side=2)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[25, 45], [105, 125]])
    out_f = downscale_for_report(image.astype(np.float32), max_side=2)
    np.testing.assert_allclose(out_f, [[25, 45], [105, 125]])


def test_uint16_and_uneven_edges_average_the_pixels_they_have():
    image = np.array([[0, 10, 100]], dtype=np.uint16)  # factor 2: blocks [0, 10] and [100]
    out = downscale_for_report(image, max_side=2)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, [[5, 100]])


def test_longest_side_is_bounded_and_labels_are_sampled_not_averaged(rng):
    labels = rng.integers(0, 5, size=(3, 1001, 257)).astype(np.int32)
    out = downscale_for_report(labels, max_side=100, labels=True)
    assert out.shape[0] == 3 and max(out.shape[1:]) <= 100
    assert set(np.unique(out)) <= set(np.unique(labels))
    image = rng.integers(0, 255, size=(1001, 257, 3)).astype(np.uint8)
    assert downscale_for_report(image, max_side=100).shape[:2] == out.shape[1:]


def test_downscale_example_keeps_image_and_masks_aligned():
    gt = np.zeros((2000, 600), np.int32)
    gt[1000:1200, 300:400] = 1
    image = np.zeros((2000, 600, 3), np.uint8)
    image[gt > 0] = 255
    small = downscale_example(ValidationExample("a", image, gt, gt.copy()), max_side=500)
    assert small.image_rgb.shape[:2] == small.gt.shape == small.pred.shape == (500, 150)
    assert np.array_equal(small.image_rgb[..., 0] > 127, small.gt > 0)


@pytest.mark.parametrize(
    ("array", "kwargs", "match"),
    [
        (np.zeros((3, 4, 4, 4)), {}, "move the channel axis last"),
        (np.zeros((4, 40, 3)), {"max_side": 0}, "max_side"),
        (np.zeros((2, 2, 2, 2)), {"labels": True}, r"\(L, H, W\)"),
        (np.zeros((0, 5)), {}, "empty"),
    ],
)
def test_bad_input_is_refused_with_a_fix(array, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        downscale_for_report(array, **kwargs)
