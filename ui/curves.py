"""The three training plots of the arivis seed: loss, accuracy and IoU, training vs validation."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.db.models import EpochMetric

PLOTS = (("loss", "Loss"), ("accuracy", "Pixel accuracy"), ("iou", "IoU"))


def curves_figure(rows: list[EpochMetric]) -> go.Figure:
    figure = make_subplots(rows=1, cols=3, subplot_titles=[title for _, title in PLOTS])
    epochs = [r.epoch for r in rows]
    for col, (metric, _) in enumerate(PLOTS, start=1):
        for split, colour in (("train", "#1f77b4"), ("val", "#ff7f0e")):
            values = [getattr(r, f"{split}_{metric}") for r in rows]
            figure.add_trace(go.Scatter(
                x=epochs, y=values, mode="lines+markers", line={"color": colour},
                name="training" if split == "train" else "validation", legendgroup=split, showlegend=col == 1,
            ), row=1, col=col)
        figure.update_xaxes(title_text="epoch", row=1, col=col)
    figure.update_layout(height=320, margin={"l": 40, "r": 10, "t": 40, "b": 40},
                         legend={"orientation": "h", "y": -0.25})
    return figure
