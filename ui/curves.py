"""The three training plots of the arivis seed, training vs validation: the training type's charts (loss,
accuracy and IoU for segmentation; loss, mAP@0.5, precision and recall for detection; loss, accuracy and
macro-F1 for classification: its entry's :attr:`~core.training.types.base.TrainingType.curves`).

The validation lines are each epoch's network output (one view, no tuned post-processing): cheap and
comparable from epoch to epoch. The metrics table scores the kept model after its tuned post-processing (and
its views); that value is drawn as one marker, "kept model (as in the table)", at the kept epoch, on the
charts the type names (:attr:`~core.training.types.base.TrainingType.kept_scores`).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.comparison import kept_epoch
from core.training.types.base import PIXEL_CURVES, PIXEL_KEPT_SCORES
from ui.epoch_charts import chart_points, panels_spec

TRAIN_NAME = "training"
VAL_NAME = "validation (network output, one view)"
KEPT_NAME = "kept model (as in the table)"
Chart = tuple[str, str, str, str]  # title, y-axis label, training key, validation key
#: line -> colour
COLOURS = {TRAIN_NAME: "#1f77b4", VAL_NAME: "#ff7f0e", KEPT_NAME: "#d62728"}


def kept_point(
    metrics: dict, rows: Sequence[dict], marks: dict[str, str] = PIXEL_KEPT_SCORES
) -> tuple[int, dict[str, float | None]] | None:
    """(epoch, {validation key: value}) of the model the metrics table scores, or None when unknown.
    ``rows``: the epochs' records (:func:`core.db.repo.epoch_records`); ``marks``: validation key -> key of
    the metrics' ``overall`` (the type's ``kept_scores``)."""
    return kept_epoch(metrics, rows[-1]["epoch"] if rows else None, marks)


def curves_chart(
    rows: Sequence[dict],
    kept: tuple[int, dict[str, float | None]] | None = None,
    charts: Sequence[Chart] = PIXEL_CURVES,
) -> dict:
    """A Vega-Lite specification: one panel per chart side by side, training and validation per epoch, the
    kept model's diamond where ``kept`` has a value for the chart's validation key."""
    epochs = [r["epoch"] for r in rows]
    values: list[dict] = []
    for title, _, train_key, val_key in charts:
        values += chart_points(title, epochs, [r.get(train_key) for r in rows], series=TRAIN_NAME)
        values += chart_points(title, epochs, [r.get(val_key) for r in rows], series=VAL_NAME)
        if kept is not None and kept[1].get(val_key) is not None:
            values.append({"chart": title, "epoch": kept[0], "value": float(kept[1][val_key]),  # type: ignore[arg-type]
                           "mark": "kept", "series": KEPT_NAME})
    colour = {"field": "series", "type": "nominal", "title": None,
              "scale": {"domain": list(COLOURS), "range": list(COLOURS.values())}}
    return panels_spec(values, [(title, ylabel) for title, ylabel, _, _ in charts], colour=colour,
                       tooltip_name="series")
