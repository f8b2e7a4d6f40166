"""The report of a detection training, built from a tiny model trained here (squares of two labels): its own
curves, metrics per label, precision-recall curves, counts per image, TP / FP / FN box pictures, and no
pixel sections."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.errors import InvalidInputError
from core.evaluation.detection import RECALL_POINTS
from core.evaluation.overlay import FN_COLOR, FP_COLOR, TP_COLOR
from core.reports import BoxExample, ReportData, ValidationExample, build_report_zip, downscale_box_example
from core.reports.box_visuals import render_box_panel
from core.reports.formatting import format_value
from core.reports.methods import methods_paragraph
from core.reports.sections_results import DETECTION_COLUMNS
from core.reports.visuals import _GAP, _PAD, MIN_TILE_SIDE
from core.training.assessment import assess
from core.training.job import validation_samples
from core.training.package import load_model
from core.training.report_assembly import build_training_report, examples_from
from core.training.types import training_type
from tests.reports.reading import OpenedReport
from tests.training.box_synth import stored_detection_training


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("detection") / "data")
    engine = make_engine(settings.database_url)
    yield stored_detection_training(settings, engine)
    engine.dispose()


@pytest.fixture(scope="module")
def report(stored):
    opened = OpenedReport(stored.report)
    yield opened
    opened.close()


def _metrics(stored) -> dict:
    with session_scope(stored.engine) as s:
        return repo.get_training(s, stored.training_id).metrics


def test_the_zip_has_the_detection_files_and_no_pixel_sections(stored, report):
    names = report.names
    assert {"report.pdf", "metrics.json", "metrics_per_image.csv", "curves.csv", "precision_recall.csv",
            "README.txt", "validation_visualizations/sq3.png", "validation_visualizations/sq4.png"} <= names
    assert {"model/model_card.json", "model/weights.pt", "model/model.torchscript.pt"} <= names
    assert "OBJECT DETECTION TRAINING REPORT" in report.lines
    for heading in ("Per label: detection metrics", "Precision-recall curves",
                    "Boxes per image: true and predicted", "Validation visualisations", "Methods"):
        assert any(line.startswith(heading) for line in report.lines), heading
    text = " ".join(report.text.split())
    for pixel_only in ("Per label: pixel metrics", "Per label: instance metrics",
                       "Pixel metrics were computed", "pixel accuracy", "semantic training colours pixels"):
        assert pixel_only not in text, pixel_only
    readme = report.zip.read("README.txt").decode("utf-8")
    assert "precision_recall.csv" in readme and "true boxes" in readme and "pixel_" not in readme


def test_the_metrics_tables_are_the_stored_metrics(stored, report):
    metrics = _metrics(stored)
    assert report.metrics["training_type"] == "detection"
    assert report.metrics["per_label"] == metrics["per_label"]
    assert report.metrics["overall"] == metrics["overall"]
    for row in metrics["per_label"]:
        line = " ".join([row["label"], *(format_value(row[k]) for k, _ in DETECTION_COLUMNS)])
        assert line in report.lines, line
    overall = metrics["overall"]
    assert f"mAP@0.5 {format_value(overall['map_50'])}" in report.lines
    assert f"mAP@0.5:0.95 {format_value(overall['map_50_95'])}" in report.lines
    # the kept model's scores on the curves' page are the tables' numbers
    text = " ".join(report.text.split())
    assert f"validation mAP@0.5 {format_value(overall['map_50'])}" in text


def test_counts_per_image_add_up_to_the_labels_and_the_true_boxes(stored, report):
    metrics = _metrics(stored)
    per_image = report.csv_rows("metrics_per_image.csv")
    assert len(per_image) == 2 * 2 and {r["image"] for r in per_image} == {"sq3.png", "sq4.png"}
    for k, row in enumerate(metrics["per_label"]):
        mine = [r for r in per_image if r["label"] == row["label"]]
        for key in ("n_gt", "n_pred", "tp", "fp", "fn"):
            assert sum(int(r[key]) for r in mine) == row[key], key
        truth = {im.key: sum(1 for b in im.object_boxes if b[0] == k) for im in stored.val_images}
        assert {r["image"]: int(r["n_gt"]) for r in mine} == truth
    for r in metrics["per_image"]:  # each image's table row: true vs predicted
        assert f"{r['image']} {r['label']} {r['n_gt']} {r['n_pred']}" in " ".join(report.lines)


def test_the_precision_recall_curves_give_each_labels_ap(stored, report):
    rows = report.csv_rows("precision_recall.csv")
    metrics = _metrics(stored)
    summary = {c["label"]: c for c in report.metrics["precision_recall"]["labels"]}
    for row in metrics["per_label"]:
        points = [r for r in rows if r["label"] == row["label"]]
        recall = np.array([float(r["recall"]) for r in points])
        precision = np.array([float(r["precision"]) for r in points])
        scores = [float(r["score"]) for r in points]
        assert scores == sorted(scores, reverse=True) and [int(r["rank"]) for r in points] == list(
            range(1, len(points) + 1))
        # COCO's 101-point interpolated AP from the file's points is the table's AP50
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        index = np.searchsorted(recall, RECALL_POINTS, side="left")
        sampled = np.where(index < len(envelope), envelope[np.minimum(index, len(envelope) - 1)], 0.0)
        assert float(sampled.mean()) == pytest.approx(row["ap_50"], abs=1e-12)
        assert summary[row["label"]]["ap"] == pytest.approx(row["ap_50"])
        # the marked operating point is the table's recall and precision at the label's threshold
        assert summary[row["label"]]["operating_point"] == pytest.approx([row["recall"], row["precision"]])


def test_the_curves_are_the_types_charts_from_the_databases_scores(stored, report):
    curves = report.csv_rows("curves.csv")
    assert list(curves[0])[:9] == ["epoch", "train_loss", "val_loss", "train_map50", "val_map50",
                                   "train_precision", "val_precision", "train_recall", "val_recall"]
    with session_scope(stored.engine) as s:
        records = repo.epoch_records(s, stored.training_id)
    assert len(curves) == len(records) == 2
    for row, record in zip(curves, records, strict=True):
        for key in ("val_map50", "train_map50", "val_precision", "val_recall", "train_f1"):
            assert float(row[key]) == pytest.approx(record[key]), key


def test_the_validation_pictures_draw_the_matches_of_the_tables(stored, report):
    metrics = _metrics(stored)
    kind = training_type("detection")
    examples = examples_from(stored.samples, stored.assessment)
    assert [ex.name for ex in examples] == ["sq3.png", "sq4.png"] and all(isinstance(e, BoxExample)
                                                                           for e in examples)
    for k, row in enumerate(metrics["per_label"]):
        tp = sum(int((ex.matched[k] >= 0).sum()) for ex in examples)
        fp = sum(int((ex.matched[k] < 0).sum()) for ex in examples)
        fn = sum(len(ex.truth[k]) - int((ex.matched[k] >= 0).sum()) for ex in examples)
        assert (tp, fp, fn) == (row["tp"], row["fp"], row["fn"])
    with Image.open(io.BytesIO(report.zip.read("validation_visualizations/sq3.png"))) as picture:
        assert picture.width >= 4 * MIN_TILE_SIDE  # the 64-pixel image enlarged
    assert kind.result_kind == "boxes"


def test_a_rebuilt_report_scores_the_package_again_the_same_way(stored, report):
    model, card = load_model(stored.settings.data_dir / _model_dir(stored), "cpu")
    samples = validation_samples(stored.val_images, stored.config)
    assessment = assess(model, card, samples)
    again = build_training_report(stored.settings, stored.engine, stored.training_id,
                                  examples=examples_from(samples, assessment),
                                  pr_curves=assessment.pr_curves())
    rebuilt = OpenedReport(again)
    try:
        assert rebuilt.metrics["per_label"] == report.metrics["per_label"]
        assert rebuilt.zip.read("precision_recall.csv") == report.zip.read("precision_recall.csv")
        assert {n for n in rebuilt.names if n.startswith("validation_visualizations/")} == {
            n for n in report.names if n.startswith("validation_visualizations/")}
    finally:
        rebuilt.close()


def _model_dir(stored) -> str:
    with session_scope(stored.engine) as s:
        return repo.get_training(s, stored.training_id).model_dir


def test_the_methods_paragraph_describes_detection_without_pixel_metrics(stored):
    kind = training_type("detection")
    data = ReportData(training={"name": "t", "status": "succeeded"},
                      config={"training_type": "detection", "labels": ["RBC", "WBC"],
                              "loss": kind.loss_description(distance=False, rays=False),
                              "postprocess": [{"label": "RBC", "score_threshold": 0.35, "nms_iou": 0.5,
                                               "tuned_score": 0.8},
                                              {"label": "WBC", "score_threshold": 0.4, "nms_iou": 0.3,
                                               "tuned_score": 0.9}]})
    text = methods_paragraph(data)
    assert text.startswith(
        f"A deep-learning model was trained for {kind.task} of RBC and WBC with segstudio.")
    assert kind.metrics_sentence.strip() in text and "Pixel metrics" not in text
    assert "RBC: score threshold 0.350, overlapping boxes merged above IoU 0.500" in text
    assert "penalty-reduced focal loss" in text


# --- the pieces, on hand-made boxes -------------------------------------------------------------------------
def _boxes_example() -> BoxExample:
    image = np.full((64, 64, 3), 30, np.uint8)
    truth = np.array([[5, 5, 20, 20], [40, 40, 55, 55]], float)  # the second one is missed
    pred = np.array([[6, 5, 20, 20], [5, 40, 20, 55]], float)  # the second one is a false positive
    return BoxExample("cells.tif", image, [truth], [pred], [np.array([0, -1])])


def _tile_pixel(panel: np.ndarray, column: int, x: float, y: float, scale: int) -> tuple[int, ...]:
    """The panel's pixel at image point (x, y) of the first row's tile ``column`` (tiles of 64 * scale)."""
    side = 64 * scale
    line = round(20 * max(1.0, side / 220))
    top = _PAD + 3 * line
    left = _PAD + column * (side + _GAP)
    return tuple(int(v) for v in panel[top + int(y * scale), left + int(x * scale)])


def test_the_comparison_tile_draws_tp_green_fp_red_and_fn_blue():
    panel = render_box_panel(_boxes_example(), label_names=["nucleus"], label_colors=["#ffe119"])
    scale = MIN_TILE_SIDE // 64
    assert _tile_pixel(panel, 3, 12, 5, scale) == TP_COLOR  # the matched prediction's top edge
    assert _tile_pixel(panel, 3, 12, 40, scale) == FP_COLOR  # the unmatched prediction
    assert _tile_pixel(panel, 3, 47, 40, scale) == FN_COLOR  # the missed true box
    assert _tile_pixel(panel, 1, 47, 40, scale) == (255, 225, 25)  # truth in the label's colour
    assert _tile_pixel(panel, 2, 12, 40, scale) == (255, 225, 25)  # predictions in the label's colour
    assert _tile_pixel(panel, 0, 47, 40, scale) == (30, 30, 30)  # the image alone


def test_box_examples_are_downscaled_with_their_image():
    example = _boxes_example()
    big = BoxExample("big", np.zeros((3000, 1000, 3), np.uint8), [example.truth[0] * 40],
                     [example.pred[0] * 40], example.matched)
    small = downscale_box_example(big, max_side=1024)
    factor = math.ceil(3000 / 1024)
    assert small.image_rgb.shape[:2] == (1000, 334)
    assert np.allclose(small.truth[0], big.truth[0] / factor)
    assert np.allclose(small.pred[0], big.pred[0] / factor)
    assert downscale_box_example(example) is example


def test_the_report_refuses_examples_of_the_wrong_kind(tmp_path):
    base = {"training": {"name": "t", "status": "succeeded"},
            "dataset": {"labels": [{"name": "nucleus", "color": "#e6194b"}]}}
    empty = np.zeros((8, 8), bool)
    mask = ValidationExample("a.tif", np.zeros((8, 8, 3), np.uint8), empty, empty)
    with pytest.raises(InvalidInputError, match="must be a BoxExample"):
        build_report_zip(ReportData(**base, config={"training_type": "detection"}, examples=[mask]),
                         tmp_path / "a.zip")
    with pytest.raises(InvalidInputError, match="must be a ValidationExample"):
        build_report_zip(ReportData(**base, config={"training_type": "semantic"},
                                    examples=[_boxes_example()]), tmp_path / "b.zip")
    wrong = _boxes_example()
    wrong.matched = [np.array([0, 2])]  # there is no third true box
    with pytest.raises(InvalidInputError, match="matched of label 'nucleus'"):
        build_report_zip(ReportData(**base, config={"training_type": "detection"}, examples=[wrong]),
                         tmp_path / "c.zip")
    path = build_report_zip(ReportData(**base, config={"training_type": "detection"},
                                       examples=[_boxes_example()]), tmp_path / "d.zip")
    opened = OpenedReport(path)
    try:
        assert "validation_visualizations/cells.png" in opened.names
        assert "precision_recall.csv" not in opened.names  # no curves given, none written
    finally:
        opened.close()
