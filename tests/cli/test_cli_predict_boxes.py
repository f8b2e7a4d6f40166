"""`segstudio predict` with a detection model: boxes CSV, COCO JSON, GeoJSON, overlay and counts per image."""

from __future__ import annotations

import csv
import json
import shutil

from PIL import Image

from core.cli import main
from core.predictions import MODELS_DIR
from tests.inference.box_model import squares


def test_predict_writes_the_boxes_outputs(app_env, capsys, tmp_path, tiny_detector_package):
    card = json.loads((tiny_detector_package / "model_card.json").read_text())
    sides = [max(y1 - y0, x1 - x0) for i in range(4) for _, y0, x0, y1, x1 in squares(i)[1]]
    assert card["largest_box"] == max(sides)  # the training's boxes: Apply's tiles overlap by more
    shutil.copytree(tiny_detector_package, app_env.data_dir / MODELS_DIR / "boxes")
    inputs = tmp_path / "in"
    inputs.mkdir()
    for seed in (1, 2):
        pixels, _ = squares(seed, size=160)
        Image.fromarray(pixels[0]).save(inputs / f"smear{seed}.png")
    out = tmp_path / "out"

    code = main(["predict", "boxes", str(inputs), "--out", str(out), "--json"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    records = json.loads(stdout)
    assert [r["result_kind"] for r in records] == ["boxes", "boxes"]
    for record in records:
        for key in ("boxes", "coco", "geojson", "overlay"):
            assert (out / record[key].rsplit("/", 1)[-1]).is_file(), key
        with open(record["boxes"], newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == sum(record["objects"].values()) > 0
        assert set(record["objects"]) == {"square", "bar"}
        coco = json.loads(open(record["coco"], encoding="utf-8").read())
        assert len(coco["annotations"]) == len(rows)
        assert len(json.loads(open(record["geojson"], encoding="utf-8").read())["features"]) == len(rows)
    with open(out / "counts.csv", newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [r["image"] for r in table] == ["smear1.png", "smear2.png"]
    assert [int(r["square"]) + int(r["bar"]) for r in table] == [sum(r["objects"].values()) for r in records]

    code = main(["predict", "boxes", str(inputs / "smear1.png"), "--out", str(tmp_path / "plain")])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "smear1_boxes.csv, smear1_coco.json, smear1.geojson, smear1_overlay.png" in stdout
