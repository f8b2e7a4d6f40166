"""Laying a full-resolution region (a proposal) over the canvas view."""

from __future__ import annotations

import numpy as np
import pytest

from core.annotations.view import region_on_canvas
from core.annotations.viewport import Viewport
from core.errors import InvalidInputError


def test_region_on_canvas_matches_the_view_pixel_centres():
    vp = Viewport(image_hw=(100, 200), canvas_w=40, canvas_h=30, x0=10.0, y0=20.0, scale=2.0)
    values = np.arange(50 * 60).reshape(50, 60)  # region y 15.., x 5..
    out = region_on_canvas(values, (15, 5, 50, 60), vp, fill=-1)
    assert out.shape == (30, 40)
    for i, j in [(0, 0), (29, 39), (7, 13)]:
        x, y = 10.0 + (j + 0.5) / 2, 20.0 + (i + 0.5) / 2
        assert out[i, j] == values[int(y) - 15, int(x) - 5]


def test_region_on_canvas_fills_outside_and_zoomed_out():
    vp = Viewport(image_hw=(100, 100), canvas_w=20, canvas_h=20, x0=0.0, y0=0.0, scale=0.25)
    values = np.ones((40, 40), dtype=np.uint8)
    out = region_on_canvas(values, (0, 0, 40, 40), vp)
    assert out[:10, :10].all() and not out[10:, :].any() and not out[:, 10:].any()
    with pytest.raises(InvalidInputError, match="do not match"):
        region_on_canvas(values, (0, 0, 10, 10), vp)
