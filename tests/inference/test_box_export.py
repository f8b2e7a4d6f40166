"""Detection exports: the boxes CSV (pixels and µm), counts, COCO JSON, GeoJSON for QuPath, drawn boxes."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.inference.box_export import (
    boxes_table,
    counts_per_label,
    draw_boxes,
    label_colors,
    write_boxes_csv,
    write_boxes_geojson,
    write_coco_json,
)

BOXES = np.array([[10.0, 20.0, 30.0, 25.0], [0.5, 1.5, 4.5, 9.5], [100.0, 0.0, 112.0, 6.0]])
SCORES = np.array([0.9, 0.75, 0.5])
LABELS = np.array([1, 0, 1])
NAMES = ["nucleus", "mitosis"]


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_csv_in_pixels(tmp_path):
    columns = boxes_table(BOXES, SCORES, LABELS, NAMES)
    assert list(columns) == ["label", "score", "x_min", "y_min", "x_max", "y_max", "centre_x", "centre_y"]
    path = write_boxes_csv(columns, tmp_path / "boxes.csv")
    rows = _rows(path)
    assert [r["label"] for r in rows] == ["mitosis", "nucleus", "mitosis"]
    assert float(rows[0]["centre_x"]) == 20.0 and float(rows[0]["centre_y"]) == 22.5
    assert float(rows[1]["x_min"]) == 0.5 and float(rows[1]["score"]) == 0.75
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary file left


def test_csv_with_micrometres(tmp_path):
    columns = boxes_table(BOXES, SCORES, LABELS, NAMES, pixel_size_um=0.5)
    assert list(columns)[8:] == [
        "x_min_um", "y_min_um", "x_max_um", "y_max_um", "centre_x_um", "centre_y_um", "width_um", "height_um",
    ]
    rows = _rows(write_boxes_csv(columns, tmp_path / "boxes.csv"))
    first = rows[0]
    assert float(first["x_min_um"]) == 5.0 and float(first["y_max_um"]) == 12.5
    assert float(first["centre_x_um"]) == 10.0 and float(first["centre_y_um"]) == 11.25
    assert float(first["width_um"]) == 10.0 and float(first["height_um"]) == 2.5
    with pytest.raises(InvalidInputError, match="pixel_size_um"):
        boxes_table(BOXES, SCORES, LABELS, NAMES, pixel_size_um=0)


def test_empty_table_and_wrong_labels(tmp_path):
    columns = boxes_table(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=int), NAMES)
    assert all(len(v) == 0 for v in columns.values())
    assert _rows(write_boxes_csv(columns, tmp_path / "empty.csv")) == []
    with pytest.raises(InvalidInputError, match=r"0\.\.1"):
        boxes_table(BOXES, SCORES, np.array([0, 2, 1]), NAMES)


def test_counts_per_label():
    assert counts_per_label(LABELS, NAMES) == {"nucleus": 1, "mitosis": 2}
    assert counts_per_label(np.zeros(0, dtype=int), NAMES) == {"nucleus": 0, "mitosis": 0}


def test_coco_json_round_trip(tmp_path):
    images = [
        {"file_name": "a.tif", "width": 120, "height": 40,
         "boxes": BOXES, "scores": SCORES, "labels": LABELS},
        {"file_name": "b.tif", "width": 8, "height": 8, "boxes": np.zeros((0, 4)), "scores": np.zeros(0),
         "labels": np.zeros(0, dtype=int)},
    ]
    path = write_coco_json(tmp_path / "pred.json", images, NAMES)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["categories"] == [
        {"id": 1, "name": "nucleus", "supercategory": "object"},
        {"id": 2, "name": "mitosis", "supercategory": "object"},
    ]
    assert [(i["id"], i["file_name"], i["width"], i["height"]) for i in data["images"]] == [
        (1, "a.tif", 120, 40), (2, "b.tif", 8, 8),
    ]
    anns = data["annotations"]
    assert [a["id"] for a in anns] == [1, 2, 3] and {a["image_id"] for a in anns} == {1}
    assert [a["category_id"] for a in anns] == [2, 1, 2]
    assert anns[0]["bbox"] == [10.0, 20.0, 20.0, 5.0] and anns[0]["area"] == 100.0
    assert [a["score"] for a in anns] == [0.9, 0.75, 0.5] and all(a["iscrowd"] == 0 for a in anns)
    back = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)])
    np.testing.assert_array_equal(back, BOXES)
    with pytest.raises(InvalidInputError, match="lacks scores"):
        write_coco_json(tmp_path / "bad.json", [{k: v for k, v in images[0].items() if k != "scores"}], NAMES)


def test_geojson_rectangles_are_closed_and_classified(tmp_path):
    n = write_boxes_geojson(tmp_path / "boxes.geojson", BOXES, SCORES, LABELS, NAMES,
                            colors=["#ff0000", "#00ff00"])
    assert n == 3
    data = json.loads((tmp_path / "boxes.geojson").read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 3
    for feature, box, score, label in zip(data["features"], BOXES, SCORES, LABELS, strict=True):
        assert feature["geometry"]["type"] == "Polygon"
        ring = feature["geometry"]["coordinates"][0]
        assert len(ring) == 5 and ring[0] == ring[-1]  # closed
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        assert (min(xs), min(ys), max(xs), max(ys)) == tuple(box)
        props = feature["properties"]
        assert props["objectType"] == "detection"
        assert props["classification"] == {"name": NAMES[label], "color": [[255, 0, 0], [0, 255, 0]][label]}
        assert props["score"] == score and props["measurements"] == {"score": score}
    assert [f["properties"]["name"] for f in data["features"]] == ["mitosis 1", "nucleus 1", "mitosis 2"]
    with pytest.raises(InvalidInputError, match="colour"):
        write_boxes_geojson(tmp_path / "x.geojson", BOXES, SCORES, LABELS, NAMES, colors=["red", "blue"])
    assert not (tmp_path / "x.geojson").exists()


def test_geojson_default_colours_and_no_boxes(tmp_path):
    n = write_boxes_geojson(tmp_path / "e.geojson", np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), NAMES)
    assert n == 0
    assert json.loads((tmp_path / "e.geojson").read_text())["features"] == []
    np.testing.assert_array_equal(label_colors(2), [[0xE6, 0x19, 0x4B], [0x3C, 0xB4, 0x4B]])


def test_draw_boxes_on_a_tiny_image():
    rgb = np.zeros((8, 10, 3), dtype=np.uint8)
    out = draw_boxes(rgb, np.array([[1.0, 1.0, 6.0, 5.0]]), (255, 0, 0), width=1)
    assert out is not rgb and not rgb.any()  # a new array; the input is untouched
    red = out[..., 0] == 255
    expected = np.zeros((8, 10), dtype=bool)
    expected[1, 1:6] = expected[4, 1:6] = True  # rows 1 and 4 (the box covers rows 1..4, columns 1..5)
    expected[1:5, 1] = expected[1:5, 5] = True
    np.testing.assert_array_equal(red, expected)
    assert not out[..., 1:].any()


def test_draw_boxes_clips_and_takes_one_colour_per_box():
    rgb = np.full((6, 6, 3), 7, dtype=np.uint8)
    boxes = np.array([[-3.0, -3.0, 2.0, 2.0], [4.0, 4.0, 9.0, 9.0], [20.0, 20.0, 25.0, 25.0]])
    colors = label_colors(2)[[0, 1, 0]]
    out = draw_boxes(rgb, boxes, colors, width=2)
    np.testing.assert_array_equal(out[0, 0], colors[0])  # inside the first box's 2 px outline (cols/rows 0-1)
    np.testing.assert_array_equal(out[1, 1], colors[0])
    np.testing.assert_array_equal(out[5, 5], colors[1])  # the second box's outline starts at 4, 4
    np.testing.assert_array_equal(out[2, 2], [7, 7, 7])
    square = np.array([[0.0, 0.0, 10.0, 10.0]])
    thick = draw_boxes(np.zeros((10, 10, 3), np.uint8), square, (9, 9, 9), width=3)
    assert thick[3:7, 3:7].sum() == 0 and (thick[:3, :, 0] == 9).all() and (thick[:, 7:, 0] == 9).all()
    with pytest.raises(InvalidInputError, match="uint8"):
        draw_boxes(rgb.astype(float), boxes, colors)
    with pytest.raises(InvalidInputError, match="one per box"):
        draw_boxes(rgb, boxes, colors[:2])
