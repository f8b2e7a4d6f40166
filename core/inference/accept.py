"""Accept predictions as annotations: predicted label images or boxes -> annotation shapes to correct and
retrain.

Each predicted object of a label image becomes one polygon (pixel-exact outline, holes kept, see
:func:`core.annotations.mask_import.mask_to_shapes`) with ``source="prediction"`` and the label's database
id. Instance planes keep their objects apart (one polygon per id); semantic planes become one polygon per
connected piece. Each predicted box becomes one ``rectangle`` (:func:`boxes_to_shapes`).
:data:`RESULT_SHAPES` reads the shapes of a stored prediction by its result kind; the caller stores them.
:func:`read_prediction_region` reads the part of a large prediction that the user looks at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from core.annotations.boxes.records import box_corners
from core.annotations.mask_import import mask_to_shapes
from core.annotations.shapes import ShapeData
from core.errors import AnnotationError, InvalidInputError
from core.evaluation.detection import as_boxes
from core.inference.box_export import read_boxes_csv
from core.inference.labels_io import open_labels
from core.training.types import training_type
from core.training.types.base import BOX_LISTS, LABEL_IMAGES

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


def boxes_to_shapes(boxes: np.ndarray, label_ids: Sequence[int]) -> list[ShapeData]:
    """One ``rectangle`` annotation (source "prediction") per box ``[x_min, y_min, x_max, y_max]`` of
    ``boxes`` ``(N, 4)``, box ``k`` of label id ``label_ids[k]``; boxes without area are left out."""
    boxes = as_boxes(boxes)
    if len(label_ids) != len(boxes):
        raise AnnotationError(f"{len(boxes)} box(es) but {len(label_ids)} label id(s); give one id per box")
    return [
        ShapeData("annotation", "rectangle", box_corners(tuple(box)), label_id=int(label_id), source=SOURCE)
        for box, label_id in zip(boxes, label_ids, strict=True)
        if box[2] > box[0] and box[3] > box[1]
    ]


def result_shapes(data_dir: Path, item: Mapping, label_map: Mapping[str, int]) -> list[ShapeData]:
    """The shapes of one image of a prediction run (``item``: its stored result, file paths relative to
    ``data_dir``), the model's label names mapped to project label ids by ``label_map``; by the result's
    kind (runs stored before kinds existed hold label images)."""
    kind = item.get("result_kind", LABEL_IMAGES)
    if kind not in RESULT_SHAPES:
        raise InvalidInputError(f"a prediction of kind {kind!r} cannot become annotations; "
                                f"the known kinds are {list(RESULT_SHAPES)}")
    return RESULT_SHAPES[kind](Path(data_dir), item, label_map)


def _label_image_shapes(data_dir: Path, item: Mapping, label_map: Mapping[str, int]) -> list[ShapeData]:
    with open_labels(data_dir / item["labels"]) as labels:
        names = list(labels.names)
        _check_mapped(names, label_map)
        planes = np.stack([labels.read_plane(i) for i in range(len(names))])
        instance = training_type(labels.training_type).object_ids
    return prediction_to_shapes(planes, [label_map[n] for n in names], instance=instance)


def _box_shapes(data_dir: Path, item: Mapping, label_map: Mapping[str, int]) -> list[ShapeData]:
    boxes, _, names = read_boxes_csv(data_dir / item["boxes"])
    _check_mapped(list(dict.fromkeys(names)), label_map)
    return boxes_to_shapes(boxes, [label_map[n] for n in names])


def _check_mapped(names: Sequence[str], label_map: Mapping[str, int]) -> None:
    missing = [n for n in names if n not in label_map]
    if missing:
        raise InvalidInputError(f"Choose a project label for the model's label(s) {missing}.")


#: result kind -> the shapes of a stored prediction of that kind
RESULT_SHAPES: dict[str, Callable[[Path, Mapping, Mapping[str, int]], list[ShapeData]]] = {
    LABEL_IMAGES: _label_image_shapes,
    BOX_LISTS: _box_shapes,
}


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
