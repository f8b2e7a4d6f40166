"""A detection training through the command line: trained on the demo's outlines (each counts as its box),
its epochs' mAP@0.5 stored, `segstudio evaluate` with boxes as ground truth, and its report rebuilt from what
is stored."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile

import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi

from core.cli import main
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.demo import DEMO_DIR


def _boxes_csv(path, stems: list[str], *, extra: list[list[str]] = ()) -> int:
    """One CSV of the object boxes of the demo masks of ``stems`` (image,label,x_min,y_min,x_max,y_max);
    returns the count."""
    rows = []
    for mask_path in [DEMO_DIR / "masks" / f"{stem}.tif" for stem in stems]:
        mask = tifffile.imread(mask_path)
        for sl in ndi.find_objects(mask):
            if sl is not None:
                box = [sl[1].start, sl[0].start, sl[1].stop, sl[0].stop]
                rows.append([f"{mask_path.stem}.png", "nucleus", *box])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label", "x_min", "y_min", "x_max", "y_max"])
        writer.writerows(rows + list(extra))
    return len(rows)


@pytest.mark.slow  # 18 s; in the default run a detector trains in tests/training/test_detection.py and the worker
# applies one in tests/jobs/test_detection_job.py
def test_train_evaluate_with_boxes_and_rebuild_the_report(app_env, capsys, tmp_path):
    assert main(["demo"]) == 0
    project = "Demo: fluorescent nuclei"
    capsys.readouterr()
    code = main(["train", project, "--name", "boxes", "--type", "detection", "--labels", "nucleus",
                 "--duration", "12", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    record = json.loads(out)
    assert record["status"] == "succeeded" and "map_50" in record["metrics"]
    engine = make_engine(app_env.database_url)
    with session_scope(engine) as s:
        epochs = repo.epoch_records(s, record["id"])
    assert epochs and all("val_map50" in e and "train_map50" in e and "val_f1" in e for e in epochs)

    images = tmp_path / "images"  # two of the demo's images (each takes the model's 8 views)
    images.mkdir()
    stems = [p.stem for p in sorted((DEMO_DIR / "images").glob("*.png"))[:2]]
    for stem in stems:
        shutil.copy(DEMO_DIR / "images" / f"{stem}.png", images)
    boxes = tmp_path / "boxes.csv"
    n_boxes = _boxes_csv(boxes, stems)
    code = main(["evaluate", str(record["id"]), "--images", str(images), "--boxes", str(boxes), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["images"] == 2 and len(result["per_image"]) == 2
    assert {"map_50", "map_50_95", "mean_f1", "precision", "recall", "f1"} <= set(result["overall"])
    [row] = result["per_label"]
    assert row["label"] == "nucleus"
    assert {"ap_50", "ap_75", "ap_50_95", "precision", "recall", "f1"} <= set(row)
    assert row["n_gt"] == n_boxes == sum(r["n_gt"] for r in result["per_image"])

    # in words; a label the model lacks and an image the folder lacks are named, the rest is scored
    _boxes_csv(boxes, stems[:1], extra=[[f"{stems[0]}.png", "cytoplasm", "1", "1", "9", "9"],
                                         ["elsewhere.png", "nucleus", "1", "1", "9", "9"]])
    code = main(["evaluate", "boxes", "--images", str(images), "--boxes", str(boxes)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "label 'cytoplasm' is not a label of the model" in err and "elsewhere.png" in err
    assert f"1 image(s) have no boxes in {boxes} and were skipped: {stems[1]}.png" in err
    assert "1 image(s)." in out and "mAP@0.5 " in out and "mAP@0.5:0.95 " in out
    assert "AP50=" in out and "precision=" in out and "recall=" in out and "f1=" in out

    code = main(["evaluate", "boxes", "--images", str(images), "--masks", str(DEMO_DIR / "masks")])
    assert code == 1 and "give its ground truth as --boxes" in capsys.readouterr().err

    out = tmp_path / "rebuilt.zip"
    assert main(["report", "boxes", "--out", str(out), "--rebuild"]) == 0
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        metrics = json.loads(archive.read("metrics.json"))
        pr_rows = list(csv.DictReader(archive.read("precision_recall.csv").decode().splitlines()))
    assert {"report.pdf", "precision_recall.csv", "curves.csv", "metrics_per_image.csv"} <= names
    assert any(n.startswith("validation_visualizations/") and n.endswith(".png") for n in names)
    assert metrics["training_type"] == "detection" and "ap_50" in metrics["per_label"][0]
    assert "pixel_iou" not in metrics["per_label"][0]
    assert pr_rows and {r["label"] for r in pr_rows} == {"nucleus"}
    assert np.isfinite([float(r["precision"]) for r in pr_rows]).all()
