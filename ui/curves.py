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

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.comparison import kept_epoch
from core.training.types.base import PIXEL_CURVES, PIXEL_KEPT_SCORES

VAL_NAME = "validation (network output, one view)"
KEPT_NAME = "kept model (as in the table)"
Chart = tuple[str, str, str, str]  # title, y-axis label, training key, validation key


def kept_point(
    metrics: dict, rows: Sequence[dict], marks: dict[str, str] = PIXEL_KEPT_SCORES
) -> tuple[int, dict[str, float | None]] | None:
    """(epoch, {validation key: value}) of the model the metrics table scores, or None when unknown.
    ``rows``: the epochs' records (:func:`core.db.repo.epoch_records`); ``marks``: validation key -> key of
    the metrics' ``overall`` (the type's ``kept_scores``)."""
    return kept_epoch(metrics, rows[-1]["epoch"] if rows else None, marks)


def curves_figure(
    rows: Sequence[dict],
    kept: tuple[int, dict[str, float | None]] | None = None,
    charts: Sequence[Chart] = PIXEL_CURVES,
) -> go.Figure:
    """One plot per chart side by side, training and validation per epoch, the kept model's star where
    ``kept`` has a value for the chart's validation key."""
    import pandas  # noqa: F401  (plotly reads pandas when it is loaded: wait for ui.warmup's import)

    figure = make_subplots(rows=1, cols=len(charts), subplot_titles=[chart[0] for chart in charts])
    epochs = [r["epoch"] for r in rows]
    star_shown = False
    for col, (_, ylabel, train_key, val_key) in enumerate(charts, start=1):
        for key, colour, name, group in ((train_key, "#1f77b4", "training", "train"),
                                         (val_key, "#ff7f0e", VAL_NAME, "val")):
            figure.add_trace(go.Scatter(
                x=epochs, y=[r.get(key) for r in rows], mode="lines+markers", line={"color": colour},
                name=name, legendgroup=group, showlegend=col == 1,
            ), row=1, col=col)
        if kept is not None and kept[1].get(val_key) is not None:
            figure.add_trace(go.Scatter(
                x=[kept[0]], y=[kept[1][val_key]], mode="markers", name=KEPT_NAME, legendgroup="kept",
                marker={"color": "#d62728", "size": 11, "symbol": "star"}, showlegend=not star_shown,
            ), row=1, col=col)
            star_shown = True
        figure.update_xaxes(title_text="epoch", row=1, col=col)
        figure.update_yaxes(title_text=ylabel, row=1, col=col)
    figure.update_layout(height=340, margin={"l": 40, "r": 10, "t": 40, "b": 40},
                         legend={"orientation": "h", "y": -0.25})
    return figure
