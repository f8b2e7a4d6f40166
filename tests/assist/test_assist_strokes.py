from __future__ import annotations

import numpy as np
import pytest

from core.annotations import ShapeData, semantic_masks
from core.assist import Stroke, stroke_map, stroke_samples
from core.errors import InvalidInputError


def test_horizontal_stroke_covers_pixel_centres_within_half_width():
    smap = stroke_map([Stroke([[2.5, 3.5], [7.5, 3.5]], 1.0, 0)], (0, 0, 8, 10))
    assert smap.dtype == np.int16 and smap.shape == (8, 10)
    expected = np.zeros((8, 10), np.int16)
    expected[3, 2:8] = 1  # value 1 + class_index
    assert np.array_equal(smap, expected)


def test_region_offset_class_values_and_later_strokes_win():
    strokes = [Stroke([[12.0, 22.0], [30.0, 22.0]], 4.0, 2), Stroke([[20.0, 10.0], [20.0, 40.0]], 2.0, 0)]
    smap = stroke_map(strokes, (15, 8, 20, 20))  # rows 15..34, cols 8..27
    assert set(np.unique(smap).tolist()) == {0, 1, 3}
    assert smap[22 - 15, 19 - 8] == 1  # the later background stroke wins where they cross
    assert smap[22 - 15, 12 - 8] == 3
    assert smap[0, 0] == 0


def test_stroke_map_matches_the_annotation_brush_rasteriser():
    points = np.array([[3.2, 4.1], [17.6, 9.3], [11.0, 18.4]])
    smap = stroke_map([Stroke(points, 3.4, 1)], (0, 0, 24, 24))
    brush = ShapeData("annotation", "brush", points, label_id=5, stroke_width=3.4)
    assert np.array_equal(smap == 2, semantic_masks([brush], [5], (24, 24))[0])


def test_single_point_and_thin_strokes():
    smap = stroke_map([Stroke([[5.5, 5.5]], 0.2, 1)], (0, 0, 10, 10))
    assert np.argwhere(smap).tolist() == [[5, 5]]
    assert not stroke_map([Stroke([[50.0, 50.0]], 3.0, 1)], (0, 0, 10, 10)).any()  # outside the region


@pytest.mark.parametrize(
    "points, width, cls, match",
    [(np.zeros((0, 2)), 2, 0, "N >= 1"), ([[0, 0]], 0, 0, "width"), ([[0, 0]], 2, -1, "class_index"),
     ([[0, 0]], 2, 1.5, "integer"), ([[np.nan, 0]], 2, 0, "finite")],
)
def test_stroke_refuses_bad_values(points, width, cls, match):
    with pytest.raises(InvalidInputError, match=match):
        Stroke(points, width, cls)


def test_stroke_samples_take_stroked_pixels_in_row_major_order():
    feats = np.arange(4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    smap = np.zeros((4, 5), np.int16)
    smap[1, 2] = 2
    smap[3, 0] = 1
    X, y = stroke_samples(feats, smap)
    assert X.dtype == np.float32 and X.shape == (2, 3)
    assert np.array_equal(X, feats[[1, 3], [2, 0]]) and y.tolist() == [1, 0]
    with pytest.raises(InvalidInputError, match="different regions"):
        stroke_samples(feats, smap[:3])
    with pytest.raises(InvalidInputError, match=r"\(y, x, h, w\)"):
        stroke_map([], (0, 0, 5))
