"""Apply's measurements: readable numbers with units in the headers, full precision kept in the data and the
CSV, a row picked in the table outlines its object in the picture (and brings it into view), and an object
clicked in the picture selects its row."""

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
    """The picture above its table, wired as pages/apply.py wires them."""
    from functools import partial
    from pathlib import Path

    from ui.measurements import measurements_table, select_object
    from ui.result_view import prediction_viewer

    slot = __import__("streamlit").container()
    picked = measurements_table(Path(csv_path), key="measure_1_0")
    with slot:
        prediction_viewer(image_path, labels_path, is_rgb=False, colors=["#e6194b"], key="1_0", picked=picked,
                          on_pick=partial(select_object, Path(csv_path), key="measure_1_0"))


def _click(at: AppTest, x: float, y: float, when: int) -> AppTest:
    """What the browser sends when the picture is clicked at its pixel (x, y): the component's new state value
    ``click`` (AppTest has no way of its own to set a custom component's value)."""
    [picture] = [e for e in at.get("bidi_component") if e.key == "result_view_1_0_picture"]
    states = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = picture.proto.id
    state.json_value = json.dumps({"click": {"x": x, "y": y, "t": when}})
    return at._run(states)


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


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
    assert _captions(at).startswith("Zoom"), _captions(at)

    at.session_state["result_view_1_0"] = at.session_state["result_view_1_0"].zoomed(4.0, (40, 30))
    at.session_state[KEY] = {"selection": {"rows": [1], "columns": [], "cells": []}}  # the second object
    at.run()
    assert not at.exception, at.exception
    assert _captions(at).startswith("Object 2 (nucleus) outlined in yellow"), _captions(at)
    view = at.session_state["result_view_1_0"]
    assert view.x0 <= 540 and view.x0 + view.view_w >= 570 and view.y0 <= 350 and view.y0 + view.view_h >= 381
    pixels = view_picture(str(image_path), str(labels_path), view, is_rgb=False, colors=["#e6194b"],
                           picked=at.session_state["result_view_1_0_picked"])
    yellow = np.all(pixels == HIGHLIGHT, axis=-1)
    ys, xs = np.nonzero(yellow)
    inside = view.canvas_to_image(np.stack([xs, ys], axis=1).astype(float))  # back to image pixels
    assert yellow.sum() > 50 and inside[:, 0].min() >= 538 and inside[:, 0].max() <= 572
    assert inside[:, 1].min() >= 348 and inside[:, 1].max() <= 383


def test_an_object_clicked_in_the_picture_selects_its_row(tmp_path):
    from ui.result_view import object_at

    image_path, labels_path, csv_path = _prediction(tmp_path)
    at = AppTest.from_function(_page, args=(str(image_path), str(labels_path), str(csv_path)),
                               default_timeout=60).run()
    assert not at.exception, at.exception
    view = at.session_state["result_view_1_0"]
    # picture pixel of image point (u, v): ((u - x0) * scale, (v - y0) * scale); object 2: columns 540-569,
    # rows 350-380
    x, y = (555 - view.x0) * view.scale, (365 - view.y0) * view.scale
    assert object_at(str(labels_path), view, x, y) == ("nucleus", 2)
    at = _click(at, x, y, when=1)
    assert not at.exception, at.exception
    assert at.session_state[KEY]["selection"]["rows"] == [1]
    assert "Selected: object 2 (nucleus), row 2 of 2" in _captions(at), _captions(at)
    assert _captions(at).startswith("Object 2 (nucleus) outlined in yellow"), _captions(at)

    at = _click(at, (40 - view.x0) * view.scale, (30 - view.y0) * view.scale, when=2)  # object 1
    assert at.session_state[KEY]["selection"]["rows"] == [0]
    assert "Selected: object 1 (nucleus), row 1 of 2" in _captions(at), _captions(at)
    at = _click(at, 5.0, 300.0, when=3)  # background: nothing is selected
    assert not at.exception, at.exception
    assert at.session_state[KEY]["selection"]["rows"] == [] and "Selected" not in _captions(at)
    assert object_at(str(labels_path), view, -3.0, 5.0) is None  # outside the picture
    assert object_at(str(labels_path), view, 1e6, 5.0) is None


def test_a_clicked_object_beyond_the_listed_rows_is_said_to_be_in_the_csv(tmp_path, monkeypatch):
    from ui import measurements

    monkeypatch.setattr(measurements, "SHOWN_ROWS", 1)
    image_path, labels_path, csv_path = _prediction(tmp_path)
    at = AppTest.from_function(_page, args=(str(image_path), str(labels_path), str(csv_path)),
                               default_timeout=60).run()
    view = at.session_state["result_view_1_0"]
    at = _click(at, (555 - view.x0) * view.scale, (365 - view.y0) * view.scale, when=1)
    assert not at.exception, at.exception
    assert at.session_state[KEY]["selection"]["rows"] == []
    note = "Object 2 (nucleus) is not among the 1 objects listed; the CSV has it."
    assert note in _captions(at), _captions(at)
