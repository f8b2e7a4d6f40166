"""The training job of a classification training, end to end on a real SQLite file and tiny images: the
entry's data (images with a class, an ROI's crop), the classifier trained step-bound, its scores on the
validation examples, and the report ZIP with the confusion matrix, the per-class table, the misclassified
examples, the metrics JSON/CSV and the package."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
import torch
from pypdf import PdfReader

from core.classification.defaults import CONFIG_DEFAULTS
from core.db import repo, session_scope
from tests.training.class_synth import class_project, queue_class_training, run_job

SIZE = CONFIG_DEFAULTS["patch_size"]  # the engine's input size, which the entry applies


@pytest.mark.slow  # 7 s; tests/classification/test_train_predict.py trains, scores and packages a classifier in the default run
def test_a_classification_training_trains_scores_and_writes_its_report(settings, engine, tmp_path):
    torch.set_num_threads(1)
    cp = class_project(settings, engine, tmp_path)
    training = queue_class_training(settings, engine, cp)
    assert training.config["train_config"]["training_type"] == "classification"
    result = run_job(settings, engine, training.id)

    with session_scope(engine) as s:
        stored = repo.get_training(s, training.id)
        epochs = repo.epoch_records(s, training.id)
    metrics = stored.metrics
    assert set(metrics["overall"]) == {"accuracy", "balanced_accuracy", "macro_f1", "top2_accuracy", "n"}
    assert metrics["overall"]["n"] == 5 and metrics["overall"]["top2_accuracy"] == 1.0  # 2 classes
    assert [row["label"] for row in metrics["per_label"]] == ["bright", "dark"]
    counts = metrics["confusion"]["counts"]
    assert sum(map(sum, counts)) == 5 and [sum(row) for row in counts] == [2, 3]  # true bright 2, dark 3
    rows = {row["image"]: row for row in metrics["per_image"]}
    assert rows["wrong.png"]["label"] == "dark"
    assert abs(rows["b4.png"]["p(bright)"] + rows["b4.png"]["p(dark)"] - 1) < 1e-5
    assert metrics["kept"]["epoch"] is not None
    assert len(epochs) == 4 and all(e["val_macro_f1"] is not None for e in epochs)  # 40 steps, 10 per epoch

    dataset = json.loads((settings.training_dir(training.id) / "dataset.json").read_text())
    d0 = next(r for r in dataset["training"] if r["name"] == "d0.png")
    assert d0["objects"] == {"bright": 1, "dark": 1} and d0["annotated_by"] == "class+roi class"

    report = settings.data_dir / result["report_path"]
    with zipfile.ZipFile(report) as archive:
        names = set(archive.namelist())
        assert {"report.pdf", "metrics.json", "metrics_per_image.csv", "metrics_per_class.csv",
                "confusion_matrix.csv", "confusion_matrix_normalised.csv", "confusion_matrix.png",
                "curves.csv", "README.txt", "model/model.torchscript.pt", "model/weights.pt",
                "model/model_card.json"} <= names
        assert archive.read("confusion_matrix.png")[:8] == b"\x89PNG\r\n\x1a\n"
        doc = json.loads(archive.read("metrics.json"))
        per_class = list(csv.DictReader(io.StringIO(archive.read("metrics_per_class.csv").decode())))
        confusion = list(csv.reader(io.StringIO(archive.read("confusion_matrix.csv").decode())))
        curves_head = archive.read("curves.csv").decode().splitlines()[0]
        per_image = list(csv.DictReader(io.StringIO(archive.read("metrics_per_image.csv").decode())))
        pdf = archive.read("report.pdf")
        readme = archive.read("README.txt").decode()
        pictures = sorted(n for n in names if n.startswith("validation_visualizations/"))
    assert doc["training_type"] == "classification" and doc["confusion"]["counts"] == counts
    assert doc["overall"] == metrics["overall"]
    assert [r["label"] for r in per_class] == ["bright", "dark"] and per_class[0]["support"] == "2"
    assert confusion[0] == ["true class \\ predicted class", "bright", "dark"]
    assert [int(v) for v in confusion[1][1:]] == counts[0]
    assert curves_head.startswith("epoch,train_loss,val_loss,train_accuracy,val_accuracy,train_macro_f1,"
                                  "val_macro_f1")
    assert {r["image"] for r in per_image} == set(rows) and "p(bright)" in per_image[0]
    text = " ".join(" ".join(PdfReader(io.BytesIO(pdf)).pages[k].extract_text().split())
                    for k in range(len(PdfReader(io.BytesIO(pdf)).pages)))
    for words in ("IMAGE CLASSIFICATION TRAINING REPORT", "Classes and example counts", "Per class",
                  "Confusion matrix", "Misclassified validation examples", "balanced accuracy", "macro-F1",
                  "top-2 accuracy", "(manual split)",
                  # the methods say what the engine's card records: network, input fitting, augmentation,
                  # imbalance handling, loss, optimiser and the run's bound
                  "the resnet18 encoder of segmentation_models_pytorch (its first 4 stages",
                  "randomly initialised (no pretrained weights), then global average pooling",
                  f"Each image is resized to {SIZE}x{SIZE} px", "whose class probabilities are averaged",
                  "Each training image was augmented at random: mirroring",
                  "Class imbalance: the cross-entropy weighted each class", "with label smoothing",
                  "the AdamW optimiser", "cosine decay", "bound by a number of steps, 40"):
        assert words in text, (words, text)
    assert "metrics_per_class.csv" in readme and "misclassified validation example" in readme
    wrong = [r for r in per_image if r["correct"] == "False"]
    assert len(pictures) == len(wrong)
    assert set(doc["validation_visualizations"]) == {r["image"] for r in wrong}
    assert any(r["image"] == "wrong.png" for r in wrong), "the bright cell labelled dark is misclassified"
    assert (settings.training_dir(training.id) / "validation_visualizations" / "wrong.png").is_file()

    # `segstudio report --rebuild` scores the package again through the type's own steps
    from core.cli import _rebuild_report

    with session_scope(engine) as s:
        finished = repo.get_training(s, training.id)
    rebuilt = _rebuild_report(settings, engine, finished)
    with zipfile.ZipFile(rebuilt) as archive:
        again = json.loads(archive.read("metrics.json"))
        assert "confusion_matrix.png" in archive.namelist()
    assert again["confusion"] == doc["confusion"] and again["validation_visualizations"] == \
        doc["validation_visualizations"]

    # "Run again" step for step reads the steps from the classifier's card
    from core.trainings import rerun_training

    again = rerun_training(settings, engine, training.id, same_steps=True)
    assert again.config["repeat"]["max_steps"] == 40 and again.config["repeat"]["steps_per_epoch"] == 10
    assert again.split == finished.split  # the manual split, checked again against today's classes
