"""The pages' per-epoch charts as Vega-Lite specifications: one panel per chart, the points behind them."""

from __future__ import annotations

from ui.curves import KEPT_NAME, TRAIN_NAME, VAL_NAME, curves_chart


def test_one_panel_per_chart_missing_scores_left_out_and_the_kept_model_marked():
    rows = [{"epoch": 1, "train_loss": 0.9, "val_loss": 1.0, "train_accuracy": 0.6, "val_accuracy": None,
             "train_iou": 0.2, "val_iou": 0.1},
            {"epoch": 2, "train_loss": 0.5, "val_loss": 0.7, "train_accuracy": 0.8, "val_accuracy": 0.75,
             "train_iou": 0.4, "val_iou": 0.3}]
    chart = curves_chart(rows, kept=(2, {"val_accuracy": 0.81, "val_iou": None}))
    assert [panel["title"] for panel in chart["hconcat"]] == ["Loss", "Accuracy", "IoU"]
    assert [panel["layer"][0]["encoding"]["y"]["title"] for panel in chart["hconcat"]] == \
        ["loss", "pixel accuracy", "IoU"]
    points = chart["data"]["values"]
    accuracy = [(p["series"], p["epoch"], p["value"]) for p in points if p["chart"] == "Accuracy"]
    # epoch 1's missing validation accuracy is left out (not drawn as 0); the kept model's score is one point
    assert accuracy == [(TRAIN_NAME, 1, 0.6), (TRAIN_NAME, 2, 0.8), (VAL_NAME, 2, 0.75), (KEPT_NAME, 2, 0.81)]
    assert [p["chart"] for p in points if p["mark"] == "kept"] == ["Accuracy"]  # no IoU score, none on loss
    colours = chart["hconcat"][0]["layer"][0]["encoding"]["color"]["scale"]
    assert colours["domain"] == [TRAIN_NAME, VAL_NAME, KEPT_NAME]


def test_no_rows_gives_empty_panels():
    chart = curves_chart([])
    assert chart["data"]["values"] == [] and len(chart["hconcat"]) == 3
