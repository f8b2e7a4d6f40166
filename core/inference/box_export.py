"""Outputs of a detection prediction: a table of boxes (CSV), counts per label, COCO JSON, GeoJSON for
QuPath, and boxes drawn on an RGB picture.

Boxes are float64 ``(N, 4)`` arrays ``[x_min, y_min, x_max, y_max]`` in image pixels (pixel ``(r, c)``
covers ``[c, c + 1] x [r, r + 1]``), scores floats in ``[0, 1]``, labels indices into ``label_names``.
Files are written atomically (:func:`core.imaging.atomic.atomic_output`) like the segmentation exports of
:mod:`core.inference.export`, whose CSV writer, colour palette and GeoJSON properties are reused:

* the GeoJSON is a FeatureCollection of closed rectangle Polygons in pixel coordinates (x = column,
  y = row), properties ``objectType`` "detection", ``classification`` ``{"name", "color": [r, g, b]}``,
  ``name``, ``label``, ``object_id``, ``score`` and ``measurements`` ``{"score"}``; QuPath imports them
  as detections of their class (File > Import objects);
* the COCO JSON has ``images``, ``categories`` (ids 1..L in label order) and ``annotations`` with
  ``bbox`` ``[x, y, width, height]``, ``area``, ``score`` and ``iscrowd`` 0, so it loads both as a
  dataset and as detection results.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import InvalidInputError
from core.evaluation.detection import as_boxes, as_labels, as_scores
from core.imaging.atomic import atomic_output
from core.inference.export import _colors, write_measurements_csv

_COCO_KEYS = ("file_name", "width", "height", "boxes", "scores", "labels")


def boxes_table(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    label_names: Sequence[str],
    pixel_size_um: float | None = None,
) -> dict[str, np.ndarray]:
    """One row per box, as a dict of columns: ``label`` (name), ``score``, ``x_min``, ``y_min``, ``x_max``,
    ``y_max``, ``centre_x``, ``centre_y`` in pixels; with ``pixel_size_um`` also the same in µm
    (``x_min_um`` ... ``centre_y_um``) and ``width_um``, ``height_um``."""
    boxes, scores, labels = _detections(boxes, scores, labels, label_names)
    names = np.array([str(n) for n in label_names], dtype=object)
    out: dict[str, np.ndarray] = {
        "label": names[labels] if len(labels) else np.zeros(0, dtype=object),
        "score": scores,
        "x_min": boxes[:, 0],
        "y_min": boxes[:, 1],
        "x_max": boxes[:, 2],
        "y_max": boxes[:, 3],
        "centre_x": (boxes[:, 0] + boxes[:, 2]) / 2,
        "centre_y": (boxes[:, 1] + boxes[:, 3]) / 2,
    }
    if pixel_size_um is not None:
        size = _pixel_size(pixel_size_um)
        for key in ("x_min", "y_min", "x_max", "y_max", "centre_x", "centre_y"):
            out[f"{key}_um"] = out[key] * size
        out["width_um"] = (boxes[:, 2] - boxes[:, 0]) * size
        out["height_um"] = (boxes[:, 3] - boxes[:, 1]) * size
    return out


def write_boxes_csv(columns: dict[str, np.ndarray], path: Path) -> Path:
    """Write :func:`boxes_table` columns as CSV (a header row, then one row per box)."""
    return write_measurements_csv(columns, Path(path))


def read_boxes_csv(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The boxes of a :func:`write_boxes_csv` file: ``(boxes float64 (N, 4), scores (N,), label names)``."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    keys = ("x_min", "y_min", "x_max", "y_max")
    try:
        boxes = np.array([[float(row[k]) for k in keys] for row in rows], dtype=np.float64).reshape(-1, 4)
        scores = np.array([float(row["score"]) for row in rows], dtype=np.float64)
        names = [str(row["label"]) for row in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{path.name} is not a boxes table ({exc}); it needs the columns label, score, "
            f"{', '.join(keys)}, as segstudio writes them"
        ) from None
    return boxes, scores, names


def counts_per_label(labels: np.ndarray, label_names: Sequence[str]) -> dict[str, int]:
    """Number of boxes of each label, every label named (0 for labels without boxes), in label order."""
    labels = as_labels(labels, int(np.size(labels)), len(label_names))
    counts = np.bincount(labels, minlength=len(label_names))
    return {str(name): int(counts[i]) for i, name in enumerate(label_names)}


def write_coco_json(path: Path, images: Sequence[dict], label_names: Sequence[str]) -> Path:
    """Write the detections of ``images`` as one COCO JSON file.

    ``images``: one dict per image with ``file_name``, ``width``, ``height`` (pixels) and its ``boxes``,
    ``scores``, ``labels``. Image ids are 1..n in the given order, category ids 1..L (label index + 1),
    annotation ids 1..N.
    """
    categories = [{"id": i + 1, "name": str(name), "supercategory": "object"}
                  for i, name in enumerate(label_names)]
    coco_images, annotations = [], []
    for i, image in enumerate(images):
        missing = [k for k in _COCO_KEYS if k not in image]
        if missing:
            raise InvalidInputError(
                f"image {i} lacks {', '.join(missing)}; give each image "
                f"{{{', '.join(_COCO_KEYS)}}}."
            )
        boxes, scores, labels = _detections(image["boxes"], image["scores"], image["labels"], label_names)
        coco_images.append({
            "id": i + 1,
            "file_name": str(image["file_name"]),
            "width": int(image["width"]),
            "height": int(image["height"]),
        })
        for box, score, label in zip(boxes, scores, labels, strict=True):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": i + 1,
                "category_id": int(label) + 1,
                "bbox": [float(box[0]), float(box[1]), w, h],
                "area": w * h,
                "score": float(score),
                "iscrowd": 0,
            })
    document = {
        "info": {"description": "segstudio detection prediction"},
        "images": coco_images,
        "categories": categories,
        "annotations": annotations,
    }
    path = Path(path)
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(document, fh)
    return path


def write_boxes_geojson(
    path: Path,
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    label_names: Sequence[str],
    colors: Sequence[str] | None = None,
) -> int:
    """Write the boxes as a GeoJSON FeatureCollection of rectangles QuPath imports as detections of their
    class; ``colors`` are one ``'#rrggbb'`` per label (default: the segmentation exports' palette).
    Returns the number of features."""
    boxes, scores, labels = _detections(boxes, scores, labels, label_names)
    palette = _colors(colors, len(label_names))
    counters = [0] * len(label_names)
    path = Path(path)
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write('{"type": "FeatureCollection", "features": [\n')
        for k, (box, score, label) in enumerate(zip(boxes, scores, labels, strict=True)):
            x0, y0, x1, y1 = (float(v) for v in box)
            name = str(label_names[label])
            counters[label] += 1
            feature = {
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
                },
                "properties": {
                    "objectType": "detection",
                    "name": f"{name} {counters[label]}",
                    "classification": {"name": name, "color": palette[label]},
                    "label": name,
                    "object_id": counters[label],
                    "score": float(score),
                    "measurements": {"score": float(score)},
                },
            }
            fh.write((",\n" if k else "") + json.dumps(feature, separators=(",", ":")))
        fh.write("\n]}\n")
    return len(boxes)


def draw_boxes(
    rgb: np.ndarray, boxes: np.ndarray, colors: np.ndarray | Sequence[int], width: int = 2
) -> np.ndarray:
    """A copy of ``rgb`` (uint8 ``(H, W, 3)``) with each box's outline drawn ``width`` pixels thick.

    The outline lies on the pixels the box covers (columns ``floor(x_min)`` .. ``ceil(x_max) - 1``), drawn
    inwards; parts outside the image are clipped. ``colors`` is one ``(r, g, b)`` or one per box ``(N, 3)``.
    """
    img = np.asarray(rgb)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise InvalidInputError(
            f"rgb must be a uint8 (H, W, 3) picture, got {img.dtype} {img.shape}; "
            "convert it for display first (core.imaging.display)."
        )
    boxes = as_boxes(boxes)
    palette = np.asarray(colors)
    if palette.shape == (3,):
        palette = np.broadcast_to(palette, (len(boxes), 3))
    if palette.shape != (len(boxes), 3) or (palette.size and (palette.min() < 0 or palette.max() > 255)):
        raise InvalidInputError(
            f"colors must be one (r, g, b) or one per box ({len(boxes)}, 3) with values 0..255, got shape "
            f"{palette.shape}."
        )
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise InvalidInputError(f"width must be a whole number of pixels >= 1, got {width!r}.")
    out = img.copy()
    height, img_width = out.shape[:2]
    for box, color in zip(boxes, palette.astype(np.uint8), strict=True):
        c0, r0 = int(np.floor(box[0])), int(np.floor(box[1]))
        c1, r1 = max(int(np.ceil(box[2])), c0 + 1), max(int(np.ceil(box[3])), r0 + 1)  # exclusive
        t = int(width)
        for ys, xs in (
            (slice(r0, min(r0 + t, r1)), slice(c0, c1)),  # top
            (slice(max(r1 - t, r0), r1), slice(c0, c1)),  # bottom
            (slice(r0, r1), slice(c0, min(c0 + t, c1))),  # left
            (slice(r0, r1), slice(max(c1 - t, c0), c1)),  # right
        ):
            y_lo, y_hi = max(ys.start, 0), min(ys.stop, height)
            x_lo, x_hi = max(xs.start, 0), min(xs.stop, img_width)
            if y_lo < y_hi and x_lo < x_hi:
                out[y_lo:y_hi, x_lo:x_hi] = color
    return out


def label_colors(n_labels: int, colors: Sequence[str] | None = None) -> np.ndarray:
    """uint8 ``(n_labels, 3)`` RGB of each label: ``colors`` (``'#rrggbb'`` per label) or the exports'
    default palette; ``label_colors(L)[labels]`` gives :func:`draw_boxes` one colour per box."""
    return np.asarray(_colors(colors, n_labels), dtype=np.uint8).reshape(-1, 3)


def _detections(
    boxes: object, scores: object, labels: object, label_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(label_names) == 0:
        raise InvalidInputError("label_names is empty; give the name of every label index.")
    boxes = as_boxes(boxes)
    return boxes, as_scores(scores, len(boxes)), as_labels(labels, len(boxes), len(label_names))


def _pixel_size(value: object) -> float:
    try:
        size = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInputError(f"pixel_size_um must be a number of µm per pixel, got {value!r}.") from None
    if not (np.isfinite(size) and size > 0):
        raise InvalidInputError(f"pixel_size_um must be a positive number of µm per pixel, got {size}.")
    return size
