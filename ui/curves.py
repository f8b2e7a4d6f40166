"""The three training plots of the arivis seed: loss, accuracy and IoU, training vs validation.

The validation lines are each epoch's network output at probability 0.5 (one view, no post-processing): cheap
and comparable from epoch to epoch. The metrics table scores the kept model after its tuned post-processing
(and its views); that value is drawn as one marker, "kept model (as in the table)", at the kept epoch.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.db.models import EpochMetric

PLOTS = (("loss", "Loss"), ("accuracy", "Pixel accuracy"), ("iou", "IoU"))
VAL_NAME = "validation (network output at 0.5)"
KEPT_NAME = "kept model (as in the table)"


def kept_point(metrics: dict, rows: list[EpochMetric]) -> tuple[int, dict[str, float | None]] | None:
    """(epoch, {"accuracy", "iou"}) of the model the metrics table scores, or None when unknown."""
    kept, overall = metrics.get("kept") or {}, metrics.get("overall") or {}
    if not rows or not overall or kept.get("epoch") is None:
        return None
    epoch = rows[-1].epoch if kept.get("weight_average") else int(kept["epoch"])
    return epoch, {"accuracy": overall.get("accuracy"), "iou": overall.get("iou")}


def curves_figure(
    rows: list[EpochMetric], kept: tuple[int, dict[str, float | None]] | None = None
) -> go.Figure:
    figure = make_subplots(rows=1, cols=3, subplot_titles=[title for _, title in PLOTS])
    epochs = [r.epoch for r in rows]
    for col, (metric, _) in enumerate(PLOTS, start=1):
        for split, colour in (("train", "#1f77b4"), ("val", "#ff7f0e")):
            values = [getattr(r, f"{split}_{metric}") for r in rows]
            figure.add_trace(go.Scatter(
                x=epochs, y=values, mode="lines+markers", line={"color": colour},
                name="training" if split == "train" else VAL_NAME, legendgroup=split, showlegend=col == 1,
            ), row=1, col=col)
        if kept is not None and kept[1].get(metric) is not None:
            figure.add_trace(go.Scatter(
                x=[kept[0]], y=[kept[1][metric]], mode="markers", name=KEPT_NAME, legendgroup="kept",
                marker={"color": "#d62728", "size": 11, "symbol": "star"}, showlegend=metric == "accuracy",
            ), row=1, col=col)
        figure.update_xaxes(title_text="epoch", row=1, col=col)
    figure.update_layout(height=340, margin={"l": 40, "r": 10, "t": 40, "b": 40},
                         legend={"orientation": "h", "y": -0.25})
    return figure
