"""The report ZIP: every entry, the PDF's numbers against metrics.json, bad names, failed trainings."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import InvalidInputError, NotFoundError
from core.reports import ValidationExample, build_report_zip
from core.reports.formatting import ELLIPSIS, NOT_DEFINED, format_value
from core.reports.sections_results import INSTANCE_COLUMNS, PER_IMAGE_INSTANCE, PER_IMAGE_PIXEL, PIXEL_COLUMNS
from tests.reports.helpers import synthetic_report
from tests.reports.reading import OpenedReport

FULL_ENTRIES = {"report.pdf", "metrics.json", "metrics_per_image.csv", "curves.csv", "README.txt"}


@pytest.fixture
def opened():
    reports: list[OpenedReport] = []

    def open_report(path: Path) -> OpenedReport:
        reports.append(OpenedReport(path))
        return reports[-1]

    yield open_report
    for report in reports:
        report.close()


def _row_line(cells: list[str]) -> str:
    return " ".join(cells)


@pytest.mark.parametrize("training_type", ["instance", "semantic"])
def test_full_report_entries_and_pdf_numbers_match_metrics_json(tmp_path, opened, training_type):
    labels = ("nucleus", "membrane")
    data = synthetic_report(training_type=training_type, labels=labels)
    path = build_report_zip(data, tmp_path / "out" / "report.zip")
    report = opened(path)

    vis = {f"validation_visualizations/img_00{k}.png" for k in (3, 4)}
    assert report.names == FULL_ENTRIES | vis  # no model package given
    assert report.zip.testzip() is None
    for name in vis:
        with Image.open(io.BytesIO(report.zip.read(name))) as im:
            assert im.format == "PNG" and im.mode == "RGB" and im.width <= 4 * 512 + 64

    metrics = report.metrics
    assert metrics["training"]["name"] == "nuclei run 1" and metrics["training_type"] == training_type
    assert metrics["validation_visualizations"] == {
        "img_003.tif": "validation_visualizations/img_003.png",
        "img_004.tif": "validation_visualizations/img_004.png",
    }
    label_keys = [k for k, _ in PIXEL_COLUMNS] + (
        [k for k, _ in INSTANCE_COLUMNS] if training_type == "instance" else []
    )
    assert len(metrics["per_label"]) == 3  # two labels and "all labels"
    for row in metrics["per_label"]:
        pixel_line = _row_line([row["label"], *(format_value(row[k]) for k, _ in PIXEL_COLUMNS)])
        assert pixel_line in report.lines
        if training_type == "instance":
            inst_line = _row_line([row["label"], *(format_value(row[k]) for k, _ in INSTANCE_COLUMNS)])
            assert inst_line in report.lines
        assert set(label_keys) <= set(row)
    image_keys = PER_IMAGE_INSTANCE if training_type == "instance" else PER_IMAGE_PIXEL
    for row in metrics["per_image"]:
        assert (
            _row_line([row["image"], row["label"], *(format_value(row[k]) for k in image_keys)])
            in report.lines
        )
    for key, value in metrics["overall"].items():
        assert f"{key.replace('_', ' ')} {format_value(value)}" in report.lines

    per_image = report.csv_rows("metrics_per_image.csv")
    assert len(per_image) == len(metrics["per_image"]) == 4
    assert float(per_image[0]["pixel_iou"]) == pytest.approx(metrics["per_image"][0]["pixel_iou"], rel=1e-12)
    curves = report.csv_rows("curves.csv")
    assert [int(r["epoch"]) for r in curves] == [1, 2, 3, 4, 5]
    assert list(curves[0])[:7] == [
        "epoch",
        "train_loss",
        "val_loss",
        "train_accuracy",
        "val_accuracy",
        "train_iou",
        "val_iou",
    ]

    for heading in (
        "Dataset",
        "Configuration",
        "Methods",
        "Training curves",
        "Metrics",
        "Validation visualisations",
        "Reproducibility",
        "Package versions",
        "Data hashes",
    ):
        assert any(line.startswith(heading) for line in report.lines), heading
    for image, digest in data.reproducibility["data_hashes"].items():
        assert _row_line([image, digest]) in report.lines
    assert "nan" not in report.text.lower().replace("unannotated", "")
    readme = report.zip.read("README.txt").decode("utf-8")
    for entry in (
        "report.pdf",
        "metrics.json",
        "metrics_per_image.csv",
        "curves.csv",
        "validation_visualizations/",
    ):
        assert entry in readme
    assert "Not included: no model package" in readme


def test_label_without_validation_objects_is_not_defined(tmp_path, opened):
    data = synthetic_report(labels=("nucleus", "μ-tubule"), empty_label=1)
    report = opened(build_report_zip(data, tmp_path / "r.zip"))
    row = next(r for r in report.metrics["per_label"] if r["label"] == "μ-tubule")
    for key in ("pixel_iou", "pixel_dice", "precision", "recall", "f1", "mean_ap"):
        assert row[key] is None, key
    assert row["n_gt"] == 0
    assert _row_line(["μ-tubule", *([NOT_DEFINED] * 4), format_value(row["pixel_accuracy"])]) in report.lines
    assert _row_line(["μ-tubule", "0", "0", "0", "0", "0", *([NOT_DEFINED] * 7)]) in report.lines
    csv_row = next(r for r in report.csv_rows("metrics_per_image.csv") if r["label"] == "μ-tubule")
    assert csv_row["pixel_iou"] == "" and csv_row["f1"] == ""
    assert "no defined validation metric" in report.text


def test_non_latin_names_round_trip(tmp_path, opened):
    labels = ("细胞核", "Ядро", "πυρήνας")
    names = ["срез_01.tif", "τομή_02.tif", "切片_03.tif", "срез_04.tif", "τομή 05.tif"]
    data = synthetic_report(
        labels=labels, image_names=names, training_name="Обучение 細胞 training", training_type="semantic"
    )
    report = opened(build_report_zip(data, tmp_path / "r.zip"))
    assert report.metrics["labels"] == list(labels)
    assert report.metrics["training"]["name"] == "Обучение 細胞 training"
    assert {r["image"] for r in report.metrics["per_image"]} == {"срез_04.tif", "τομή 05.tif"}
    assert {"validation_visualizations/срез_04.png", "validation_visualizations/τομή 05.png"} <= report.names
    for label in labels:
        row = next(r for r in report.metrics["per_label"] if r["label"] == label)
        assert _row_line([label, *(format_value(row[k]) for k, _ in PIXEL_COLUMNS)]) in report.lines
    assert "Обучение 細胞 training" in report.text  # CJK drawn by the fallback font, text layer intact
    assert "срез_01.tif" in report.text and "τομή_02.tif" in report.text and "切片_03.tif" in report.text
    assert "Project: Kidney nuclei" in report.lines and "Status succeeded" in report.lines
    for number, page in enumerate(report.pages, start=1):  # text after a fallback glyph is still intact
        assert f"page {number} of {len(report.pages)}" in page
        assert number == 1 or page.startswith("segstudio training report Обучение 細胞 training")
    fonts = {
        str(f.get("/BaseFont")) for page in report.reader.pages for f in page["/Resources"]["/Font"].values()
    }
    assert any("LastResort" in f for f in fonts) and any("DejaVu" in f for f in fonts)


def test_long_names_are_shortened_with_an_ellipsis(tmp_path, opened):
    long_image = "plate_A01_" + "very-long-acquisition-description-" * 8 + "field_0042.tif"
    data = synthetic_report(
        image_names=[f"img_{k}.tif" for k in range(4)] + [long_image],
        training_name="Training " + "with a very long descriptive name " * 12,
    )
    report = opened(build_report_zip(data, tmp_path / "r.zip"))
    assert report.metrics["per_image"][-1]["image"] == long_image  # full name in metrics.json
    assert ELLIPSIS in report.text
    flat = report.text.replace("\n", "")
    assert "plate_A01_very-long" in flat and "field_0042.tif" in flat  # start and end kept
    assert long_image not in flat  # the PDF never shows the 300-character name whole
    assert len(report.pages) >= 7


def test_failed_training_gets_the_short_report(tmp_path, opened, rng):
    data = synthetic_report(status="failed", n_epochs=3, model_dir=tmp_path / "does-not-matter")
    report = opened(build_report_zip(data, tmp_path / "failed.zip"))
    assert report.names == {"report.pdf", "metrics.json", "curves.csv", "README.txt"}
    assert "out of memory while validating image img_004.tif" in report.text.replace("\n", " ")
    assert "Training curves so far" in report.lines and "Why the training did not succeed" in report.lines
    assert "Metrics" not in report.lines and "Validation visualisations" not in report.lines
    assert report.metrics["training"]["status"] == "failed" and report.metrics["per_label"] == []
    assert "out of memory" in report.metrics["training"]["error"]
    assert len(report.csv_rows("curves.csv")) == 3
    assert "did not succeed" in report.zip.read("README.txt").decode("utf-8")


def test_failed_before_the_first_epoch(tmp_path, opened):
    data = synthetic_report(status="failed", n_epochs=0)
    data.training["error"] = ""
    data.training["status"] = "cancelled"
    report = opened(build_report_zip(data, tmp_path / "c.zip"))
    assert "No epoch was completed, so there are no curves." in report.text
    assert "cancelled by the user" in report.text
    assert report.zip.read("curves.csv").decode().strip() == (
        "epoch,train_loss,val_loss,train_accuracy,val_accuracy,train_iou,val_iou"
    )


def test_oversized_validation_image_is_downscaled_before_embedding(tmp_path, opened, rng):
    data = synthetic_report(n_val=1, n_train=1)
    h, w = 2600, 1400  # the caller forgot to downscale
    gt = np.zeros((h, w), np.int32)
    gt[100:400, 200:500] = 1
    pred = np.roll(gt, 20, axis=0)
    data.examples = [ValidationExample("huge.tif", np.full((h, w, 3), 90, np.uint8), gt, pred)]
    report = opened(build_report_zip(data, tmp_path / "r.zip", tile_side=300))
    with Image.open(io.BytesIO(report.zip.read("validation_visualizations/huge.png"))) as im:
        assert im.width <= 4 * 300 + 64 and im.height <= 300 + 200
    assert len(report.zip.read("report.pdf")) < 3_000_000


def test_output_is_replaced_atomically_and_errors_leave_nothing(tmp_path):
    out = tmp_path / "r.zip"
    out.write_bytes(b"old")
    build_report_zip(synthetic_report(n_val=1, n_epochs=2), out)
    assert out.read_bytes()[:2] == b"PK"
    bad = synthetic_report(n_val=1)
    bad.model_dir = tmp_path / "missing-model"
    with pytest.raises(NotFoundError, match="missing-model"):
        build_report_zip(bad, tmp_path / "other.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.zip"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.config.update(training_type="panoptic"), "training_type"),
        (lambda d: d.training.update(name=""), "name"),
        (lambda d: d.training.update(status="done"), "status"),
        (lambda d: d.curves.append({"train_loss": 1.0}), "epoch"),
        (lambda d: setattr(d.examples[0], "gt", d.examples[0].gt[:5]), "shape"),
        (lambda d: setattr(d.examples[0], "image_rgb", d.examples[0].image_rgb.astype(np.float32)), "uint8"),
        (lambda d: setattr(d.examples[0], "label_index", 3), "label_index"),
        (lambda d: d.dataset["labels"][0].update(color="red"), "#rrggbb"),
        (lambda d: d.metrics.update(per_label="bad"), "per_label"),
    ],
)
def test_bad_report_data_is_refused_with_the_field_named(tmp_path, change, match):
    data = synthetic_report(n_val=1)
    change(data)
    with pytest.raises(InvalidInputError, match=match):
        build_report_zip(data, tmp_path / "r.zip")
    assert not any(tmp_path.iterdir())


def test_tile_side_out_of_range_is_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="tile_side"):
        build_report_zip(synthetic_report(n_val=1), tmp_path / "r.zip", tile_side=8)


def test_nan_metrics_become_not_defined(tmp_path, opened):
    data = synthetic_report(n_val=1)
    data.metrics["overall"]["mean_iou"] = float("nan")
    data.curves[0]["val_loss"] = float("nan")
    report = opened(build_report_zip(data, tmp_path / "r.zip"))
    assert report.metrics["overall"]["mean_iou"] is None
    assert "mean iou n/d" in report.lines
    assert report.csv_rows("curves.csv")[0]["val_loss"] == ""


def test_the_curves_text_names_the_kept_models_accuracy_as_in_the_table(tmp_path, opened):
    data = synthetic_report(training_type="semantic", labels=("nucleus",))
    [row] = [r for r in data.metrics["per_label"] if r["label"] == "nucleus"]
    data.metrics["overall"] = {**(data.metrics.get("overall") or {}), "accuracy": row["pixel_accuracy"],
                               "iou": row["pixel_iou"]}
    data.training["best_epoch"] = 3
    report = opened(build_report_zip(data, tmp_path / "report.zip"))
    text = " ".join(report.text.split())
    accuracy = format_value(row["pixel_accuracy"])
    expected = f"kept model (epoch 3) after its tuned post-processing: validation pixel accuracy {accuracy}"
    assert expected in text
    # the same number in the table of the metrics (Accuracy is the last pixel column)
    assert any(line.startswith("nucleus ") and line.endswith(f" {accuracy}") for line in report.lines)
    assert "validation pixel accuracy at 0.5" in text  # the curves' own quantity has its own name


def test_a_validation_set_too_small_to_trust_is_flagged_in_the_pdf(tmp_path, opened):
    small = opened(build_report_zip(synthetic_report(n_val=1, n_objects=6), tmp_path / "small.zip"))
    text = " ".join(small.text.split())
    assert "Caution: The validation set is small (1 image with 6 annotated objects)" in text
    enough = opened(build_report_zip(synthetic_report(n_val=4, n_objects=6), tmp_path / "enough.zip"))
    assert "validation set is small" not in " ".join(enough.text.split())
