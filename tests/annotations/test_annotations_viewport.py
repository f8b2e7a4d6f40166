from __future__ import annotations

import numpy as np
import pytest

from core.annotations import Viewport, level_downsamples, overview_box, overview_to_image
from core.errors import InvalidInputError

BIG = (25000, 25000)
LEVELS = [(25000, 25000), (12500, 12500), (6250, 6250), (3125, 3125), (1563, 1563), (782, 782)]


def test_fit_shows_the_whole_image_and_picks_the_coarsest_sufficient_level():
    vp = Viewport.fit(BIG, 1024, 1024, level_shapes=LEVELS)
    assert vp.scale == pytest.approx(1024 / 25000) and (vp.x0, vp.y0) == (0, 0)
    assert vp.downsamples == (1, 2, 4, 8, 16, 32)
    assert vp.level == 4  # 16 <= 24.4 < 32
    assert vp.zoomed(1000).level == 0


def test_level_downsamples_exact_powers_of_two_for_halving_pyramids():
    assert level_downsamples((25001, 999), [(25001, 999), (12501, 500), (6251, 250)]) == (1, 2, 4)
    assert level_downsamples((100, 100), [(100, 100), (30, 30)])[1] == pytest.approx(100 / 30)


def test_mapping_round_trip(rng):
    vp = Viewport((500, 800), 300, 200, x0=123.25, y0=77.5, scale=2.5)
    pts = rng.uniform(0, 300, (20, 2))
    assert np.allclose(vp.image_to_canvas(vp.canvas_to_image(pts)), pts)
    assert np.allclose(vp.canvas_to_image([[0, 0], [300, 200]]), [[123.25, 77.5], [243.25, 157.5]])


def test_zoom_and_pan_are_clamped_to_the_image():
    vp = Viewport.fit((1000, 2000), 400, 300)
    assert vp.zoomed(0.1).scale == pytest.approx(vp.scale)  # cannot zoom out beyond fit
    z = vp.zoomed(1000, (1999, 999))
    assert z.scale == 32.0
    assert z.x0 + z.view_w == pytest.approx(2000) and z.y0 + z.view_h == pytest.approx(1000)
    p = z.panned(-1e9, -1e9)
    assert (p.x0, p.y0) == (0, 0)
    c = vp.zoomed(4, (1000, 500))
    assert c.center == pytest.approx((1000, 500))
    assert c.centered_on(10, 10).x0 == 0


def test_region_in_level_coordinates_covers_the_view():
    vp = Viewport(BIG, 1024, 768, x0=10000.5, y0=5000.25, scale=0.5, downsamples=(1, 2, 4))
    assert vp.level == 1
    y, x, h, w = vp.region(2.0)
    assert (y, x) == (2500, 5000) and x + w >= (10000.5 + 2048) / 2 and y + h >= (5000.25 + 1536) / 2
    corner = Viewport((100, 100), 64, 64, x0=0, y0=0, scale=0.5)
    assert corner.region(1.0) == (0, 0, 100, 100)


def test_overview_box_and_click():
    vp = Viewport((1000, 2000), 200, 100, x0=500, y0=250, scale=1.0)
    assert overview_box(vp, (100, 200)) == (50, 25, 20, 10)
    assert overview_to_image(vp, (100, 200), (50, 25)) == (500.0, 250.0)


def test_bad_viewports():
    with pytest.raises(InvalidInputError, match="scale"):
        Viewport((10, 10), 10, 10, scale=0)
    with pytest.raises(InvalidInputError, match="canvas size"):
        Viewport((10, 10), 0, 10)
    with pytest.raises(InvalidInputError, match="zoom factor"):
        Viewport((10, 10), 10, 10).zoomed(-1)
