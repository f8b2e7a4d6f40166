"""The annotate page's own canvas: shapes out, edits in, views (plain dicts and arrays, no streamlit)."""

from __future__ import annotations

import numpy as np
import pytest

from core.annotations.annotator import (
    apply_edit,
    check_view,
    component_shape,
    shapes_to_component,
    visible_viewport,
    whole_image_viewport,
)
from core.annotations.shapes import ShapeData
from core.errors import AnnotationError

SQUARE = [[10.0, 10.0], [40.0, 10.0], [40.0, 40.0], [10.0, 40.0]]


def _shapes() -> list[ShapeData]:
    return [ShapeData("annotation", "polygon", np.array(SQUARE), label_id=3),
            ShapeData("roi", "rectangle", np.array([[0, 0], [50, 0], [50, 30], [0, 30]]), label_id=None),
            ShapeData("annotation", "brush", np.array([[1.5, 2.5], [8.0, 9.0]]), label_id=3, stroke_width=4)]


def test_shapes_go_out_in_image_coordinates_with_their_colours():
    out = shapes_to_component(_shapes(), {3: "#00ff00"}, roi_color="#ffd700")
    assert [o["color"] for o in out] == ["#00ff00", "#ffd700", "#00ff00"]
    assert out[0]["points"] == SQUARE and out[2]["width"] == 4.0 and out[1]["label"] is None
    with pytest.raises(AnnotationError, match="no colour for label id 3"):
        shapes_to_component(_shapes(), {})


def test_add_edit_delete_round_trip():
    shapes = _shapes()
    drawn = {"kind": "annotation", "geometry": "brush", "points": [[1, 1], [5, 5]], "label": 3, "width": 6}
    added = apply_edit(shapes, {"type": "add", "shape": drawn}, [3])
    assert len(added) == 4 and added[-1].stroke_width == 6 and added[-1].label_id == 3 and len(shapes) == 3
    moved = apply_edit(added, {"type": "edit", "index": 0,
                               "points": [[10, 10], [40, 10], [50, 55], [10, 40]]}, [3])
    assert moved[0].points[2].tolist() == [50, 55] and moved[0].geometry == "polygon"
    rect = apply_edit(added, {"type": "edit", "index": 1, "points": [[0, 0], [60, 0], [60, 30], [0, 30]]}, [3])
    assert rect[1].geometry == "rectangle"  # still axis aligned
    skew = apply_edit(added, {"type": "edit", "index": 1, "points": [[0, 0], [60, 5], [60, 30], [0, 30]]}, [3])
    assert skew[1].geometry == "polygon"
    assert len(apply_edit(added, {"type": "delete", "index": 2}, [3])) == 3


@pytest.mark.parametrize(("event", "message"), [
    ({"type": "delete", "index": 7}, "named shape 7"),
    ({"type": "edit", "index": 0, "points": [[1, 1], [2, 2]]}, "keep its 4 points"),
    ({"type": "add", "shape": {"kind": "annotation", "geometry": "polygon", "points": SQUARE, "label": 9}},
     "not one of the project's labels"),
    ({"type": "add", "shape": {"kind": "annotation", "geometry": "circle", "points": SQUARE, "label": 3}},
     "geometry 'circle'"),
    ({"type": "add", "shape": {"kind": "roi", "geometry": "polygon", "points": [[1, float("nan")]]}},
     "finite"),
    ({"type": "zoom"}, "does not edit shapes"),
])
def test_bad_events_say_what_was_wrong(event, message):
    shapes = _shapes()
    with pytest.raises(AnnotationError, match=message):
        apply_edit(shapes, event, [3])
    assert len(shapes) == 3


def test_an_roi_drawn_with_a_label_keeps_none():
    roi = component_shape({"kind": "roi", "geometry": "rectangle", "points": SQUARE, "label": 3}, [3])
    assert roi.label_id is None and roi.stroke_width == 0.0


def test_views_are_checked_and_cut_to_the_image():
    assert check_view({"x0": 1, "y0": 2, "scale": 0, "width": 5, "height": 5}) is None
    assert check_view({"x0": 1}) is None and check_view(None) is None
    view = check_view({"x0": -32, "y0": 0, "scale": 2.5, "width": 800, "height": 600, "image_id": 4})
    assert view == {"x0": -32.0, "y0": 0.0, "scale": 2.5, "width": 800.0, "height": 600.0}
    vp = visible_viewport((256, 256), view)  # centred: the image starts 80 screen pixels in
    assert (vp.x0, vp.y0, vp.scale) == (0.0, 0.0, 2.5)
    assert (vp.canvas_w, vp.canvas_h) == (640, 600)  # 256 * 2.5 wide, the view's 600 high (240 image px)
    zoomed = visible_viewport((1000, 2000), {"x0": 100.5, "y0": 50, "scale": 4, "width": 400, "height": 200})
    assert (zoomed.x0, zoomed.y0, zoomed.view_w, zoomed.view_h) == (100.5, 50.0, 100.0, 50.0)
    assert visible_viewport((100, 100), {"x0": 500, "y0": 0, "scale": 1, "width": 50, "height": 50}) is None
    whole = whole_image_viewport((30, 40), [(30, 40), (15, 20)])
    assert (whole.canvas_w, whole.canvas_h, whole.scale, whole.level) == (40, 30, 1.0, 0)


def test_an_roi_of_a_class_is_drawn_in_the_class_colour():
    rois = [ShapeData("roi", "rectangle", np.array(SQUARE, float), label_id=3),
            ShapeData("roi", "rectangle", np.array(SQUARE, float), label_id=None)]
    drawn = shapes_to_component(rois, {3: "#00ff00"}, roi_color="#ffd700")
    assert [(d["label"], d["color"]) for d in drawn] == [(3, "#00ff00"), (None, "#ffd700")]
