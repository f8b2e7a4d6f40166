"""The metrics tables of the trainings page: readable column names, rounded values, split in two so that
neither is cut off on the right (pixel scores; object scores), or one table of box scores for a training
type whose results are boxes, or of class scores (and each validation example's prediction, and the
confusion matrix) for a training type whose results are classes."""

from __future__ import annotations

import streamlit as st

from core.training.types import TrainingType
from core.training.types.base import BOX_LISTS, CLASS_LISTS

#: stored column -> the name shown (the same words as the curves and the report)
NAMES = {
    "image": "Image", "label": "Label",
    "pixel_iou": "IoU", "pixel_dice": "Dice", "pixel_precision": "Precision", "pixel_recall": "Recall",
    "pixel_accuracy": "Pixel accuracy",
    "n_gt": "Objects (truth)", "n_pred": "Objects (predicted)", "tp": "TP", "fp": "FP", "fn": "FN",
    "precision": "Precision", "recall": "Recall", "f1": "F1@0.5", "mean_matched_iou": "IoU of matches",
    "ap_50": "AP@0.5", "ap_75": "AP@0.75", "mean_ap": "mAP", "ap_50_95": "AP@0.5:0.95",
}
#: the names of the box tables where they differ
BOX_NAMES = {**NAMES, "n_gt": "True boxes", "n_pred": "Predicted boxes"}
KEYS = ("image", "label")
PIXEL = ("pixel_accuracy", "pixel_iou", "pixel_dice", "pixel_precision", "pixel_recall")
OBJECTS = ("n_gt", "n_pred", "tp", "fp", "fn", "precision", "recall", "f1", "mean_matched_iou", "ap_50",
           "ap_75", "mean_ap")
BOXES = ("ap_50", "ap_75", "ap_50_95", "precision", "recall", "f1", "tp", "fp", "fn", "n_gt", "n_pred")
#: the names of the class tables where they differ (per class; per validation example)
CLASS_NAMES = {**NAMES, "label": "Class", "f1": "F1", "support": "Validation examples"}
EXAMPLE_NAMES = {**NAMES, "image": "Example", "label": "True class", "predicted": "Predicted class",
                 "probability": "Probability", "correct": "Correct"}
CLASSES = ("precision", "recall", "f1", "support")
EXAMPLES = ("predicted", "probability", "correct")
#: the title of the per-image table's expander, by kind of result
PER_IMAGE_TITLES = {BOX_LISTS: "True and predicted boxes per validation image",
                    CLASS_LISTS: "The prediction of every validation example"}


def per_image_title(kind: TrainingType | None) -> str:
    """The per-image table's expander title for a training of ``kind``."""
    return PER_IMAGE_TITLES.get(kind.result_kind if kind is not None else "", "Metrics per validation image")


def _rows(rows: list[dict], columns: tuple[str, ...], names: dict[str, str] = NAMES) -> list[dict]:
    out = []
    for row in rows:
        shown = {}
        for key in (*KEYS, *columns):
            if key in row:
                value = row[key]
                shown[names[key]] = round(value, 3) if isinstance(value, float) else value
        out.append(shown)
    return out


def metrics_tables(rows: list[dict], kind: TrainingType | None = None) -> None:
    """Pixel scores (of the kept model, post-processed), then object scores where there are any; for a
    training ``kind`` whose results are boxes, its box scores."""
    if kind is not None and kind.result_kind == CLASS_LISTS:
        per_example = any("predicted" in row for row in rows)
        if per_example:
            st.caption("Each validation example (an image, or an ROI's crop) with its true class, the class "
                       "it was given (the most probable) and that class's probability")
            st.dataframe(_rows(rows, EXAMPLES, EXAMPLE_NAMES), hide_index=True)
        else:
            st.caption("Class scores (kept model): precision, recall and F1 of each class over the "
                       "validation examples, each given its most probable class")
            st.dataframe(_rows(rows, CLASSES, CLASS_NAMES), hide_index=True)
        return
    if kind is not None and kind.result_kind == BOX_LISTS:
        st.caption("Box scores (kept model): COCO average precision (AP) at box IoU 0.5, 0.75 and 0.5 to "
                   "0.95; precision, recall, F1 and TP / FP / FN at the label's score threshold, a match is "
                   "IoU ≥ 0.5")
        st.dataframe(_rows(rows, BOXES, BOX_NAMES), hide_index=True)
        return
    if any(key in row for row in rows for key in PIXEL):
        st.caption("Pixel scores (kept model, after post-processing)")
        st.dataframe(_rows(rows, PIXEL), hide_index=True)
    if any(key in row for row in rows for key in OBJECTS):
        st.caption("Object scores (a match is IoU ≥ 0.5)")
        st.dataframe(_rows(rows, OBJECTS), hide_index=True)


def confusion_tables(confusion: dict) -> None:
    """The confusion matrix (rows: true class, columns: predicted class) as counts and row-normalised."""
    classes = [str(c) for c in confusion.get("classes") or []]
    counts, share = st.tabs(["Counts", "Row-normalised (recall on the diagonal)"])
    for tab, key, digits in ((counts, "counts", None), (share, "normalised", 3)):
        rows = [{"True class": name, **{predicted: (round(v, digits) if digits else v)
                                       for predicted, v in zip(classes, row, strict=True)}}
                for name, row in zip(classes, confusion.get(key) or [], strict=True)]
        tab.dataframe(rows, hide_index=True)
