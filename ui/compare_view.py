"""Several trainings' curves in the Trainings page's frame: each training type's charts side by side (loss,
pixel accuracy and IoU; loss, mAP@0.5, precision and recall for detection; trainings of different types add their own
charts), one colour per training, training dashed and validation solid, each training's kept model marked
(a star at its kept epoch, with the number of its metrics table)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def comparison_figure(curves: list[dict]) -> go.Figure:
    """``curves``: :attr:`core.comparison.Comparison.curves` (one dict per training, with its ``charts``)."""
    import pandas  # noqa: F401  (plotly reads pandas when it is loaded: wait for ui.warmup's import)

    titles = list(dict.fromkeys(chart[0] for entry in curves for chart in entry["charts"]))
    figure = make_subplots(rows=1, cols=max(len(titles), 1), subplot_titles=titles)
    for index, entry in enumerate(curves):
        colour, label = COLOURS[index % len(COLOURS)], entry["label"]
        star_shown = False
        for chart_index, (title, ylabel, train_key, val_key) in enumerate(entry["charts"]):
            col = titles.index(title) + 1
            for key, dash, words, split in ((train_key, "dash", "training", "train"),
                                            (val_key, "solid", "validation", "val")):
                figure.add_trace(go.Scatter(
                    x=entry["epoch"], y=entry[key], mode="lines+markers",
                    line={"color": colour, "dash": dash}, marker={"size": 5}, name=f"{label} · {words}",
                    legendgroup=f"{label}-{split}", showlegend=chart_index == 0,
                ), row=1, col=col)
            kept = entry.get("kept")
            if kept is not None and kept[1].get(val_key) is not None:
                figure.add_trace(go.Scatter(
                    x=[kept[0]], y=[kept[1][val_key]], mode="markers",
                    name=f"{label} · kept model (as in the table)", legendgroup=f"{label}-kept",
                    showlegend=not star_shown,
                    marker={"color": colour, "size": 12, "symbol": "star",
                            "line": {"color": "#000", "width": 1}},
                ), row=1, col=col)
                star_shown = True
            figure.update_xaxes(title_text="epoch", row=1, col=col)
            figure.update_yaxes(title_text=ylabel, row=1, col=col)
    figure.update_layout(height=380, margin={"l": 40, "r": 10, "t": 40, "b": 40},
                         legend={"orientation": "h", "y": -0.25})
    return figure
