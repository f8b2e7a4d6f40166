from __future__ import annotations

import numpy as np
import pytest

from core.annotations import ShapeData, clean_shape, clean_shapes, instance_labels
from core.annotations.geometry import first_crossing, polygon_area, split_at_crossings
from core.errors import AnnotationError

HW = (50, 60)


def poly(points, **kw):
    return ShapeData("annotation", "polygon", points, label_id=kw.pop("label_id", 1), **kw)


def test_polygon_with_fewer_than_three_points_is_an_error():
    with pytest.raises(AnnotationError, match="at least 3 distinct points, got 2"):
        clean_shape(poly([[1, 1], [5, 5]]), HW)
    with pytest.raises(AnnotationError, match="at least 3 distinct points"):
        clean_shape(poly([[1, 1], [5, 5], [5, 5], [1, 1]]), HW)


def test_collinear_polygon_has_zero_area_error():
    with pytest.raises(AnnotationError, match="zero area"):
        clean_shape(poly([[1, 1], [5, 5], [9, 9]]), HW)


def test_bowtie_is_split_and_the_largest_lobe_kept():
    bowtie = poly([[0, 0], [40, 40], [40, 0], [0, 20]])
    assert first_crossing(bowtie.points) is not None
    notes: list[str] = []
    cleaned = clean_shape(bowtie, HW, notes=notes)
    assert cleaned is not None and first_crossing(cleaned.points) is None
    assert "crossed itself" in notes[0] and "kept the largest" in notes[0]
    parts = split_at_crossings(bowtie.points)
    assert len(parts) == 2
    assert abs(polygon_area(cleaned.points)) == pytest.approx(max(abs(polygon_area(p)) for p in parts))
    # edges y = x and y = 20 - x / 2 cross at (40/3, 40/3); the right lobe (area 533) beats the left (133)
    assert cleaned.points[:, 0].min() == pytest.approx(40 / 3)
    assert abs(polygon_area(cleaned.points)) == pytest.approx(0.5 * 40 * (40 - 40 / 3))


def test_small_accidental_loop_keeps_the_main_outline():
    # the tail loops over the start
    square = [[10, 10], [40, 10], [40, 40], [10, 40], [10, 12], [8, 14], [12, 14]]
    cleaned = clean_shape(poly(square), HW)
    assert cleaned is not None
    area = abs(polygon_area(cleaned.points))
    assert 880 < area < 920  # ~30x30 square


def test_polygon_partly_outside_is_clipped_exactly():
    shape = poly([[-10, -10], [30, -10], [30, 20], [-10, 20]])
    cleaned = clean_shape(shape, HW)
    assert cleaned.points.min(axis=0).tolist() == [0, 0]
    assert cleaned.points.max(axis=0).tolist() == [30, 20]
    lab = instance_labels([cleaned], 1, HW)
    assert lab[:20, :30].all() and lab.sum() == 600


def test_concave_polygon_leaving_and_reentering_rasterises_like_the_clipped_original():
    u_shape = poly([[5, 5], [25, 5], [25, 70], [20, 70], [20, 10], [10, 10], [10, 70], [5, 70]])
    cleaned = clean_shape(u_shape, HW)
    big = instance_labels([u_shape], 1, (80, 60))[:50]
    assert np.array_equal(instance_labels([cleaned], 1, HW) > 0, big > 0)


def test_wholly_outside_shapes_are_dropped_and_reported():
    shapes = [
        poly([[100, 100], [120, 100], [120, 120]]),
        ShapeData("annotation", "rectangle", [[70, 0], [80, 0], [80, 5], [70, 5]], label_id=1),
        ShapeData("annotation", "brush", [[-20, -20], [-10, -30]], label_id=1, stroke_width=4),
        poly([[1, 1], [5, 1], [5, 5]]),
    ]
    report = clean_shapes(shapes, HW)
    assert [i for i, _ in report.dropped] == [0, 1, 2]
    assert "wholly outside" in report.dropped[0][1]
    assert len(report.kept) == 1 and report.ok


def test_zero_area_rectangle_is_an_error_and_others_survive():
    flat = ShapeData("annotation", "rectangle", [[5, 5], [15, 5], [15, 5], [5, 5]], label_id=1)
    with pytest.raises(AnnotationError, match="zero area"):
        clean_shape(flat, HW)
    report = clean_shapes([flat, poly([[1, 1], [5, 1], [5, 5]])], HW)
    assert not report.ok and report.errors[0][0] == 0 and len(report.kept) == 1


def test_rectangle_clipped_and_rotated_rectangle_refused():
    rect = ShapeData("roi", "rectangle", [[50, 40], [70, 40], [70, 60], [50, 60]], label_id=None)
    cleaned = clean_shape(rect, HW)
    assert cleaned.points.tolist() == [[50, 40], [60, 40], [60, 50], [50, 50]]
    rotated = ShapeData("roi", "rectangle", [[5, 0], [10, 5], [5, 10], [0, 5]], label_id=None)
    with pytest.raises(AnnotationError, match="not axis aligned"):
        clean_shape(rotated, HW)


def test_brush_needs_width_and_points_and_is_trimmed_at_the_ends():
    with pytest.raises(AnnotationError, match="width > 0"):
        clean_shape(ShapeData("annotation", "brush", [[1, 1], [4, 4]], label_id=1, stroke_width=0), HW)
    with pytest.raises(AnnotationError, match="at least 1 point"):
        clean_shape(ShapeData("annotation", "brush", np.zeros((0, 2)), label_id=1, stroke_width=3), HW)
    points = [[-40, 10], [-20, 10], [30, 10], [90, 10]]
    stroke = ShapeData("annotation", "brush", points, label_id=1, stroke_width=6)
    cleaned = clean_shape(stroke, HW)
    assert cleaned.points[0, 0] == pytest.approx(-3) and cleaned.points[-1, 0] == pytest.approx(63)
    assert np.array_equal(instance_labels([cleaned], 1, HW), instance_labels([stroke], 1, HW))


def test_bad_image_size():
    with pytest.raises(AnnotationError, match="image_hw"):
        clean_shape(poly([[1, 1], [5, 1], [5, 5]]), (0, 10))
