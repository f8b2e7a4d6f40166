"""Several trainings' curves in the Trainings page's frame: each training type's charts side by side (loss,
pixel accuracy and IoU; loss, mAP@0.5, precision and recall for detection; trainings of different types add
their own charts), one colour per training, training dashed and validation solid, each training's kept model
marked (a diamond at its kept epoch, with the number of its metrics table)."""

from __future__ import annotations

from ui.epoch_charts import chart_points, panels_spec

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
#: the line of a training's split -> its dash (training dashed, validation solid)
DASHES = {"training": [6, 4], "validation": [1, 0]}


def comparison_chart(curves: list[dict]) -> dict:
    """A Vega-Lite specification. ``curves``: :attr:`core.comparison.Comparison.curves` (one dict per
    training, with its ``charts``)."""
    ylabels: dict[str, str] = {}  # panel title -> its y-axis label (the first type's that names the title)
    for entry in curves:
        for title, ylabel, _, _ in entry["charts"]:
            ylabels.setdefault(title, ylabel)
    values: list[dict] = []
    for entry in curves:
        label = entry["label"]
        for title, _, train_key, val_key in entry["charts"]:
            for key, split in ((train_key, "training"), (val_key, "validation")):
                values += chart_points(title, entry["epoch"], entry[key], training=label, split=split,
                                       line=f"{label} · {split}")
            kept = entry.get("kept")
            if kept is not None and kept[1].get(val_key) is not None:
                values.append({"chart": title, "epoch": kept[0], "value": float(kept[1][val_key]),
                               "mark": "kept", "training": label,
                               "line": f"{label} · kept model (as in the table)"})
    labels = [entry["label"] for entry in curves]
    colour = {"field": "training", "type": "nominal", "title": None,
              "scale": {"domain": labels, "range": [COLOURS[i % len(COLOURS)] for i in range(len(labels))]}}
    dash = {"field": "split", "type": "nominal", "title": None,
            "scale": {"domain": list(DASHES), "range": list(DASHES.values())}}
    return panels_spec(values, list(ylabels.items()), colour=colour, dash=dash, tooltip_name="line")
