"""The machine-readable files of the report: metrics.json, metrics_per_image.csv, curves.csv,
precision_recall.csv (detection), and the file names of the validation visualisations (the confusion
matrix and per-class files of a classification: :mod:`core.reports.class_visuals`).

Undefined metrics are ``null`` in JSON and empty cells in CSV (never 0 or NaN). Text is UTF-8; names keep
every character (the PDF may draw some with a fallback font, these files never change them).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import numpy as np

from core.reports.data import ReportData

REPORT_FORMAT = 1
#: the first columns of curves.csv when the training type gives no charts (the pixel types' curves)
CURVE_COLUMNS = ("epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy", "train_iou", "val_iou")
PR_FILE = "precision_recall.csv"
NOT_DEFINED_NOTE = (
    "null means the metric is not defined (its denominator is 0, e.g. a label without validation objects); "
    "the PDF shows it as n/d"
)
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')
_IMAGE_SUFFIXES = (".ome.tiff", ".ome.tif", ".tiff", ".tif", ".png", ".jpg", ".jpeg", ".bmp", ".czi", ".nd2")
_MAX_STEM = 100


def metrics_json(data: ReportData, visualizations: dict[str, str]) -> str:
    """``metrics.json``: training facts, labels, overall / per-label / per-image metrics, file map."""
    training = {key: _plain(value) for key, value in data.training.items()}
    doc = {
        "report_format": REPORT_FORMAT,
        "training": training,
        "training_type": data.training_type or None,
        "labels": data.label_names,
        "not_defined": NOT_DEFINED_NOTE,
        "overall": (data.metrics.get("overall") or {}) if data.is_full else {},
        "per_label": (data.metrics.get("per_label") or []) if data.is_full else [],
        "per_image": (data.metrics.get("per_image") or []) if data.is_full else [],
        "validation_visualizations": visualizations,
    }
    if data.is_full and data.metrics.get("confusion"):
        doc["confusion"] = data.metrics["confusion"]  # classification: rows = true class, columns = predicted
    if data.is_full and data.pr_curves:
        doc["precision_recall"] = {
            "file": PR_FILE,
            "labels": [{k: v for k, v in curve.items() if k not in ("precision", "recall", "scores")}
                       for curve in data.pr_curves],
        }
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default) + "\n"


def rows_csv(rows: Sequence[dict], *, first: Sequence[str] = ()) -> str:
    """CSV of dict rows: the ``first`` columns, then every other key in order of first appearance."""
    columns = list(first)
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def curve_columns(charts: Sequence[tuple[str, str, str, str]] | None = None) -> tuple[str, ...]:
    """The first columns of curves.csv: ``epoch``, then each chart's training and validation key."""
    if charts is None:
        return CURVE_COLUMNS
    return ("epoch", *dict.fromkeys(key for chart in charts for key in chart[2:]))


def curves_csv(curves: Sequence[dict], charts: Sequence[tuple[str, str, str, str]] | None = None) -> str:
    """One row per epoch: the charts' keys first (``charts`` as the training type's
    :attr:`~core.training.types.base.TrainingType.curves`; None: the pixel types'), then any other."""
    return rows_csv(curves, first=curve_columns(charts))


def pr_csv(curves: Sequence[dict]) -> str:
    """precision_recall.csv: per label, one row per prediction ranked by score: its ``rank``, the
    ``recall`` and ``precision`` of the predictions down to it (at IoU 0.5) and its ``score``."""
    rows = []
    for curve in curves:
        scores = curve.get("scores")
        for k, (recall, precision) in enumerate(zip(curve["recall"], curve["precision"], strict=True)):
            rows.append({"label": curve["label"], "rank": k + 1, "recall": float(recall),
                         "precision": float(precision),
                         "score": float(scores[k]) if scores is not None and k < len(scores) else None})
    return rows_csv(rows, first=("label", "rank", "recall", "precision", "score"))


def per_image_csv(rows: Sequence[dict]) -> str:
    return rows_csv(rows, first=("image", "label"))


def visualization_file_names(names: Sequence[str]) -> list[str]:
    """A safe, unique ``<name>.png`` per image name (path separators and control characters replaced,
    image suffixes dropped, very long names cut and told apart by a hash of the full name)."""
    out: list[str] = []
    used: set[str] = set()
    for name in names:
        stem = unicodedata.normalize("NFC", str(name)).strip()
        lower = stem.lower()
        for suffix in _IMAGE_SUFFIXES:
            if lower.endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
                break
        stem = _UNSAFE.sub("_", stem).strip(" .") or "image"
        if len(stem) > _MAX_STEM:
            digest = hashlib.sha1(str(name).encode("utf-8")).hexdigest()[:8]
            stem = f"{stem[: _MAX_STEM - 9]}~{digest}"
        candidate, k = stem, 2
        while candidate.lower() in used:
            candidate = f"{stem}-{k}"
            k += 1
        used.add(candidate.lower())
        out.append(f"{candidate}.png")
    return out


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return value


def _plain(value: object) -> object:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
