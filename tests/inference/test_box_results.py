"""What a detection prediction writes for an image: boxes CSV (µm where the pixel size is known), COCO JSON,
GeoJSON rectangles for QuPath, an overlay; its ZIP's files; counts per image; boxes as annotations."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from core.annotations.shapes import ShapeData
from core.errors import InvalidInputError
from core.inference import Predictor
from core.inference.accept import boxes_to_shapes, result_shapes
from core.inference.box_export import read_boxes_csv
from core.inference.results import (
    RESULT_WRITERS,
    predict_file,
    result_writer,
    write_counts_csv,
    write_overlay,
)
from core.inference.tiled_boxes import BoxPrediction
from core.training.types import TRAINING_TYPES
from tests.inference.box_helpers import PointwiseBoxes, box_picture, boxes_card

OBJECTS = [(0, 40, 50, 30.0), (0, 120, 200, 24.0), (1, 150, 60, 40.0)]


@pytest.fixture
def predicted(tmp_path: Path) -> tuple[dict, np.ndarray, np.ndarray]:
    picture, boxes, labels = box_picture((200, 260), OBJECTS, n_labels=2)
    path = tmp_path / "cells.tif"
    tifffile.imwrite(path, picture, photometric="minisblack", planarconfig="separate")
    predictor = Predictor(PointwiseBoxes(2), boxes_card(2))
    files = predict_file(predictor, path, tmp_path / "out", "cells", pixel_size_um=0.5)
    return files, boxes, labels


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_training_type_has_a_writer_for_what_it_produces():
    assert {kind.result_kind for kind in TRAINING_TYPES.values()} <= set(RESULT_WRITERS)
    with pytest.raises(InvalidInputError, match="known kinds"):
        result_writer("points")


def test_the_boxes_csv_has_pixels_and_micrometres(predicted):
    files, boxes, labels = predicted
    assert files["result_kind"] == "boxes"
    assert files["counts"] == {"kind0": 2, "kind1": 1}
    rows = _rows(files["boxes"])
    assert list(rows[0])[:8] == ["label", "score", "x_min", "y_min", "x_max", "y_max", "centre_x", "centre_y"]
    assert {"x_min_um", "centre_x_um", "width_um", "height_um"} <= set(rows[0])
    got = sorted((r["label"], float(r["x_min"]), float(r["y_min"]), float(r["x_max"]), float(r["y_max"]))
                 for r in rows)
    want = sorted((f"kind{lab}", *map(float, box)) for box, lab in zip(boxes, labels, strict=True))
    for g, w in zip(got, want, strict=True):
        assert g[0] == w[0] and np.allclose(g[1:], w[1:], atol=1e-3)
    for r in rows:
        assert float(r["centre_x"]) == pytest.approx((float(r["x_min"]) + float(r["x_max"])) / 2)
        assert float(r["x_min_um"]) == pytest.approx(0.5 * float(r["x_min"]))
        assert float(r["width_um"]) == pytest.approx(0.5 * (float(r["x_max"]) - float(r["x_min"])))
    back, scores, names = read_boxes_csv(files["boxes"])
    assert back.shape == (3, 4) and (scores > 0.99).all() and sorted(names) == ["kind0", "kind0", "kind1"]


def test_coco_json_and_geojson_hold_the_same_boxes(predicted):
    files, boxes, _ = predicted
    coco = json.loads(files["coco"].read_text())
    assert [c["name"] for c in coco["categories"]] == ["kind0", "kind1"]
    assert coco["images"] == [{"id": 1, "file_name": "cells", "width": 260, "height": 200}]
    assert len(coco["annotations"]) == 3
    xywh = sorted(tuple(a["bbox"]) for a in coco["annotations"])
    want = sorted((b[0], b[1], b[2] - b[0], b[3] - b[1]) for b in boxes)
    np.testing.assert_allclose(xywh, want, atol=1e-3)
    assert sorted(a["category_id"] for a in coco["annotations"]) == [1, 1, 2]

    geo = json.loads(files["geojson"].read_text())
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 3
    for feature in geo["features"]:
        ring = feature["geometry"]["coordinates"][0]
        assert feature["geometry"]["type"] == "Polygon" and len(ring) == 5 and ring[0] == ring[-1]
        assert feature["properties"]["classification"]["name"] == feature["properties"]["label"]
        assert feature["properties"]["classification"]["color"] in ([230, 25, 75], [67, 99, 216])


def test_the_overlay_draws_each_box_in_its_label_colour(predicted):
    files, boxes, labels = predicted
    overlay = np.asarray(Image.open(files["overlay"]))
    assert overlay.shape == (200, 260, 3)
    for box, label in zip(boxes, labels, strict=True):
        colour = [(230, 25, 75), (67, 99, 216)][label]
        assert tuple(overlay[int(box[1]) + 5, int(box[0])]) == colour  # on the left edge


def test_a_large_image_gets_a_smaller_overlay_with_its_boxes_scaled(tmp_path):
    picture, boxes, labels = box_picture((200, 260), OBJECTS, n_labels=2)
    path = tmp_path / "p.tif"
    tifffile.imwrite(path, picture, photometric="minisblack", planarconfig="separate")
    result = BoxPrediction((200, 260), ["kind0", "kind1"], [20, 21], boxes, np.ones(3), labels)
    from core.imaging import open_image

    with open_image(path) as reader:
        write_overlay(reader, result, tmp_path / "o.png", colors=None, is_rgb=False, side=130)
    small = np.asarray(Image.open(tmp_path / "o.png"))
    assert small.shape == (100, 130, 3)
    x0, y0 = int(boxes[0, 0] / 2), int(boxes[0, 1] / 2)
    assert tuple(small[y0 + 3, x0]) == (230, 25, 75)


def test_the_image_zip_holds_the_boxes_files(predicted, tmp_path):
    files, _, _ = predicted
    archive = RESULT_WRITERS["boxes"].archive(files, tmp_path, "cells")
    assert [p.name for p in archive] == ["cells_boxes.csv", "cells_coco.json", "cells.geojson",
                                         "cells_overlay.png"]


def test_counts_per_image_and_label(tmp_path):
    path = write_counts_csv(tmp_path / "counts.csv", [("a.png", {"RBC": 3, "WBC": 1}), ("b.png", {"RBC": 0})])
    assert _rows(path) == [{"image": "a.png", "RBC": "3", "WBC": "1"},
                           {"image": "b.png", "RBC": "0", "WBC": "0"}]


def test_boxes_become_rectangles_from_predictions(predicted, tmp_path):
    files, boxes, labels = predicted
    data_dir = files["boxes"].parents[1]
    item = {"result_kind": "boxes", "boxes": files["boxes"].relative_to(data_dir).as_posix()}
    shapes = result_shapes(data_dir, item, {"kind0": 7, "kind1": 8})
    assert len(shapes) == 3 and all(isinstance(s, ShapeData) for s in shapes)
    assert {(s.geometry, s.source, s.kind) for s in shapes} == {("rectangle", "prediction", "annotation")}
    got = sorted((s.label_id, *np.round(s.bbox(), 3)) for s in shapes)
    want = sorted((7 + int(lab), *np.round(box, 3)) for box, lab in zip(boxes, labels, strict=True))
    np.testing.assert_allclose(got, want, atol=2e-3)
    with pytest.raises(InvalidInputError, match="Choose a project label"):
        result_shapes(data_dir, item, {"kind0": 7})


def test_boxes_without_area_are_not_annotations():
    shapes = boxes_to_shapes(np.array([[0.0, 0.0, 5.0, 5.0], [3.0, 3.0, 3.0, 9.0]]), [4, 4])
    assert len(shapes) == 1 and shapes[0].bbox() == (0.0, 0.0, 5.0, 5.0)


def test_an_image_without_objects_writes_empty_tables(tmp_path):
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 60, (2, 96, 128)).astype(np.uint8)  # heat far below the threshold everywhere
    path = tmp_path / "blank.tif"
    tifffile.imwrite(path, picture, photometric="minisblack", planarconfig="separate")
    files = predict_file(Predictor(PointwiseBoxes(1), boxes_card(1)), path, tmp_path / "out", "blank",
                         pixel_size_um=None)
    assert files["counts"] == {"kind0": 0}
    assert _rows(files["boxes"]) == [] and files["boxes"].read_text().startswith("label,score,x_min")
    assert json.loads(files["coco"].read_text())["annotations"] == []
    assert json.loads(files["geojson"].read_text())["features"] == []
    assert np.asarray(Image.open(files["overlay"])).shape == (96, 128, 3)
    assert read_boxes_csv(files["boxes"])[0].shape == (0, 4)
