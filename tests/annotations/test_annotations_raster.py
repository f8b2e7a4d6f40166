from __future__ import annotations

import numpy as np
import pytest

from core.annotations import ShapeData, annotated_area, instance_labels, roi_mask, semantic_masks
from core.annotations.raster import polygon_spans
from core.errors import AnnotationError

HW = (40, 50)


def rect(x0, y0, x1, y1, label=1, kind="annotation"):
    return ShapeData(kind, "rectangle", [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], label_id=label)


def poly(points, label=1, kind="annotation"):
    return ShapeData(kind, "polygon", points, label_id=label)


def brush(points, width, label=1):
    return ShapeData("annotation", "brush", points, label_id=label, stroke_width=width)


def test_pixel_edge_rectangle_covers_exactly_its_pixels():
    mask = semantic_masks([rect(3, 5, 10, 8)], [1], HW)[0]
    expected = np.zeros(HW, bool)
    expected[5:8, 3:10] = True
    assert np.array_equal(mask, expected)


def test_pixel_centre_rule_for_fractional_polygons():
    # a triangle: pixel (r, c) is inside when its centre (c+.5, r+.5) is
    tri = poly([[0.2, 0.3], [20.7, 0.3], [0.2, 30.9]])
    mask = semantic_masks([tri], [1], HW)[0]
    rr, cc = np.mgrid[: HW[0], : HW[1]]
    x, y = cc + 0.5, rr + 0.5
    inside = (x >= 0.2) & (y >= 0.3) & ((x - 0.2) / 20.5 + (y - 0.3) / 30.6 < 1)
    assert np.array_equal(mask, inside)


def test_even_odd_spans_for_a_ring_with_a_hole_bridge():
    # outer 0..10 square with a 4..6 hole joined by a zero-width bridge along y = 4
    ring = np.array(
        [[0, 0], [10, 0], [10, 10], [0, 10], [0, 4], [4, 4], [4, 6], [6, 6], [6, 4], [4, 4], [0, 4]], float
    )
    _, rows, c0, c1 = polygon_spans([ring], 12, 12)
    out = np.zeros((12, 12), bool)
    for r, a, b in zip(rows, c0, c1):
        out[r, a:b] = True
    expected = np.zeros((12, 12), bool)
    expected[:10, :10] = True
    expected[4:6, 4:6] = False
    assert np.array_equal(out, expected)


def test_brush_has_its_width_and_round_caps():
    stroke = brush([[10, 20.5], [40, 20.5]], width=5)
    mask = semantic_masks([stroke], [1], HW)[0]
    assert mask[:, 25].sum() == 5  # centres within 2.5 of y = 20.5: rows 18..22
    assert mask[18:23, 10:41].all()
    rr, cc = np.nonzero(mask)
    # round caps: nothing farther than 2.5 from the segment, and the cap reaches x = 7.5
    assert cc.min() == 7 and cc.max() == 42
    assert not mask[18, 7] and mask[20, 7]  # the corner of the cap is cut (round, not square)


def test_thin_brush_is_at_least_one_pixel_and_a_dot_is_a_disc():
    thin = semantic_masks([brush([[0, 10.5], [49.9, 10.5]], width=0.2)], [1], HW)[0]
    assert thin[10].all() and thin.sum() == 50
    dot = semantic_masks([brush([[20.5, 20.5]], width=7)], [1], HW)[0]
    assert dot.sum() == 37  # pixel centres within 3.5 of a pixel centre


def test_instances_later_shapes_win_and_labels_may_overlap():
    a = rect(0, 0, 20, 20, label=1)
    b = rect(10, 10, 30, 30, label=1)
    c = brush([[0, 5.5], [49, 5.5]], width=3, label=1)
    other = rect(0, 0, 50, 40, label=2)
    lab = instance_labels([a, other, b, c], 1, HW)
    assert lab[15, 15] == 2 and lab[2, 2] == 1 and lab[25, 25] == 2 and lab[5, 40] == 3 and lab[5, 5] == 3
    assert set(np.unique(lab)) == {0, 1, 2, 3}
    sem = semantic_masks([a, other, b], [1, 2], HW)
    assert sem.shape == (2, *HW) and sem[1].all() and sem[0, 15, 15] and not sem[0, 35, 45]


def test_roi_mask_and_annotated_area_rules():
    roi = rect(0, 0, 10, 10, kind="roi", label=None)
    inside = rect(2, 2, 5, 5)
    outside = rect(30, 30, 35, 35)
    # no ROIs: everything is annotated (also for a background-only image with no shapes at all)
    assert annotated_area([inside, outside], HW, roi_only=True).all()
    assert annotated_area([], HW, roi_only=False).all()
    assert roi_mask([inside], HW).sum() == 0
    r = roi_mask([roi, inside], HW)
    assert r.sum() == 100
    only = annotated_area([roi, inside, outside], HW, roi_only=True)
    assert np.array_equal(only, r)
    both = annotated_area([roi, inside, outside], HW, roi_only=False)
    assert both.sum() == 100 + 25 and both[32, 32]
    # a patch that contains no ROI of an image that has ROIs is not "everything"
    patch = annotated_area([roi, inside, outside], HW, roi_only=True, region=(20, 20, 10, 10))
    assert not patch.any()


@pytest.mark.parametrize("downsample", [1.0, 2.0, 4.0])
def test_region_equals_the_crop_of_the_full_raster(rng, downsample):
    shapes = []
    for k in range(30):
        cx, cy = rng.uniform(0, 200, 2)
        angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
        radius = rng.uniform(3, 25, 7)
        shapes.append(poly(np.c_[cx + radius * np.cos(angles), cy + radius * np.sin(angles)]))
    shapes.append(brush(rng.uniform(0, 200, (6, 2)), width=7.0))
    hw = (200, 200)
    full = instance_labels(shapes, 1, hw, downsample=downsample)
    assert full.shape == (int(np.ceil(200 / downsample)),) * 2
    for region in [(0, 0, 17, 23), (13, 29, 31, 40), (40, 40, 60, 60)]:
        y, x, h, w = region
        part = instance_labels(shapes, 1, hw, region=region, downsample=downsample)
        assert part.shape == (h, w)
        expected = np.zeros((h, w), np.int32)
        crop = full[y : y + h, x : x + w]
        expected[: crop.shape[0], : crop.shape[1]] = crop
        assert np.array_equal(part, expected)


def test_downsample_two_equals_rasterising_halved_coordinates():
    shape = poly([[3, 4], [61, 9], [40, 70], [5, 50]])
    half = poly(shape.points / 2)
    coarse = semantic_masks([shape], [1], (80, 80), downsample=2)[0]
    assert np.array_equal(coarse, semantic_masks([half], [1], (40, 40))[0])


def test_bad_grid_arguments():
    with pytest.raises(AnnotationError, match="downsample"):
        roi_mask([], HW, downsample=0)
    with pytest.raises(AnnotationError, match="region"):
        roi_mask([], HW, region=(0, 0, 0, 5))
    with pytest.raises(AnnotationError, match="hw"):
        roi_mask([], (10,))
