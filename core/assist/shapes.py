"""Accepting a proposal: class map -> annotation polygons (``source="proposal"``) that can be edited.

Every 8-connected piece of a label's pixels becomes one polygon that follows the pixel edges exactly, holes
included (:func:`core.annotations.mask_to_shapes`), so rasterising the polygons gives back exactly the map:
``semantic_masks(shapes, label_ids, hw)[k - 1] == (classes == k)``. In ``"instance"`` mode each piece is one
object; in ``"semantic"`` mode the pieces are the label's regions. (A class map cannot tell touching objects
apart, so both modes give the same polygons today; the mode says how the caller will use them.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.annotations import ShapeData, mask_to_shapes
from core.errors import InvalidInputError

MODES = ("instance", "semantic")


def proposal_to_shapes(
    classes: np.ndarray,
    label_ids: Sequence[int],
    *,
    mode: str,
    origin: tuple[int, int] = (0, 0),
) -> list[ShapeData]:
    """Annotation polygons of a class map (H, W) (class k -> ``label_ids[k - 1]``, 0 = background).

    ``origin`` = ``(x0, y0)`` is the map's top-left corner in the image (the region's x and y), added to every
    coordinate. Shapes come label by label, pieces in the order of their top-left pixel.
    """
    if mode not in MODES:
        raise InvalidInputError(f"mode {mode!r} is not known; use one of {list(MODES)}")
    arr = np.asarray(classes)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(f"classes must be an integer (H, W) class map, got {arr.dtype} {arr.shape}")
    ids = tuple(int(v) for v in label_ids)
    if arr.size and (arr.min() < 0 or arr.max() > len(ids)):
        raise InvalidInputError(
            f"class map holds classes {int(arr.min())}..{int(arr.max())} but only {len(ids)} label id(s) "
            "were given; pass the forest's label_ids"
        )
    try:
        x0, y0 = (float(v) for v in origin)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"origin must be (x0, y0) of the region in the image, got {origin!r}"
        ) from exc
    shift = np.array([x0, y0])
    shapes: list[ShapeData] = []
    for k, label_id in enumerate(ids, start=1):
        mask = arr == k
        if not mask.any():
            continue
        for shape in mask_to_shapes(mask, label_id=label_id, binary=True):
            shapes.append(shape.with_points(shape.points + shift, source="proposal"))
    return shapes
