"""PDF sections with the results: curves, metrics, validation visualisations, reproducibility."""

from __future__ import annotations

import io
from typing import NamedTuple

import numpy as np
from PIL import Image

from core.evaluation.overlay import FN_COLOR, FP_COLOR, TP_COLOR
from core.reports.data import ReportData
from core.reports.document import ReportPDF
from core.reports.fonts import SANS
from core.reports.formatting import format_value
from core.reports.sections_overview import overall_rows
from core.training import types as training_types
from core.training.types.base import BOX_LISTS, CLASS_LISTS, LABEL_IMAGES, PIXEL_CURVES, PIXEL_KEPT_SCORES

#: Validation visualisations shown in the PDF (all of them are in validation_visualizations/).
MAX_PDF_EXAMPLES = 6
PDF_PANEL_WIDTH_PX = 1600
PIXEL_COLUMNS = (
    ("pixel_iou", "IoU"),
    ("pixel_dice", "Dice"),
    ("pixel_precision", "Precision"),
    ("pixel_recall", "Recall"),
    ("pixel_accuracy", "Accuracy"),
)
INSTANCE_COLUMNS = (
    ("n_gt", "GT\nobj."),
    ("n_pred", "pred.\nobj."),
    ("tp", "TP"),
    ("fp", "FP"),
    ("fn", "FN"),
    ("precision", "Prec."),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("mean_matched_iou", "TP\nIoU"),
    ("ap_50", "AP50"),
    ("ap_75", "AP75"),
    ("mean_ap", "mAP"),
)
#: the detection metrics per label (the detection assessment's rows)
DETECTION_COLUMNS = (
    ("ap_50", "AP50"),
    ("ap_75", "AP75"),
    ("ap_50_95", "AP\n50:95"),
    ("precision", "Prec."),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("tp", "TP"),
    ("fp", "FP"),
    ("fn", "FN"),
    ("n_gt", "true"),
    ("n_pred", "pred."),
)
#: height / width of the precision-recall figure (core.reports.figures.pr_curves_png)
PR_ASPECT = 3.2 / 3.6
#: the pixel curves' values are the network output at probability 0.5
AT_HALF = frozenset({"train_accuracy", "val_accuracy", "train_iou", "val_iou"})
PER_IMAGE_PIXEL = ("pixel_iou", "pixel_dice", "pixel_precision", "pixel_recall")
PER_IMAGE_INSTANCE = ("n_gt", "n_pred", "tp", "fp", "fn", "f1", "ap_50", "mean_ap", "pixel_iou")
_NAMES = dict(PIXEL_COLUMNS) | dict(INSTANCE_COLUMNS)
#: what each epoch's validation curves show, and how the kept model is scored, by kind of result
CURVE_WORDS = {
    LABEL_IMAGES: ("network output at probability 0.5 (one view, before post-processing)",
                   "after its tuned post-processing"),
    BOX_LISTS: ("boxes (one view, the default box merging, each label's best score threshold)",
                "after its tuned post-processing"),
    CLASS_LISTS: ("most probable class of every validation example", "on every validation example"),
}


def curves_section(pdf: ReportPDF, data: ReportData, curves_png: bytes | None) -> None:
    pdf.heading("Training curves" if data.is_full else "Training curves so far")
    if curves_png is None:
        pdf.paragraph("No epoch was completed, so there are no curves.", muted=True)
        return
    kind = training_types.TRAINING_TYPES.get(data.training_type)
    charts = kind.curves if kind is not None else PIXEL_CURVES
    names = [chart[1] for chart in charts]
    what = (", ".join(names[:-1]) + " and " + names[-1]) if len(names) > 1 else names[0]
    what = what[:1].upper() + what[1:]
    probe = kind.train_probe_images if kind is not None else 0
    where = ("on the training patches (solid)" if not probe else
             "on the training data (solid: the loss on the training patches, the other scores on up to "
             f"{probe} whole training images scored like the validation images)")
    result = kind.result_kind if kind is not None else LABEL_IMAGES
    if result == CLASS_LISTS:
        where = "on the training examples (solid)"
    pdf.paragraph(
        f"{what} per epoch {where} and the validation images (dashed). The values are in curves.csv.",
        size=8.5,
        muted=True,
    )
    pdf.figure(curves_png)
    last = data.curves[-1]
    rows = []
    for _, name, train_key, val_key in charts:
        for key, split in ((train_key, "training"), (val_key, "validation")):
            half = key in AT_HALF and result == LABEL_IMAGES  # a classifier's accuracy has no threshold
            rows.append((f"{split} {name}{' at 0.5' if half else ''}", format_value(last.get(key))))
    pdf.heading(f"Last epoch ({last['epoch']})", level=2)
    pdf.key_value_table(rows, key_width=0.3)
    overall = data.metrics.get("overall") or {}
    marks = kind.kept_scores if kind is not None else PIXEL_KEPT_SCORES
    named = {val_key: name for _, name, _, val_key in charts}
    kept = [(named.get(val_key, val_key), overall.get(key)) for val_key, key in marks.items()]
    if data.is_full and kept and kept[0][1] is not None:
        which = {"start_model": "the starting model as it was: it validated better than the fine-tuned weights",
                 "weight_average": "the mean of the late weights"}.get(
                     data.kept_weights, f"epoch {data.training.get('best_epoch')}")
        output, scored = CURVE_WORDS[result]
        numbers = ", ".join(f"{name} {format_value(value)}" for name, value in kept)
        pdf.paragraph(
            f"The curves show each epoch's {output}. "
            f"The metrics tables score the kept model ({which}) {scored}: "
            f"validation {numbers}.",
            size=8.5,
            muted=True,
        )


def metrics_section(pdf: ReportPDF, data: ReportData) -> None:
    pdf.heading("Metrics")
    per_label = data.metrics.get("per_label") or []
    per_image = data.metrics.get("per_image") or []
    if not per_label and not per_image and not data.metrics.get("overall"):
        pdf.paragraph("No metrics were recorded for this training.", muted=True)
        return
    # the type is checked for full reports, which have metrics
    kind = training_types.TRAINING_TYPES.get(data.training_type)
    boxes = kind is not None and kind.result_kind == BOX_LISTS
    pdf.paragraph(
        "Computed on the validation images with the final post-processing. Per-label values sum the counts "
        "of all validation images before dividing. n/d = not defined (the denominator is 0, e.g. a label "
        "without validation objects).",
        size=8.5,
        muted=True,
    )
    if data.metrics.get("overall"):
        pdf.heading("Overall", level=2)
        pdf.key_value_table(overall_rows(data.metrics["overall"]), key_width=0.4)
    if boxes:
        _detection_tables(pdf, per_label)
    else:
        _segmentation_tables(pdf, per_label)
    if per_image:
        keys = kind.per_image_columns if kind is not None else PER_IMAGE_PIXEL
        columns = present_keys(per_image, list(keys))
        pdf.heading("Boxes per image: true and predicted" if boxes else "Per image", level=2)
        pdf.paragraph("All columns of every image are in metrics_per_image.csv.", size=8, muted=True)
        names = kind.per_image_names if kind is not None else {}
        metric_table(pdf, per_image, ["image", "label"], columns, first_width=0.42, size=7.5, names=names)


def _segmentation_tables(pdf: ReportPDF, per_label: list[dict]) -> None:
    pixel = present_keys(per_label, [key for key, _ in PIXEL_COLUMNS])
    if pixel:
        pdf.heading("Per label: pixel metrics", level=2)
        metric_table(pdf, per_label, ["label"], pixel, first_width=0.3)
    instance = present_keys(per_label, [key for key, _ in INSTANCE_COLUMNS])
    if instance:
        pdf.heading("Per label: instance metrics", level=2)
        pdf.paragraph(
            "Objects are matched one-to-one at IoU ≥ 0.5 (TP IoU: mean IoU of the matched objects); "
            "AP50, AP75: average precision TP / (TP + FP + FN) at IoU 0.5 and 0.75, mAP: its mean "
            "over IoU 0.5 to 0.95 (DSB 2018).",
            size=8,
            muted=True,
        )
        metric_table(pdf, per_label, ["label"], instance, first_width=0.19, size=7.5)


def _detection_tables(pdf: ReportPDF, per_label: list[dict]) -> None:
    columns = present_keys(per_label, [key for key, _ in DETECTION_COLUMNS])
    if not columns:
        return
    pdf.heading("Per label: detection metrics", level=2)
    pdf.paragraph(
        "AP50, AP75: COCO average precision (area under the interpolated precision-recall curve, 101 recall "
        "points) at box IoU 0.5 and 0.75; AP50:95: its mean over IoU 0.5 to 0.95. Precision, recall, F1 and "
        "TP / FP / FN count the boxes at or above the label's tuned score threshold, matched at IoU ≥ 0.5; "
        "true and predicted: the boxes in the validation images.",
        size=8,
        muted=True,
    )
    metric_table(pdf, per_label, ["label"], columns, first_width=0.15, size=7.2,
                  names=dict(DETECTION_COLUMNS))


def pr_curves_section(pdf: ReportPDF, data: ReportData, figure_png: bytes) -> None:
    width = 0.6 * pdf.text_width
    pdf.ensure_space(width * PR_ASPECT + 40)  # heading, note and figure on one page
    pdf.heading("Precision-recall curves", level=2)
    pdf.paragraph(
        "Per label, the precision and recall of the validation boxes ranked by score (the tuned box "
        "merging), a box counting as found at IoU ≥ 0.5; the dot marks the label's score threshold (the "
        "precision and recall of the tables). Every point is in precision_recall.csv.",
        size=8,
        muted=True,
    )
    pdf.figure(figure_png, width=width)


class PdfPanel(NamedTuple):
    """A validation visualisation prepared for the PDF: JPEG bytes and height / width."""

    name: str
    jpeg: bytes
    aspect: float


def visualizations_section(pdf: ReportPDF, data: ReportData, panels: list[PdfPanel], n_total: int) -> None:
    kind = training_types.TRAINING_TYPES.get(data.training_type)
    pdf.heading("Validation visualisations")
    if not panels:
        pdf.paragraph("No validation visualisation was made for this training.", muted=True)
        return
    shown = f"the first {len(panels)} of {n_total}" if n_total > len(panels) else f"all {n_total}"
    if kind is not None and kind.result_kind == BOX_LISTS:
        text = ("Image, true boxes, predicted boxes (at the label's score threshold) and their comparison, "
                f"for {shown} validation images (all are in validation_visualizations/): a predicted box "
                "matched to a true box at IoU ≥ 0.5 is a true positive, an unmatched one a false positive, "
                "and a true box without a match a false negative.")
    else:
        text = (f"Image, ground truth, prediction and the comparison of the two, for {shown} validation "
                "images (all are in validation_visualizations/). Instance training colours whole objects by "
                "their match at IoU ≥ 0.5; semantic training colours pixels.")
    pdf.paragraph(text, size=8.5, muted=True)
    _legend(pdf)
    for panel in panels:
        height = pdf.text_width * panel.aspect
        pdf.ensure_space(height + 4)
        pdf.figure(panel.jpeg, height=height)


def reproducibility_section(pdf: ReportPDF, data: ReportData) -> None:
    repro = data.reproducibility
    pdf.heading("Reproducibility")
    rows = [("Seed", format_value(repro.get("seed", data.config.get("seed"))))]
    for key, value in repro.items():
        if key not in ("seed", "package_versions", "data_hashes"):
            rows.append((key.replace("_", " "), format_value(value)))
    pdf.key_value_table(rows, key_width=0.3)
    versions = repro.get("package_versions") or {}
    if versions:
        pdf.heading("Package versions", level=2)
        pdf.data_table(
            ("package", "version"),
            [[str(k), str(v)] for k, v in versions.items()],
            widths=(0.5, 0.5),
            align=("LEFT", "LEFT"),
            size=8.5,
        )
    hashes = repro.get("data_hashes") or {}
    if hashes:
        pdf.heading("Data hashes (SHA-256 of the imported image content)", level=2)
        pdf.data_table(
            ("image", "sha256"),
            [[str(k), str(v)] for k, v in hashes.items()],
            widths=(0.4, 0.6),
            align=("LEFT", "LEFT"),
            size=7.5,
            mono_columns=(1,),
        )


def metric_table(
    pdf: ReportPDF,
    rows: list[dict],
    text_keys: list[str],
    keys: list[str],
    *,
    first_width: float,
    size: float = 8,
    names: dict | None = None,
) -> None:
    text_widths = [first_width] if len(text_keys) == 1 else [first_width * 0.7, first_width * 0.3]
    number_width = (1 - first_width) / len(keys)
    pdf.data_table(
        [*text_keys, *((names or {}).get(k) or _NAMES.get(k, k) for k in keys)],
        [[str(row.get(k, "")) for k in text_keys] + [format_value(row.get(k)) for k in keys] for row in rows],
        widths=[*text_widths, *([number_width] * len(keys))],
        align=["LEFT"] * len(text_keys) + ["RIGHT"] * len(keys),
        size=size,
    )


def present_keys(rows: list[dict], keys: list[str]) -> list[str]:
    return [key for key in keys if any(key in row for row in rows)]


def _legend(pdf: ReportPDF) -> None:
    pdf.set_font(SANS, size=8.5)
    y = pdf.get_y() + 1
    x = pdf.l_margin
    for color, text in (
        (TP_COLOR, "true positive"),
        (FP_COLOR, "false positive"),
        (FN_COLOR, "false negative"),
    ):
        pdf.set_fill_color(*color)
        pdf.rect(x, y, 4, 4, style="F")
        pdf.set_xy(x + 5.5, y - 0.5)
        pdf.cell(pdf.get_string_width(text) + 2, 5, text)
        x += 5.5 + pdf.get_string_width(text) + 9
    pdf.set_fill_color(255, 255, 255)
    pdf.set_xy(pdf.l_margin, y + 7)


def panel_jpeg(panel: np.ndarray) -> bytes:
    """A uint8 (H, W, 3) visualisation as JPEG for the PDF (at most PDF_PANEL_WIDTH_PX wide)."""
    image = Image.fromarray(panel)
    if image.width > PDF_PANEL_WIDTH_PX:
        factor = PDF_PANEL_WIDTH_PX / image.width
        image = image.resize(
            (PDF_PANEL_WIDTH_PX, max(1, round(image.height * factor))), Image.Resampling.LANCZOS
        )
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=88, optimize=True)
    return buffer.getvalue()
