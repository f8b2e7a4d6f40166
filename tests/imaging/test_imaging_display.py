"""Display helpers: contrast windows and RGB composites."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.imaging import DEFAULT_CHANNEL_COLORS, auto_contrast, compose_rgb


def test_auto_contrast_percentiles_per_channel():
    ramp = np.arange(1000, dtype=np.uint16).reshape(1, 10, 100)
    arr = np.concatenate([ramp, ramp * 2])
    (lo0, hi0), (lo1, hi1) = auto_contrast(arr, low_pct=1.0, high_pct=99.0)
    assert lo0 == pytest.approx(9.99) and hi0 == pytest.approx(989.01)
    assert lo1 == pytest.approx(2 * 9.99) and hi1 == pytest.approx(2 * 989.01)


def test_auto_contrast_constant_channel_has_nonempty_window():
    assert auto_contrast(np.full((1, 4, 4), 7, np.uint8)) == [(7.0, 8.0)]


def test_auto_contrast_rejects_bad_input():
    with pytest.raises(InvalidInputError, match=r"\(C, h, w\)"):
        auto_contrast(np.zeros((4, 4)))
    with pytest.raises(InvalidInputError, match="low_pct"):
        auto_contrast(np.zeros((1, 4, 4)), low_pct=50, high_pct=10)


def test_rgb_uint8_shown_as_is(rng):
    arr = rng.integers(0, 255, (3, 5, 6), dtype=np.uint8)
    out = compose_rgb(arr, contrast=[(0, 1)] * 3, is_rgb=True)
    assert out.shape == (5, 6, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.moveaxis(arr, 0, -1))


def test_single_channel_is_grey_windowed():
    arr = np.array([[[0, 100, 200, 300]]], np.uint16)
    out = compose_rgb(arr, contrast=[(100, 200)])
    np.testing.assert_array_equal(out[0, :, 0], [0, 0, 255, 255])
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_multichannel_additive_composite_with_colours_and_visibility():
    arr = np.zeros((3, 1, 2), np.uint16)
    arr[0, 0, 0] = 1000  # channel 0 on pixel 0
    arr[1, 0, :] = 1000  # channel 1 on both pixels
    contrast = [(0, 1000)] * 3
    out = compose_rgb(arr, contrast=contrast)
    assert DEFAULT_CHANNEL_COLORS[:2] == ("#ff0000", "#00ff00")
    np.testing.assert_array_equal(out[0, 0], [255, 255, 0])
    np.testing.assert_array_equal(out[0, 1], [0, 255, 0])
    out = compose_rgb(
        arr, contrast=contrast, visible=[True, False, True], colors=["#ff00ff", "#00ff00", (0, 0, 255)]
    )
    np.testing.assert_array_equal(out[0, 0], [255, 0, 255])
    np.testing.assert_array_equal(out[0, 1], [0, 0, 0])


def test_ten_channels_have_default_colours(rng):
    arr = rng.integers(0, 65535, (10, 8, 8), dtype=np.uint16)
    out = compose_rgb(arr, contrast=auto_contrast(arr))
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8


def test_compose_rgb_argument_errors():
    arr = np.zeros((2, 3, 3), np.uint8)
    with pytest.raises(InvalidInputError, match="2 channels"):
        compose_rgb(arr, contrast=[(0, 1)])
    with pytest.raises(InvalidInputError, match="colors has 1"):
        compose_rgb(arr, contrast=[(0, 1)] * 2, colors=["#ffffff"])
    with pytest.raises(InvalidInputError, match="hex colour"):
        compose_rgb(arr, contrast=[(0, 1)] * 2, colors=["red", "#00ff00"])
    with pytest.raises(InvalidInputError, match="visible has 3"):
        compose_rgb(arr, contrast=[(0, 1)] * 2, visible=[True] * 3)
