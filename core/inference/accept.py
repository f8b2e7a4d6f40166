"""Accept predictions as annotations: predicted label images -> annotation shapes to correct and retrain.

Each predicted object becomes one polygon (pixel-exact outline, holes kept, see
:func:`core.annotations.mask_import.mask_to_shapes`) with ``source="prediction"`` and the label's database
id. Instance planes keep their objects apart (one polygon per id); semantic planes become one polygon per
connected piece. The caller (the apply page) stores the shapes; :func:`read_prediction_region` reads the
part of a large prediction that the user looks at.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.annotations.mask_import import mask_to_shapes
from core.annotations.shapes import ShapeData
from core.errors import AnnotationError, InvalidInputError
from core.inference.labels_io import open_labels

SOURCE = "prediction"


def prediction_to_shapes(
    labels: np.ndarray,
    label_ids: Sequence[int],
    *,
    instance: bool = True,
    origin: tuple[int, int] = (0, 0),
) -> list[ShapeData]:
    """Shapes of predicted labels ``(L, H, W)`` (or ``(H, W)``), plane ``l`` -> label ``label_ids[l]``.

    ``origin`` ``(y, x)`` places a region of a larger image in full-image coordinates.
    """
    planes = _check(labels, label_ids)
    oy, ox = (float(v) for v in origin)
    shapes: list[ShapeData] = []
    for plane, label_id in zip(planes, label_ids, strict=True):
        if not plane.any():
            continue
        for shape in mask_to_shapes(plane, label_id=int(label_id), binary=not instance):
            shapes.append(shape.with_points(shape.points + np.array([ox, oy]), source=SOURCE))
    return shapes


def read_prediction_region(path: Path, y: int, x: int, h: int, w: int) -> np.ndarray:
    """Labels ``(L, h', w')`` of a region of a prediction label TIFF (clipped to the image)."""
    with open_labels(Path(path)) as labels:
        return np.stack([labels.read(p, y, x, h, w) for p in range(labels.shape[0])])


def _check(labels: object, label_ids: Sequence[int]) -> np.ndarray:
    arr = np.asarray(labels)
    arr = arr[None] if arr.ndim == 2 else arr
    if arr.ndim != 3 or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise InvalidInputError(
            f"predicted labels must be integer (L, H, W) or (H, W), got {arr.dtype} {np.shape(labels)}"
        )
    if len(label_ids) != arr.shape[0]:
        raise AnnotationError(
            f"{arr.shape[0]} label plane(s) but {len(label_ids)} label id(s) {list(label_ids)}; "
            "give one id per plane"
        )
    if arr.size and arr.min() < 0:
        raise InvalidInputError(f"predicted labels must be >= 0, found {int(arr.min())}")
    return arr
