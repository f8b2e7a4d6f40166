"""Apply's measurements: readable numbers with units in the headers, full precision kept in the data and the
CSV, and a row picked in the table outlines its object in the picture (and brings it into view)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import tifffile
from streamlit.testing.v1 import AppTest

from core.inference import export_prediction
from ui.measurements import column_title

KEY = "measure_1_0"


def _prediction(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A 400×600 image with two objects of the label "nucleus", far apart; its label TIFF and measurements."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 200, (400, 600), dtype=np.uint8)
    labels = np.zeros((400, 600), dtype=np.uint16)
    labels[20:40, 30:57] = 1
    labels[350:381, 540:570] = 2
    image_path, labels_path = tmp_path / "img.tif", tmp_path / "img_labels.tif"
    tifffile.imwrite(image_path, image)
    tifffile.imwrite(labels_path, labels, tile=(32, 32), metadata=None,
                     description=json.dumps({"labels": ["nucleus"], "training_type": "instance",
                                             "label_ids": [1]}))
    out = export_prediction(labels_path, image[None], tmp_path, stem="img", pixel_size_um=0.325)
    return image_path, labels_path, out["csv"]


def _page(image_path: str, labels_path: str, csv_path: str) -> None:
    from pathlib import Path

    from ui.measurements import measurements_table
    from ui.result_view import prediction_viewer

    slot = __import__("streamlit").container()
    picked = measurements_table(Path(csv_path), key="measure_1_0")
    with slot:
        prediction_viewer(image_path, labels_path, is_rgb=False, colors=["#e6194b"], key="1_0", picked=picked)


def test_headers_carry_units_and_numbers_are_rounded_for_display_only():
    assert column_title("area") == ("Area (px²)", "%d")
    assert column_title("area_um2") == ("Area (µm²)", "%.2f")
    assert column_title("perimeter_um") == ("Perimeter (µm)", "%.2f")
    assert column_title("centroid_x") == ("Centroid x (px)", "%.1f")
    assert column_title("bbox_y0") == ("Box y0 (px)", "%d")
    assert column_title("solidity") == ("Solidity", "%.3f")
    assert column_title("mean_intensity_c0") == ("Mean intensity channel 0", "%.1f")


def test_a_picked_row_outlines_its_object_and_brings_it_into_view(tmp_path):
    from ui.result_view import HIGHLIGHT, view_picture

    image_path, labels_path, csv_path = _prediction(tmp_path)
    at = AppTest.from_function(_page, args=(str(image_path), str(labels_path), str(csv_path)),
                               default_timeout=60).run()
    assert not at.exception, at.exception
    [table] = at.dataframe
    columns = json.loads(table.proto.columns)
    titles = {name: spec.get("label") for name, spec in columns.items()}
    assert titles["area_um2"] == "Area (µm²)" and titles["perimeter"] == "Perimeter (px)", titles
    assert columns["perimeter_um"]["type_config"]["format"] == "%.2f"
    with open(csv_path, encoding="utf-8") as handle:  # the CSV keeps every digit; so does the table's data
        diameter = [row["equivalent_diameter_um"] for row in csv.DictReader(handle)]
    assert len(diameter[0].split(".")[1]) > 4
    assert table.value["equivalent_diameter_um"][0] == float(diameter[0])
    [picture] = at.get("image")
    assert picture.captions[0].startswith("Zoom"), picture.captions

    at.session_state["result_view_1_0"] = at.session_state["result_view_1_0"].zoomed(4.0, (40, 30))
    at.session_state[KEY] = {"selection": {"rows": [1], "columns": [], "cells": []}}  # the second object
    at.run()
    assert not at.exception, at.exception
    [picture] = at.get("image")
    assert picture.captions[0].startswith("Object 2 (nucleus) outlined in yellow"), picture.captions
    view = at.session_state["result_view_1_0"]
    assert view.x0 <= 540 and view.x0 + view.view_w >= 570 and view.y0 <= 350 and view.y0 + view.view_h >= 381
    pixels = view_picture(str(image_path), str(labels_path), view, is_rgb=False, colors=["#e6194b"],
                           picked=at.session_state["result_view_1_0_picked"])
    yellow = np.all(pixels == HIGHLIGHT, axis=-1)
    ys, xs = np.nonzero(yellow)
    inside = view.canvas_to_image(np.stack([xs, ys], axis=1).astype(float))  # back to image pixels
    assert yellow.sum() > 50 and inside[:, 0].min() >= 538 and inside[:, 0].max() <= 572
    assert inside[:, 1].min() >= 348 and inside[:, 1].max() <= 383
