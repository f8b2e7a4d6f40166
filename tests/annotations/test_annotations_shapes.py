from __future__ import annotations

import numpy as np
import pytest

from core.annotations import ShapeData
from core.errors import AnnotationError


def test_record_round_trip_matches_table_fields():
    points = [[1, 2], [3.5, 4]]
    shape = ShapeData("annotation", "brush", points, label_id=7, stroke_width=3, source="manual", id=12)
    record = shape.to_record()
    assert record == {
        "kind": "annotation",
        "geometry": "brush",
        "points": [[1.0, 2.0], [3.5, 4.0]],
        "label_id": 7,
        "stroke_width": 3.0,
        "source": "manual",
        "id": 12,
    }
    back = ShapeData.from_record(record)
    assert back.points.dtype == np.float64 and back.points.shape == (2, 2)
    assert back.to_record() == record


def test_from_record_accepts_an_object_with_attributes():
    class Row:
        id = 3
        kind = "roi"
        geometry = "rectangle"
        points = [[0, 0], [4, 0], [4, 2], [0, 2]]
        label_id = None
        stroke_width = 0.0
        source = "manual"

    shape = ShapeData.from_record(Row())
    assert shape.is_roi and shape.id == 3 and shape.bbox() == (0.0, 0.0, 4.0, 2.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "blob"}, "kind 'blob' is not known"),
        ({"geometry": "circle"}, "geometry 'circle' is not known"),
        ({"points": [[1, 2, 3]]}, "shape (N, 2)"),
        ({"points": [[1, np.nan], [2, 3], [4, 5]]}, "NaN"),
        ({"points": "abc"}, "must be numbers"),
        ({"label_id": None}, "needs a label_id"),
        ({"stroke_width": -1}, "stroke_width"),
    ],
)
def test_bad_shapes_are_refused_with_a_clear_message(kwargs, message):
    values = {"kind": "annotation", "geometry": "polygon", "points": [[0, 0], [1, 0], [0, 1]], "label_id": 1}
    values.update(kwargs)
    with pytest.raises(AnnotationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ShapeData(**values)


def test_roi_keeps_its_class_and_brush_bbox_includes_half_width():
    roi = ShapeData("roi", "polygon", [[0, 0], [1, 0], [0, 1]], label_id=5)  # an ROI of class 5
    assert roi.label_id == 5 and ShapeData.from_record(roi.to_record()).label_id == 5
    assert ShapeData("roi", "polygon", [[0, 0], [1, 0], [0, 1]], label_id=None).label_id is None
    brush = ShapeData("annotation", "brush", [[10, 10], [20, 10]], label_id=1, stroke_width=4)
    assert brush.bbox() == (8.0, 8.0, 22.0, 12.0)


def test_from_record_lacking_fields():
    with pytest.raises(AnnotationError, match="lacks"):
        ShapeData.from_record({"kind": "annotation"})
