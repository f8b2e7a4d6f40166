from __future__ import annotations

import numpy as np
import pytest

from core.assist import overlay_rgb, uncertainty_rgb
from core.errors import InvalidInputError


def test_overlay_tints_only_coloured_classes():
    rgb = np.full((4, 5, 3), 100, np.uint8)
    classes = np.zeros((4, 5), np.uint8)
    classes[1, 2] = 1
    classes[3, 4] = 2
    out = overlay_rgb(rgb, classes, {1: "#ff0000"}, alpha=0.5)
    assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
    assert out[1, 2].tolist() == [178, 50, 50]
    assert out[0, 0].tolist() == [100, 100, 100] and out[3, 4].tolist() == [100, 100, 100]
    assert rgb[1, 2].tolist() == [100, 100, 100]  # input untouched
    grey = overlay_rgb(np.full((4, 5), 100, np.uint8), classes, {1: "#ff0000"}, alpha=1.0)
    assert grey[1, 2].tolist() == [255, 0, 0]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"colors": {1: "red"}}, "#rrggbb"), ({"colors": {1: "#gg0000"}}, "#rrggbb"), ({"alpha": 2.0}, "alpha")],
)
def test_overlay_refuses_bad_colours_and_alpha(kwargs, match):
    args = {"colors": {1: "#00ff00"}, **kwargs}
    with pytest.raises(InvalidInputError, match=match):
        overlay_rgb(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint8), **args)
    with pytest.raises(InvalidInputError, match="differ in size"):
        overlay_rgb(np.zeros((2, 2, 3), np.uint8), np.zeros((3, 2), np.uint8), {})


def test_uncertainty_heat_map():
    u = np.array([[0.0, 0.5, 1.0, 3.0]], np.float32)
    out = uncertainty_rgb(u)
    assert out.shape == (1, 4, 3) and out.dtype == np.uint8
    assert out[0, 0].sum() < out[0, 1].sum() < out[0, 2].sum()  # dark = sure, bright = unsure
    assert out[0, 3].tolist() == out[0, 2].tolist()  # clipped
    with pytest.raises(InvalidInputError, match=r"\(H, W\)"):
        uncertainty_rgb(np.zeros((1, 2, 3)))
