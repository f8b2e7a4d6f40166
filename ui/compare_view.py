"""Several trainings' curves in the Trainings page's frame: loss, pixel accuracy and IoU side by side, one
colour per training, training dashed and validation solid, each training's kept model marked (a star at its
kept epoch, with the number of its metrics table)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.curves import PLOTS

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def comparison_figure(curves: list[dict]) -> go.Figure:
    """``curves``: :attr:`core.comparison.Comparison.curves` (one dict per training)."""
    figure = make_subplots(rows=1, cols=3, subplot_titles=[title for _, title in PLOTS])
    for index, entry in enumerate(curves):
        colour, label = COLOURS[index % len(COLOURS)], entry["label"]
        for col, (metric, _) in enumerate(PLOTS, start=1):
            for split, dash, words in (("train", "dash", "training"), ("val", "solid", "validation")):
                figure.add_trace(go.Scatter(
                    x=entry["epoch"], y=entry[f"{split}_{metric}"], mode="lines+markers",
                    line={"color": colour, "dash": dash}, marker={"size": 5}, name=f"{label} · {words}",
                    legendgroup=f"{label}-{split}", showlegend=col == 1,
                ), row=1, col=col)
            kept = entry.get("kept")
            if kept is not None and kept[1].get(metric) is not None:
                figure.add_trace(go.Scatter(
                    x=[kept[0]], y=[kept[1][metric]], mode="markers",
                    name=f"{label} · kept model (as in the table)", legendgroup=f"{label}-kept",
                    showlegend=metric == "accuracy",
                    marker={"color": colour, "size": 12, "symbol": "star",
                            "line": {"color": "#000", "width": 1}},
                ), row=1, col=col)
            figure.update_xaxes(title_text="epoch", row=1, col=col)
    figure.update_layout(height=380, margin={"l": 40, "r": 10, "t": 40, "b": 40},
                         legend={"orientation": "h", "y": -0.25})
    return figure
