"""PDF sections with the results of a classification training: its metrics (overall, per class, the
confusion matrix) and its misclassified validation examples."""

from __future__ import annotations

from core.reports.data import ReportData
from core.reports.document import ReportPDF
from core.reports.sections_overview import overall_rows
from core.reports.sections_results import PdfPanel, metric_table, present_keys

#: the classification metrics per class
CLASS_COLUMNS = (
    ("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"), ("support", "validation\nexamples"),
)


def metrics_section(pdf: ReportPDF, data: ReportData, confusion_png: bytes | None) -> None:
    """Overall scores, the per-class table and the confusion matrix of a classification training."""
    pdf.heading("Metrics")
    if not data.metrics.get("per_label") and not data.metrics.get("overall"):
        pdf.paragraph("No metrics were recorded for this training.", muted=True)
        return
    pdf.paragraph(
        "Computed on every validation example (an image, or the crop of an ROI carrying a class), each given "
        "its most probable class. n/d = not defined (e.g. the precision of a class never predicted). Every "
        "example's prediction and class probabilities are in metrics_per_image.csv.",
        size=8.5,
        muted=True,
    )
    if data.metrics.get("overall"):
        pdf.heading("Overall", level=2)
        pdf.key_value_table(overall_rows(data.metrics["overall"]), key_width=0.4)
    per_class = data.metrics.get("per_label") or []
    columns = present_keys(per_class, [key for key, _ in CLASS_COLUMNS])
    if columns:
        pdf.heading("Per class", level=2)
        pdf.paragraph(
            "Precision: the share of the examples predicted as the class that are of it; recall: the share "
            "of the class's examples predicted as it; F1: their harmonic mean; validation examples: the "
            "class's examples in the validation set (metrics_per_class.csv).",
            size=8,
            muted=True,
        )
        metric_table(pdf, per_class, ["label"], columns, first_width=0.36, names=dict(CLASS_COLUMNS))
    if confusion_png is not None:
        pdf.ensure_space(0.45 * pdf.text_width + 20)
        pdf.heading("Confusion matrix", level=2)
        pdf.paragraph(
            "Rows: the true class; columns: the predicted class. Left: numbers of validation examples; "
            "right: each row divided by its total, so that the diagonal is each class's recall "
            "(confusion_matrix.csv, confusion_matrix_normalised.csv).",
            size=8,
            muted=True,
        )
        pdf.figure(confusion_png)


def misclassified_section(pdf: ReportPDF, data: ReportData, sheets: list[PdfPanel], n_drawn: int) -> None:
    """The misclassified validation examples, in sheets of tiles
    (:func:`core.reports.class_visuals.tile_sheets`)."""
    pdf.heading("Misclassified validation examples")
    rows = data.metrics.get("per_image") or []
    wrong = sum(1 for row in rows if row.get("correct") is False)
    if not sheets:
        pdf.paragraph("Every validation example was given its true class: none is misclassified."
                      if rows else "No validation example was recorded.", muted=True)
        return
    shown = f"the first {n_drawn} of {wrong}" if wrong > n_drawn else f"all {n_drawn}"
    pdf.paragraph(
        f"Misclassified validation examples ({shown}): the example's name, its true class and the class it "
        "was given, with that class's probability. Each is also in validation_visualizations/; every "
        "example's prediction is in metrics_per_image.csv.",
        size=8.5,
        muted=True,
    )
    for sheet in sheets:
        height = pdf.text_width * sheet.aspect
        pdf.ensure_space(height + 4)
        pdf.figure(sheet.jpeg, height=height)
