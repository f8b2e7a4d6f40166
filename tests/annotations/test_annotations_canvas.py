from __future__ import annotations

import math

import numpy as np
import pytest

from core.annotations import (
    ShapeData,
    Viewport,
    canvas_to_shapes,
    clean_shapes,
    instance_labels,
    is_existing,
    shapes_in_view,
    shapes_to_canvas,
)
from core.errors import AnnotationError

SCALES = [1 / 37, 0.05, 0.3, 0.61, 1.0, 1.7, 2.0, 4.0, 9.3, 32.0]
HW = (20000, 30000)


def _viewports(rng, n_offsets=4):
    for scale in SCALES:
        base = Viewport(HW, 1024, 768, scale=scale)
        for k in range(n_offsets):
            xy = rng.uniform((0, 0), (HW[1], HW[0]))
            yield base.centered_on(*(np.round(xy) if k == 0 else xy))


def test_rectangle_over_known_canvas_pixels_maps_to_the_known_image_rectangle(rng, fab):
    """Drag over canvas pixels j0..j1-1 x i0..i1-1: the stored rectangle rasterises to the image pixels shown
    under those canvas pixels (render_view shows image pixel floor(x0 + (j + .5) / scale)), within one
    pixel."""
    checked = 0
    for vp in _viewports(rng):
        for _ in range(5):
            j0, i0 = rng.integers(0, 900), rng.integers(0, 650)
            j1, i1 = j0 + rng.integers(5, 120), i0 + rng.integers(5, 110)
            if rng.random() < 0.5 and vp.scale >= 1:  # drag exactly along image pixel edges
                step = max(int(vp.scale), 1)
                j0, i0, j1, i1 = (v - v % step for v in (j0, i0, j1, i1))
                j1, i1 = max(j1, j0 + step * math.ceil(4 / step)), max(i1, i0 + step * math.ceil(4 / step))
            drawing = {"objects": [fab.rect((j0, i0), (j1, i1))]}
            (shape,) = canvas_to_shapes(drawing, vp, kind="annotation", label_id=3)
            assert shape.geometry == "rectangle" and shape.label_id == 3
            x_lo, y_lo = shape.points.min(axis=0)
            x_hi, y_hi = shape.points.max(axis=0)
            assert x_lo == pytest.approx(vp.x0 + j0 / vp.scale, abs=1e-6)
            assert y_hi == pytest.approx(vp.y0 + i1 / vp.scale, abs=1e-6)
            # pixels the rectangle covers (centre rule) versus pixels shown under the dragged canvas pixels
            cols = (math.ceil(x_lo - 0.5), math.ceil(x_hi - 0.5) - 1)
            rows = (math.ceil(y_lo - 0.5), math.ceil(y_hi - 0.5) - 1)
            def shown(origin: float, first: int, end: int, scale: float = vp.scale) -> tuple[int, int]:
                return math.floor(origin + (first + 0.5) / scale), math.floor(origin + (end - 0.5) / scale)

            shown_cols, shown_rows = shown(vp.x0, j0, j1), shown(vp.y0, i0, i1)
            if vp.scale >= 1:  # each canvas pixel shows one image pixel: the same pixels within one pixel
                assert all(abs(a - b) <= 1 for a, b in zip(cols + rows, shown_cols + shown_rows))
                whole = float(vp.scale).is_integer() and vp.x0 == int(vp.x0) and vp.y0 == int(vp.y0)
                # a drag along image pixel edges gives exactly the shown pixels
                if whole and all(v % int(vp.scale) == 0 for v in (j0, j1, i0, i1)):
                    assert cols == shown_cols and rows == shown_rows
            else:  # each canvas pixel shows 1/scale image pixels: the rectangle covers exactly those
                assert cols[0] <= shown_cols[0] and shown_cols[1] <= cols[1]
                assert rows[0] <= shown_rows[0] and shown_rows[1] <= rows[1]
                span = 0.5 / vp.scale + 1
                assert shown_cols[0] - cols[0] <= span and cols[1] - shown_cols[1] <= span
            checked += 1
    assert checked == len(SCALES) * 4 * 5


def test_round_trip_image_rectangle_to_canvas_and_back_is_exact_at_every_zoom(rng, fab):
    for vp in _viewports(rng, n_offsets=3):
        bx0, by0, bx1, by1 = vp.view_box()
        w = min(max(int((bx1 - bx0) / 3), 3), 700)
        h = min(max(int((by1 - by0) / 3), 3), 500)
        x = int(bx0) + 1 + int(rng.integers(0, w))
        y = int(by0) + 1 + int(rng.integers(0, h))
        image_rect = np.array([[x, y], [x + w, y + h]], float)
        start, end = vp.image_to_canvas(image_rect)
        drawing = {"objects": [fab.rect(start, end, stroke_width=0.5)]}
        (shape,) = canvas_to_shapes(drawing, vp, kind="roi", label_id=9)
        assert shape.is_roi and shape.label_id is None
        assert np.abs(shape.points.min(axis=0) - image_rect[0]).max() < 1e-6
        assert np.abs(shape.points.max(axis=0) - image_rect[1]).max() < 1e-6
        local = shape.with_points(shape.points - (x - 2, y - 2), kind="annotation", label_id=1)
        small = instance_labels([local], 1, (h + 4, w + 4))
        assert small.sum() == w * h  # exactly the w x h pixels


def test_polygon_tool_object_maps_its_points(fab):
    vp = Viewport((400, 600), 300, 200, x0=100, y0=50, scale=2.0)
    pts = [(10.5, 20.25), (200, 30), (150.75, 180), (12, 150)]
    drawing = {"objects": [fab.polygon(pts, stroke_width=3)]}
    (shape,) = canvas_to_shapes(drawing, vp, kind="annotation", label_id=1)
    assert shape.geometry == "polygon"
    assert np.allclose(shape.points, np.asarray(pts) / 2 + (100, 50))


def test_moved_scaled_and_rotated_objects_follow_the_fabric_transform(fab):
    vp = Viewport((400, 600), 300, 200, x0=0, y0=0, scale=1.0)
    pts = np.array([(10.0, 20.0), (60, 20), (60, 50), (10, 50)])
    moved = fab.polygon(pts, stroke_width=2)
    moved["left"] += 15
    moved["top"] -= 7
    (shape,) = canvas_to_shapes({"objects": [moved]}, vp, kind="annotation", label_id=1)
    assert np.allclose(shape.points, pts + (15, -7))
    scaled = fab.rect((10, 20), (60, 50))
    scaled["scaleX"], scaled["scaleY"] = 2.0, 0.5
    (shape,) = canvas_to_shapes({"objects": [scaled]}, vp, kind="annotation", label_id=1)
    assert shape.geometry == "rectangle"
    assert np.allclose(shape.points.min(axis=0), (10, 20))
    assert np.allclose(shape.points.max(axis=0), (110, 35))
    rotated = fab.rect((10, 20), (60, 50))
    rotated["angle"] = 90  # fabric rotates about left/top
    (shape,) = canvas_to_shapes({"objects": [rotated]}, vp, kind="annotation", label_id=1)
    assert shape.geometry == "polygon"
    expected = [(10, 20), (10, 70), (-20, 70), (-20, 20)]
    assert np.allclose(np.sort(shape.points, axis=0), np.sort(expected, axis=0))


def test_freedraw_path_becomes_a_brush_with_its_width_in_image_pixels(fab):
    samples = [(20, 30), (25, 31), (33, 36), (40, 45), (52, 47), (60, 47)]
    obj = fab.freedraw(samples, stroke_width=20)
    for scale in (0.25, 1.0, 4.0):
        vp = Viewport((5000, 5000), 400, 300, x0=1000, y0=2000, scale=scale)
        (shape,) = canvas_to_shapes({"objects": [obj]}, vp, kind="annotation", label_id=2)
        assert shape.geometry == "brush"
        assert shape.stroke_width == pytest.approx(20 / scale)
        canvas_pts = vp.image_to_canvas(shape.points)
        # the stroke starts and ends at the first and last mouse samples and passes near every sample
        assert np.allclose(canvas_pts[0], samples[0], atol=0.05)
        assert np.allclose(canvas_pts[-1], samples[-1], atol=0.05)
        for sx, sy in samples:
            assert np.hypot(canvas_pts[:, 0] - sx, canvas_pts[:, 1] - sy).min() < 3.0
    moved = dict(obj, left=obj["left"] + 10)
    vp = Viewport((5000, 5000), 400, 300, scale=1.0)
    a = canvas_to_shapes({"objects": [obj]}, vp, kind="annotation", label_id=2)[0].points
    b = canvas_to_shapes({"objects": [moved]}, vp, kind="annotation", label_id=2)[0].points
    assert np.allclose(b - a, (10, 0))


def test_existing_objects_are_skipped_new_ones_converted(fab):
    vp = Viewport((100, 100), 100, 100)
    stored = [ShapeData("annotation", "polygon", [[1, 1], [9, 1], [9, 9]], label_id=1)]
    drawing = shapes_to_canvas(stored, vp, {1: "#ff0000"})
    assert all(is_existing(o) for o in drawing["objects"])
    returned = {"objects": drawing["objects"] + [fab.rect((20, 20), (40, 40))]}
    new = canvas_to_shapes(returned, vp, kind="annotation", label_id=1)
    assert len(new) == 1 and new[0].geometry == "rectangle"
    # the index rule as well, for drawings built elsewhere
    plain = {"objects": [fab.rect((0, 0), (10, 10)), fab.rect((20, 20), (40, 40))]}
    assert len(canvas_to_shapes(plain, vp, kind="annotation", label_id=1, known=1)) == 1
    assert canvas_to_shapes(None, vp, kind="annotation", label_id=1) == []


def test_shapes_to_canvas_shows_only_shapes_in_view_in_their_colours(rng):
    vp = Viewport((1000, 1000), 200, 100, x0=100, y0=100, scale=2.0)  # view: x 100..200, y 100..150
    shapes = [
        ShapeData("annotation", "polygon", [[110, 110], [150, 110], [150, 140]], label_id=1),
        ShapeData("annotation", "polygon", [[500, 500], [550, 500], [550, 540]], label_id=1),
        ShapeData("roi", "rectangle", [[90, 90], [300, 90], [300, 300], [90, 300]], label_id=None),
        ShapeData("annotation", "brush", [[190, 160], [195, 170]], label_id=2, stroke_width=30),
    ]
    assert shapes_in_view(shapes, vp) == [0, 2, 3]
    drawing = shapes_to_canvas(shapes, vp, {1: "#ff0000", 2: "#00ff00"})
    poly, roi, brush = drawing["objects"]
    assert poly["type"] == "Polygon" and poly["stroke"] == "#ff0000"
    assert poly["fill"] == "rgba(255, 0, 0, 0.25)"
    assert poly["points"][0] == {"x": 20.0, "y": 20.0} and "left" not in poly
    assert roi["strokeDashArray"] and roi["fill"] == "rgba(0, 0, 0, 0)"
    assert brush["type"] == "Path" and brush["strokeWidth"] == 60 and brush["path"][0] == ["M", 180.0, 120.0]
    with pytest.raises(AnnotationError, match="known label ids"):
        shapes_to_canvas(shapes, vp, {1: "#ff0000"})


def test_canvas_round_trip_of_stored_shapes_when_drawn_anew(rng, fab):
    """shapes -> initial_drawing -> (as if drawn by the user) -> shapes gives the same geometry."""
    for vp in _viewports(rng, n_offsets=2):
        bx0, by0, bx1, by1 = vp.view_box()
        pts = np.c_[rng.uniform(bx0, bx1, 6), rng.uniform(by0, by1, 6)]
        stored = [
            ShapeData("annotation", "polygon", pts, label_id=1),
            ShapeData("annotation", "brush", pts[:4], label_id=1, stroke_width=12.0),
        ]
        drawing = shapes_to_canvas(stored, vp, {1: "#123456"})
        redrawn = []
        for obj in drawing["objects"]:
            if obj["type"] == "Polygon":
                corners = [(p["x"], p["y"]) for p in obj["points"]]
                redrawn.append(fab.polygon(corners, stroke_width=obj["strokeWidth"]))
            else:
                o = {k: v for k, v in obj.items() if k not in fab.LOCKS}
                xy = np.array([c[1:] for c in o["path"]])
                half = o["strokeWidth"] / 2
                o.update(left=xy[:, 0].min() - half, top=xy[:, 1].min() - half,
                         width=np.ptp(xy[:, 0]), height=np.ptp(xy[:, 1]))
                redrawn.append(o)
        back = canvas_to_shapes({"objects": redrawn}, vp, kind="annotation", label_id=1)
        assert np.allclose(back[0].points, pts, atol=1e-6 / min(vp.scale, 1))
        assert np.allclose(back[1].points, pts[:4], atol=1e-6 / min(vp.scale, 1))
        assert back[1].stroke_width == pytest.approx(max(12.0 * vp.scale, 1.0) / vp.scale)


def test_unknown_objects_and_bad_input_are_refused(fab):
    vp = Viewport((100, 100), 100, 100)
    with pytest.raises(AnnotationError, match="known types"):
        circle = {"type": "Circle", "left": 1, "top": 1}
        canvas_to_shapes({"objects": [circle]}, vp, kind="annotation", label_id=1)
    with pytest.raises(AnnotationError, match="kind 'x'"):
        canvas_to_shapes({"objects": []}, vp, kind="x", label_id=1)
    with pytest.raises(AnnotationError, match="must be a number"):
        bad = dict(fab.rect((0, 0), (5, 5)), left="a")
        canvas_to_shapes({"objects": [bad]}, vp, kind="roi", label_id=None)


def test_polygon_with_two_points_from_the_canvas_is_reported_by_clean_shapes(fab):
    vp = Viewport((100, 100), 100, 100)
    drawing = {"objects": [fab.polygon([(1, 1), (50, 50)]), fab.rect((10, 10), (30, 30))]}
    shapes = canvas_to_shapes(drawing, vp,
                              kind="annotation", label_id=1)
    report = clean_shapes(shapes, vp.image_hw)
    assert [i for i, _ in report.errors] == [0] and len(report.kept) == 1


def test_unseen_objects_reports_each_drawn_object_once():
    from core.annotations.canvas import object_fingerprint, unseen_objects

    locked = {"type": "Path", "path": [["M", 1, 1], ["L", 5, 5]], "lockMovementX": True}
    first = {"type": "Path", "path": [["M", 10, 10], ["Q", 12, 12, 14, 14], ["L", 20, 20]],
             "left": 9, "top": 9}
    second = {"type": "Path", "path": [["M", 30, 30], ["L", 40, 40]], "left": 29, "top": 29}
    assert unseen_objects({"objects": [locked, first]}, set()) == [first]
    seen = {object_fingerprint(first)}
    # the same canvas reports the stored stroke again with a new one after it: only the new one is unseen
    assert unseen_objects({"objects": [locked, first, second]}, seen) == [second]
    assert unseen_objects(None, seen) == []
    assert object_fingerprint(first) != object_fingerprint(second)
