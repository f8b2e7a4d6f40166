"""Trainings side by side: curves per training with the kept epoch, one table row per training, and a
configuration diff that holds only the settings that differ."""

from __future__ import annotations

import pytest

from core.comparison import compare, load_comparison, settings_of
from core.db import repo, session_scope
from core.errors import InvalidInputError
from tests.models_helpers import trained_model


def _config(*, seed: int = 0, encoder: str = "resnet18-compact", val: int = 2) -> dict:
    train = {"training_type": "semantic", "labels": [{"id": 1, "name": "nucleus", "color": "#e6194b"}],
             "encoder": encoder, "seed": seed, "duration": "quick", "normalization": "auto",
             "patch_size": 128,
             "augment": {"flip": True, "rotate": True}}
    wizard = {"training_type": "semantic", "label_ids": [1], "split_mode": "random", "image_type": "2d",
              "duration": "quick", "encoder": encoder, "seed": seed, "name": "x"}
    return {"train_config": train, "wizard": wizard, "budget_seconds": 60}


def _record(training_id: int, name: str, config: dict, *, val: list[int], curves: int, overall: dict,
            per_label: list[dict] | None = None) -> dict:
    rows = [{"epoch": e, "step": 10 * e, "train_loss": 1 / e, "val_loss": 1.2 / e,
             "val_accuracy": 0.5 + e / 10, "val_iou": e / 10} for e in range(1, curves + 1)]
    return {"id": training_id, "name": name, "project": "Nuclei", "status": "succeeded", "config": config,
            "split": {"train": [1, 2, 3], "val": val}, "curves": rows, "card": None, "seconds": 125.0,
            "image_names": {1: "a.tif", 2: "b.tif", 3: "c.tif", 4: "d.tif", 5: "e.tif"},
            "metrics": {"overall": overall, "per_label": per_label or [], "kept": {"epoch": 2}}}


def test_the_diff_holds_only_the_settings_that_differ():
    a = _record(1, "first", _config(seed=0), val=[4], curves=3, overall={"iou": 0.81234})
    b = _record(2, "second", _config(seed=7, encoder="resnet34"), val=[4, 5], curves=2, overall={"iou": 0.7})
    result = compare([a, b])
    rows = {row["Setting"]: row for row in result.diff}
    assert set(rows) == {"Validation images", "Network", "Seed"}  # type, labels, split, duration... are equal
    assert rows["Seed"] == {"Setting": "Seed", "#1 first": "0", "#2 second": "7"}
    assert rows["Validation images"]["#1 first"] == "1: d.tif"
    assert rows["Validation images"]["#2 second"] == "2: d.tif, e.tif"
    # in the wizard's order
    assert [r["Setting"] for r in result.diff] == ["Validation images", "Network", "Seed"]


def test_curves_table_and_kept_epoch_per_training():
    label_rows = [{"label": "nucleus", "pixel_iou": 0.80444, "pixel_dice": 0.89, "n_gt": 20}]
    a = _record(1, "first", _config(), val=[4], curves=3, overall={"iou": 0.81234, "accuracy": 0.98765},
                per_label=label_rows)
    b = _record(2, "second", _config(), val=[4], curves=2, overall={"iou": 0.7, "f1": 0.5})
    result = compare([a, b])
    assert [c["label"] for c in result.curves] == ["#1 first", "#2 second"]
    assert result.curves[0]["epoch"] == [1, 2, 3] and result.curves[1]["val_iou"] == [0.1, 0.2]
    # marked on the validation curves
    assert result.curves[0]["kept"] == (2, {"val_accuracy": 0.98765, "val_iou": 0.81234})
    first, second = result.scores
    assert first == {"Training": "#1 first", "Pixel accuracy": 0.988, "IoU": 0.812, "F1@0.5": None,
                     "nucleus IoU": 0.804, "nucleus Dice": 0.89}
    assert second["F1@0.5"] == 0.5 and second["nucleus IoU"] is None  # every row has every column
    facts = result.facts[0]
    assert (facts["Steps"], facts["Duration"], facts["Epochs"], facts["Network"]) == (
        30, "2 min 05 s", 3, "resnet18-compact")
    assert result.diff == []  # the same configuration


def test_the_card_gives_steps_and_device_and_nested_settings_are_compared():
    a = _record(1, "first", _config(), val=[4], curves=1, overall={})
    b = _record(2, "second", _config(), val=[4], curves=1, overall={})
    b["config"]["train_config"]["augment"] = {"flip": True, "rotate": False}
    b["card"] = {"training": {"steps": 777, "device": "GPU 0", "seconds": 30.0}}
    result = compare([a, b])
    assert result.facts[1]["Steps"] == 777 and result.facts[1]["Device"] == "GPU 0"
    assert result.diff == [{"Setting": "Augment.rotate", "#1 first": "yes", "#2 second": "no"}]
    assert settings_of({})["training_type"] is None


def test_fewer_than_two_or_the_same_twice_is_refused():
    a = _record(1, "first", _config(), val=[4], curves=1, overall={})
    with pytest.raises(InvalidInputError, match="at least two"):
        compare([a])
    with pytest.raises(InvalidInputError, match="twice"):
        compare([a, dict(a)])


def test_load_comparison_reads_trainings_of_two_projects(settings, engine):
    with session_scope(engine) as s:
        p1, p2 = repo.create_project(s, "Nuclei"), repo.create_project(s, "Cells")
    a = trained_model(settings, engine, p1.id, "first", config=_config(seed=1),
                      curves=((0.6, 0.3), (0.9, 0.5)))
    b = trained_model(settings, engine, p2.id, "second", config=_config(seed=2), curves=((0.7, 0.4),))
    result = load_comparison(settings, engine, [a.id, b.id])
    assert [f["Project"] for f in result.facts] == ["Nuclei", "Cells"]
    assert result.facts[0]["Steps"] == 120 and result.facts[0]["Device"] == "CPU (2 threads)"  # from the card
    assert [r["Setting"] for r in result.diff] == ["Seed"]
    assert result.curves[0]["val_accuracy"] == [0.6, 0.9] and result.curves[0]["kept"][0] == 2


def test_a_detection_training_brings_its_own_charts_and_its_kept_map():
    from ui.compare_view import comparison_chart

    detection = _config()
    detection["train_config"]["training_type"] = detection["wizard"]["training_type"] = "detection"
    a = _record(1, "pixels", _config(), val=[4], curves=2, overall={"iou": 0.8, "accuracy": 0.9})
    b = _record(2, "boxes", detection, val=[4], curves=3, overall={"map_50": 0.71, "precision": 0.66,
                                                                   "recall": 0.62})
    for e, row in enumerate(b["curves"], start=1):
        row.update(train_map50=e / 10, val_map50=e / 20, train_precision=e / 8, val_precision=e / 9,
                   train_recall=e / 7, val_recall=e / 6)
    result = compare([a, b])
    pixels, boxes = result.curves
    assert [c[0] for c in pixels["charts"]] == ["Loss", "Accuracy", "IoU"]
    assert [c[0] for c in boxes["charts"]] == ["Loss", "mAP@0.5", "Precision", "Recall"]
    assert boxes["val_map50"] == [0.05, 0.1, 0.15] and "val_iou" not in boxes
    assert boxes["kept"] == (2, {"val_map50": 0.71, "val_precision": 0.66, "val_recall": 0.62})
    row = next(r for r in result.scores if r["Training"] == "#2 boxes")
    assert row["mAP@0.5"] == 0.71
    chart = comparison_chart(result.curves)
    titles = [panel["title"] for panel in chart["hconcat"]]
    assert titles == ["Loss", "Accuracy", "IoU", "mAP@0.5", "Precision", "Recall"]  # loss shared
    kept = [p for p in chart["data"]["values"] if p["line"] == "#2 boxes · kept model (as in the table)"]
    assert [(p["chart"], p["epoch"], p["value"]) for p in kept] == [("mAP@0.5", 2, 0.71), ("Precision", 2, 0.66),
                                                                    ("Recall", 2, 0.62)]
