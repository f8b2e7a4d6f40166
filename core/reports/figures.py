"""Charts of the report, drawn with matplotlib's Agg canvas into PNG bytes (no pyplot, no global state): the
training curves (the training type's charts) and the precision-recall curves of a detection training."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from core.training.types.base import PIXEL_CURVES

#: (title, y-axis label, training key, validation key) of the three curves when the training type gives none
#: (the pixel types'; each type's are its entry's :attr:`~core.training.types.base.TrainingType.curves`).
CURVES = PIXEL_CURVES
TRAIN_COLOR = "#1f4e79"
VAL_COLOR = "#e07b00"


def curves_png(
    curves: Sequence[dict],
    *,
    charts: Sequence[tuple[str, str, str, str]] = CURVES,
    best_epoch: int | None = None,
    kept: dict | None = None,
    dpi: int = 200,
) -> bytes:
    """The ``charts`` per epoch (title, y-axis label, training key, validation key each: loss, accuracy and
    IoU, or the training type's own), training vs validation, side by side (7.1 x 2.5 inches).

    Values that are None are gaps in the line; a chart without any value says so. ``best_epoch`` draws a
    dotted line at the kept checkpoint; ``kept`` (validation key -> value, e.g. ``{"val_accuracy": 0.99}``)
    marks there the kept model's post-processed scores, the numbers of the metrics tables.
    """
    fig = Figure(figsize=(7.1, 2.5), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(charts))
    epochs = [row["epoch"] for row in curves]
    few = len(epochs) <= 25
    for ax, (title, ylabel, train_key, val_key) in zip(axes, charts, strict=True):
        any_value = False
        for key, color, name, style in (
            (train_key, TRAIN_COLOR, "training", "-"),
            (val_key, VAL_COLOR, "validation", "--"),
        ):
            values = [_nan(row.get(key)) for row in curves]
            if any(not math.isnan(v) for v in values):
                any_value = True
                ax.plot(
                    epochs,
                    values,
                    style,
                    color=color,
                    label=name,
                    linewidth=1.4,
                    marker="o" if few else None,
                    markersize=2.8,
                )
        if best_epoch is not None and any_value:
            ax.axvline(best_epoch, color="#777777", linestyle=":", linewidth=1, label="best epoch")
            if kept and kept.get(val_key) is not None:
                ax.plot([best_epoch], [kept[val_key]], "*", color="#c00000", markersize=7,
                        label="kept model (table)")
        if not any_value:
            ax.text(
                0.5,
                0.5,
                "no values recorded",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="#777777",
                fontsize=8,
            )
        ax.set_title(title, fontsize=9, fontweight="bold")
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, color="#e5e5e5", linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        if epochs and len(epochs) <= 12:
            ax.set_xticks(epochs)
        if any_value:
            ax.legend(fontsize=6.5, frameon=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def pr_curves_png(curves: Sequence[dict], *, label_colors: dict[str, str], dpi: int = 200) -> bytes:
    """Precision against recall of each label (``curves``: the report's ``pr_curves``), one line per label in
    its colour with its AP in the legend, the label's score threshold marked on its line (3.6 x 3.2 inches).
    A label without true boxes has no curve and says so in the legend."""
    fig = Figure(figsize=(3.6, 3.2), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for curve in curves:
        color = label_colors.get(curve["label"], "#555555")
        ap = curve.get("ap")
        name = f"{curve['label']} (AP50 {ap:.3f})" if ap is not None else f"{curve['label']} (no true boxes)"
        recall, precision = list(curve["recall"]), list(curve["precision"])
        if recall:  # from (0, first precision) so that the line starts at the left edge
            recall, precision = [0.0, *recall], [precision[0], *precision]
        ax.plot(recall, precision, "-", color=color, linewidth=1.4, label=name)
        point = curve.get("operating_point")
        if point and point[0] is not None and point[1] is not None:
            ax.plot([point[0]], [point[1]], "o", color=color, markersize=4.5, markeredgecolor="#222222",
                    markeredgewidth=0.6)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall", fontsize=8)
    ax.set_ylabel("precision", fontsize=8)
    ax.set_title("Precision-recall at IoU 0.5", fontsize=9, fontweight="bold")
    ax.tick_params(labelsize=7)
    ax.grid(True, color="#e5e5e5", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    if curves:
        ax.legend(fontsize=6.5, frameon=False, loc="lower left")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _nan(value: object) -> float:
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]
