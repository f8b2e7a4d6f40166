"""The data interface of the training engine: images and their ground truth as region readers.

The engine never sees the database or files. Whoever calls it builds :class:`TrainingImage` objects:
``read(y, x, h, w)`` returns pixels ``(C, h, w)``; ``targets(y, x, h, w)`` returns a dict with

* ``"instances"``: ``(L, h, w)`` int32, per label instance ids (0 = none) — needed for instance training;
* ``"masks"``: ``(L, h, w)`` bool, per label masks — enough for semantic training (derived from
  ``"instances"`` when absent);
* ``"valid"``: ``(h, w)`` bool, the pixels that carry ground truth (outside ROIs: False).

Reads are always inside the image; the sampler pads. :class:`ArrayImage` builds one from in-memory arrays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from core.errors import InvalidInputError

Box = tuple[int, int, int, int, int]  # (label_idx, y0, x0, y1, x1), y1/x1 exclusive
ReadFn = Callable[[int, int, int, int], np.ndarray]
TargetsFn = Callable[[int, int, int, int], dict]


@dataclass
class TrainingImage:
    """One image of a training set, readable by region. ``shape`` is ``(C, H, W)``."""

    key: str
    read: ReadFn
    targets: TargetsFn
    shape: tuple[int, int, int]
    dtype: str
    object_boxes: list[Box] = field(default_factory=list)
    roi_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # (y0, x0, y1, x1) of ROIs
    content_hash: str = ""  # of the pixels and the annotations, recorded in the model card

    @property
    def height(self) -> int:
        return int(self.shape[1])

    @property
    def width(self) -> int:
        return int(self.shape[2])

    @property
    def channels(self) -> int:
        return int(self.shape[0])


def object_boxes(instances: np.ndarray) -> list[Box]:
    """Bounding boxes of every object of ``instances`` ``(L, H, W)`` int (ids per label) or bool masks.

    Bool masks are split into connected components first.
    """
    boxes: list[Box] = []
    for idx, plane in enumerate(instances):
        lab = ndi.label(plane)[0] if plane.dtype == bool else plane
        for sl in ndi.find_objects(lab):
            if sl is not None:
                boxes.append((idx, sl[0].start, sl[1].start, sl[0].stop, sl[1].stop))
    return boxes


def ArrayImage(  # noqa: N802 - a constructor-like factory
    key: str,
    image: np.ndarray,
    *,
    instances: np.ndarray | None = None,
    masks: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    roi_boxes: list[tuple[int, int, int, int]] | None = None,
) -> TrainingImage:
    """A :class:`TrainingImage` over in-memory arrays.

    ``image``: ``(C, H, W)`` (or ``(H, W)``, taken as one channel); ``instances``: ``(L, H, W)`` int
    instance ids per label; ``masks``: ``(L, H, W)`` bool (semantic); ``valid``: ``(H, W)`` bool or None
    (all pixels valid); ``roi_boxes``: ``(y0, x0, y1, x1)`` of the ROIs
    (patches are drawn inside them when training on ROIs). Give ``instances`` or ``masks`` (or both); a
    background-only image has all zeros.
    """
    image, instances, masks, valid = _check_arrays(key, image, instances, masks, valid)

    def read(y: int, x: int, h: int, w: int) -> np.ndarray:
        return image[:, y : y + h, x : x + w]

    def targets(y: int, x: int, h: int, w: int) -> dict:
        out = {"valid": valid[y : y + h, x : x + w]}
        if instances is not None:
            out["instances"] = instances[:, y : y + h, x : x + w]
        out["masks"] = masks[:, y : y + h, x : x + w]
        return out

    boxes = object_boxes(instances if instances is not None else masks)
    digest = hashlib.sha256(np.ascontiguousarray(image).tobytes())
    for part in (instances, masks, valid):
        if part is not None:
            digest.update(np.ascontiguousarray(part).tobytes())
    return TrainingImage(
        key, read, targets, tuple(image.shape), str(image.dtype), boxes, list(roi_boxes or []), digest.hexdigest()
    )


def _check_arrays(key, image, instances, masks, valid):
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3 or not 1 <= image.shape[0] <= 10:
        raise InvalidInputError(
            f"image {key!r} has shape {image.shape}; expected (C, H, W) with 1 to 10 channels or (H, W)"
        )
    hw = image.shape[1:]
    if instances is None and masks is None:
        raise InvalidInputError(f"image {key!r} has no ground truth; pass instances=(L, H, W) or masks=(L, H, W)")
    if instances is not None:
        instances = np.asarray(instances)
        if instances.ndim == 2:
            instances = instances[None]
        if instances.shape[1:] != hw or not np.issubdtype(instances.dtype, np.integer):
            raise InvalidInputError(
                f"instances of {key!r} are {instances.dtype} {instances.shape}; "
                f"expected integer (L, {hw[0]}, {hw[1]})"
            )
        instances = instances.astype(np.int32, copy=False)
    if masks is None:
        masks = instances > 0
    masks = np.asarray(masks)
    if masks.ndim == 2:
        masks = masks[None]
    if masks.shape[1:] != hw:
        raise InvalidInputError(f"masks of {key!r} have shape {masks.shape}; expected (L, {hw[0]}, {hw[1]})")
    masks = masks.astype(bool, copy=False)
    if instances is not None and instances.shape[0] != masks.shape[0]:
        raise InvalidInputError(
            f"image {key!r} has {instances.shape[0]} instance planes but {masks.shape[0]} mask planes; "
            "give one per label"
        )
    if valid is None:
        valid = np.ones(hw, dtype=bool)
    valid = np.asarray(valid, dtype=bool)
    if valid.shape != hw:
        raise InvalidInputError(f"valid mask of {key!r} has shape {valid.shape}; expected {hw}")
    return image, instances, masks, valid


def truth_labels(truth: dict[str, np.ndarray], *, instance: bool) -> np.ndarray:
    """``(L, H, W)`` ground truth from a :meth:`TrainingImage.targets` dict: instance ids int32 when
    ``instance``, else bool masks (``"masks"``, or the instances' foreground where a source has no
    masks)."""
    if instance:
        return np.asarray(truth["instances"], dtype=np.int32)
    return np.asarray(truth["masks"] if "masks" in truth else truth["instances"] > 0, dtype=bool)


def BoxImage(  # noqa: N802 - a constructor-like factory
    key: str,
    image: np.ndarray,
    boxes: list[Box],
    *,
    n_labels: int,
    valid: np.ndarray | None = None,
) -> TrainingImage:
    """A :class:`TrainingImage` for object detection over an in-memory image and its boxes
    ``(label_idx, y0, x0, y1, x1)`` (ends exclusive): ``targets()`` paints each label's boxes as rectangles of
    their own ids (:func:`core.detection.targets.paint_boxes`), and the exact boxes are its
    ``object_boxes``."""
    from core.detection.targets import paint_boxes

    image, _, _, valid = _check_arrays(key, image, np.zeros((1, *np.shape(image)[-2:]), np.int32), None, valid)
    for box in boxes:
        if not (0 <= box[0] < n_labels and box[1] < box[3] and box[2] < box[4]):
            raise InvalidInputError(f"box {box} of {key!r} is not (label 0..{n_labels - 1}, y0, x0, y1, x1) "
                                    "with y0 < y1 and x0 < x1")

    def read(y: int, x: int, h: int, w: int) -> np.ndarray:
        return image[:, y : y + h, x : x + w]

    def targets(y: int, x: int, h: int, w: int) -> dict:
        planes = np.stack([
            paint_boxes([(b[1] - y, b[2] - x, b[3] - y, b[4] - x) if b[0] == lab else (0, 0, 0, 0)
                         for b in boxes], (h, w))
            for lab in range(n_labels)
        ])
        return {"valid": valid[y : y + h, x : x + w], "instances": planes, "masks": planes > 0}

    digest = hashlib.sha256(np.ascontiguousarray(image).tobytes())
    digest.update(repr(sorted(boxes)).encode())
    return TrainingImage(key, read, targets, tuple(image.shape), str(image.dtype), list(boxes), [],
                         digest.hexdigest())
