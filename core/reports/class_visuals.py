"""The pictures of a classification training's report: the confusion matrix (counts and row-normalised, side
by side) and the misclassified validation examples (each with its true and predicted class and the
predicted class's probability), singly and as sheets for the PDF; and their CSV files."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageDraw

from core.reports.data import ClassifiedExample
from core.reports.exports import rows_csv
from core.reports.images import downscale_for_report
from core.reports.visuals import _fit, _Text

#: longest side of a misclassified example's picture, in pixels
TILE_SIDE = 256
#: tiles per row and rows per sheet of the PDF's page of misclassified examples
SHEET_COLUMNS, SHEET_ROWS = 4, 4
#: above this many classes the matrix's cells carry no numbers (they would not be legible)
MAX_ANNOTATED_CLASSES = 16
CONFUSION_FILE = "confusion_matrix.csv"
CONFUSION_NORMALISED_FILE = "confusion_matrix_normalised.csv"
CONFUSION_FIGURE = "confusion_matrix.png"
PER_CLASS_FILE = "metrics_per_class.csv"
_PAD, _BACKGROUND, _TEXT, _WRONG, _MUTED = 6, (255, 255, 255), (30, 30, 30), (192, 0, 0), (110, 110, 110)


def confusion_png(classes: Sequence[str], counts: Sequence[Sequence[int]],
                  normalised: Sequence[Sequence[float]], *, dpi: int = 200) -> bytes:
    """The confusion matrix twice, side by side: counts, and each row divided by its total (rows: true class,
    columns: predicted class)."""
    k = len(classes)
    side = min(3.4 + 0.18 * k, 7.0)
    fig = Figure(figsize=(2 * side + 0.6, side), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    tables = ((np.asarray(counts, dtype=np.float64), "Counts", "d"),
              (np.asarray(normalised, dtype=np.float64), "Row-normalised (recall on the diagonal)", ".2f"))
    font = max(4.5, 8.0 - 0.25 * k)
    for ax, (values, title, fmt) in zip(axes, tables, strict=True):
        scale = values / values.max() if values.size and values.max() > 0 else values
        ax.imshow(scale, cmap="Blues", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(k), [str(c) for c in classes], rotation=45, ha="right", fontsize=font)
        ax.set_yticks(range(k), [str(c) for c in classes], fontsize=font)
        ax.set_xlabel("predicted class", fontsize=8)
        ax.set_ylabel("true class", fontsize=8)
        ax.set_title(title, fontsize=9, fontweight="bold")
        if k <= MAX_ANNOTATED_CLASSES:
            for i in range(k):
                for j in range(k):
                    text = format(int(values[i, j]), "d") if fmt == "d" else format(values[i, j], fmt)
                    ax.text(j, i, text, ha="center", va="center", fontsize=font,
                            color="white" if scale[i, j] > 0.55 else "#1e1e1e")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def confusion_csv(classes: Sequence[str], matrix: Sequence[Sequence[float]]) -> str:
    """One row per true class: its name, then one column per predicted class."""
    rows = [{"true class \\ predicted class": name, **dict(zip(classes, row, strict=True))}
            for name, row in zip(classes, matrix, strict=True)]
    return rows_csv(rows, first=("true class \\ predicted class", *classes))


def per_class_csv(rows: Sequence[dict]) -> str:
    return rows_csv(rows, first=("label", "precision", "recall", "f1", "support"))


def render_class_tile(example: ClassifiedExample, *, side: int = TILE_SIDE) -> np.ndarray:
    """One misclassified example: uint8 (H, W, 3) with its name, the picture (enlarged by a whole factor
    when small, shrunk when large, at most ``side`` pixels), "true: ..." and "predicted: ... (p)"."""
    image = example.image_rgb
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, 2)
    grow = side // max(image.shape[:2])
    if grow > 1:
        image = np.repeat(np.repeat(image, grow, axis=0), grow, axis=1)
    image = downscale_for_report(image, max_side=side)
    title, body = _Text(13, True), _Text(13)
    line = 19
    width = side + 2 * _PAD
    canvas = Image.new("RGB", (width, _PAD + line + side + 2 * line + _PAD), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    title.draw(draw, (_PAD, _PAD), _fit(example.name, title, side), _TEXT)
    top = _PAD + line
    canvas.paste(Image.fromarray(np.ascontiguousarray(image)),
                 (_PAD + (side - image.shape[1]) // 2, top + (side - image.shape[0]) // 2))
    y = top + side + 2
    body.draw(draw, (_PAD, y), _fit(f"true: {example.truth}", body, side), _MUTED)
    predicted = f"predicted: {example.predicted} ({example.probability:.2f})"
    body.draw(draw, (_PAD, y + line), _fit(predicted, body, side), _WRONG)
    return np.asarray(canvas)


def tile_sheets(tiles: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The tiles in sheets of :data:`SHEET_COLUMNS` x :data:`SHEET_ROWS` (one PDF page each)."""
    if not tiles:
        return []
    height = max(t.shape[0] for t in tiles)
    width = max(t.shape[1] for t in tiles)
    per_sheet = SHEET_COLUMNS * SHEET_ROWS
    sheets = []
    for start in range(0, len(tiles), per_sheet):
        chunk = tiles[start : start + per_sheet]
        rows = -(-len(chunk) // SHEET_COLUMNS)
        sheet = np.full((rows * height, SHEET_COLUMNS * width, 3), 255, dtype=np.uint8)
        for k, tile in enumerate(chunk):
            r, c = divmod(k, SHEET_COLUMNS)
            sheet[r * height : r * height + tile.shape[0], c * width : c * width + tile.shape[1]] = tile
        sheets.append(sheet)
    return sheets
