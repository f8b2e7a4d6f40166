"""The metrics tables of the trainings page: readable column names, rounded values, split in two so that
neither is cut off on the right (pixel scores; object scores)."""

from __future__ import annotations

import streamlit as st

#: stored column -> the name shown (the same words as the curves and the report)
NAMES = {
    "image": "Image", "label": "Label",
    "pixel_iou": "IoU", "pixel_dice": "Dice", "pixel_precision": "Precision", "pixel_recall": "Recall",
    "pixel_accuracy": "Pixel accuracy",
    "n_gt": "Objects (truth)", "n_pred": "Objects (predicted)", "tp": "TP", "fp": "FP", "fn": "FN",
    "precision": "Precision", "recall": "Recall", "f1": "F1@0.5", "mean_matched_iou": "IoU of matches",
    "ap_50": "AP@0.5", "ap_75": "AP@0.75", "mean_ap": "mAP",
}
KEYS = ("image", "label")
PIXEL = ("pixel_accuracy", "pixel_iou", "pixel_dice", "pixel_precision", "pixel_recall")
OBJECTS = ("n_gt", "n_pred", "tp", "fp", "fn", "precision", "recall", "f1", "mean_matched_iou", "ap_50",
           "ap_75", "mean_ap")


def _rows(rows: list[dict], columns: tuple[str, ...]) -> list[dict]:
    out = []
    for row in rows:
        shown = {}
        for key in (*KEYS, *columns):
            if key in row:
                value = row[key]
                shown[NAMES[key]] = round(value, 3) if isinstance(value, float) else value
        out.append(shown)
    return out


def metrics_tables(rows: list[dict]) -> None:
    """Pixel scores (of the kept model, post-processed), then object scores where there are any."""
    if any(key in row for row in rows for key in PIXEL):
        st.caption("Pixel scores (kept model, after post-processing)")
        st.dataframe(_rows(rows, PIXEL), hide_index=True)
    if any(key in row for row in rows for key in OBJECTS):
        st.caption("Object scores (a match is IoU ≥ 0.5)")
        st.dataframe(_rows(rows, OBJECTS), hide_index=True)
