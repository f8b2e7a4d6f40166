"""The annotate page's own canvas (``ui/components/annotator``) <-> shapes, edits and views.

The canvas works in full-resolution image coordinates, so there is no coordinate mapping to do here, only
the JSON: what the canvas is sent and what it answers.

Shapes sent to the canvas (one dict per shape, in the working copy's order; the index is the shape's place)::

    {"kind": "annotation" | "roi", "geometry": "polygon" | "rectangle" | "brush",
     "points": [[x, y], ...], "label": label id or None, "width": brush width in image pixels,
     "color": "#rrggbb"}

Events the canvas sends (``type`` first; each also carries ``id``, ``base``, ``view`` and ``image_id``)::

    {"type": "add", "shape": {"kind", "geometry", "points", "label", "width"}}
    {"type": "edit", "index": k, "points": [[x, y], ...]}     a shape moved or a vertex dragged
    {"type": "delete", "index": k}
    {"type": "undo"} {"type": "redo"} {"type": "image", "step": +1 | -1}
    {"type": "segment", "x": x, "y": y, "kind", "label"}       click-to-segment at an image point
    {"type": "accept", "kind", "label"} {"type": "reject"}     the proposed outline

A view is ``{"x0", "y0", "scale", "width", "height"}``: the image point at the canvas's top-left corner, canvas
pixels per image pixel and the canvas size in pixels (``x0``/``y0`` may be negative: the image is centred).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.annotations.shapes import GEOMETRIES, KIND_ANNOTATION, KIND_ROI, KINDS, ShapeData
from core.annotations.viewport import Viewport, level_downsamples
from core.errors import AnnotationError

EDIT_EVENTS = ("add", "edit", "delete")


def shapes_to_component(
    shapes: Sequence[ShapeData], colors: Mapping[int, str], *, roi_color: str = "#ffd700"
) -> list[dict[str, Any]]:
    """The shapes as the canvas draws them (see the module notes); ``colors`` maps label ids to ``#rrggbb``."""
    out = []
    for shape in shapes:
        if shape.kind == KIND_ANNOTATION and shape.label_id not in colors:
            raise AnnotationError(f"no colour for label id {shape.label_id}; known label ids: {sorted(colors)}")
        out.append({
            "kind": shape.kind,
            "geometry": shape.geometry,
            "points": [[float(x), float(y)] for x, y in shape.points],
            "label": shape.label_id,
            "width": float(shape.stroke_width),
            # an ROI: dashed, in its class's colour when it carries a class
            "color": (colors.get(shape.label_id, roi_color) if shape.kind == KIND_ROI  # type: ignore[arg-type]
                      else colors[shape.label_id]),  # type: ignore[index]
        })
    return out


def _points(raw: Any, what: str) -> np.ndarray:
    try:
        pts = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AnnotationError(f"{what}: points must be a list of [x, y] numbers, got {str(raw)[:80]}") from exc
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise AnnotationError(f"{what}: points must be a non-empty list of [x, y] pairs, got shape {pts.shape}")
    if not np.isfinite(pts).all():
        raise AnnotationError(f"{what}: points must be finite numbers")
    return pts


def component_shape(record: Mapping[str, Any], label_ids: Sequence[int]) -> ShapeData:
    """One shape drawn on the canvas (``event["shape"]``) as a :class:`ShapeData` (not yet clipped or cleaned:
    pass it through :func:`core.annotations.clean.clean_shapes`)."""
    kind, geometry = record.get("kind"), record.get("geometry")
    if kind not in KINDS:
        raise AnnotationError(f"a drawn shape's kind {kind!r} is not known; use one of {list(KINDS)}")
    if geometry not in GEOMETRIES:
        raise AnnotationError(f"a drawn shape's geometry {geometry!r} is not known; use one of {list(GEOMETRIES)}")
    label = record.get("label")
    if kind == KIND_ANNOTATION and label not in label_ids:
        raise AnnotationError(f"a drawn shape's label {label!r} is not one of the project's labels "
                              f"{list(label_ids)}; pick a label before drawing")
    width = float(record.get("width") or 0.0)
    return ShapeData(kind=kind, geometry=geometry, points=_points(record.get("points"), "a drawn shape"),
                     label_id=label if kind == KIND_ANNOTATION else None,
                     stroke_width=width if geometry == "brush" else 0.0)


def _index(event: Mapping[str, Any], shapes: Sequence[ShapeData]) -> int:
    index = event.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(shapes):
        raise AnnotationError(f"the canvas named shape {index!r}, but the image has {len(shapes)} shape(s); "
                              "the canvas is shown anew with the current shapes, edit again")
    return index


def apply_edit(shapes: Sequence[ShapeData], event: Mapping[str, Any], label_ids: Sequence[int]) -> list[ShapeData]:
    """The shapes after an ``add``, ``edit`` or ``delete`` event of the canvas (a new list; ``shapes`` is left
    as it was). An edited rectangle stays a rectangle only while it is axis aligned."""
    kind = event.get("type")
    if kind == "add":
        return [*shapes, component_shape(event.get("shape") or {}, label_ids)]
    if kind == "delete":
        k = _index(event, shapes)
        return [s for i, s in enumerate(shapes) if i != k]
    if kind == "edit":
        k = _index(event, shapes)
        old = shapes[k]
        pts = _points(event.get("points"), "an edited shape")
        if len(pts) != len(old.points):
            raise AnnotationError(f"an edited shape must keep its {len(old.points)} points, got {len(pts)}")
        geometry = old.geometry
        if geometry == "rectangle" and not _axis_aligned(pts):
            geometry = "polygon"
        out = list(shapes)
        out[k] = old.with_points(pts, geometry=geometry)
        return out
    raise AnnotationError(f"canvas event {kind!r} does not edit shapes; known: {list(EDIT_EVENTS)}")


def _axis_aligned(pts: np.ndarray) -> bool:
    if len(pts) != 4:
        return False
    xs, ys = np.unique(np.round(pts[:, 0], 9)), np.unique(np.round(pts[:, 1], 9))
    return len(xs) == 2 and len(ys) == 2


def check_view(view: Any) -> dict[str, float] | None:
    """A view sent by the canvas, checked (None when it is missing or unusable: the canvas then fits)."""
    if not isinstance(view, Mapping):
        return None
    try:
        out = {k: float(view[k]) for k in ("x0", "y0", "scale", "width", "height")}
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in out.values()) or out["scale"] <= 0 or out["width"] < 1 or out["height"] < 1:
        return None
    return out


def visible_viewport(
    image_hw: Sequence[int], view: Mapping[str, float], level_shapes: Sequence[Sequence[int]] | None = None
) -> Viewport | None:
    """The part of ``view`` that shows the image, as a :class:`Viewport` whose canvas is exactly that part
    (so :func:`core.annotations.view.render_view` renders it at the screen's resolution); None when the view
    shows none of the image."""
    h, w = (int(v) for v in image_hw)
    scale = float(view["scale"])
    x0, y0 = max(float(view["x0"]), 0.0), max(float(view["y0"]), 0.0)
    x1 = min(float(view["x0"]) + float(view["width"]) / scale, float(w))
    y1 = min(float(view["y0"]) + float(view["height"]) / scale, float(h))
    if x1 <= x0 or y1 <= y0:
        return None
    cw, ch = max(math.ceil((x1 - x0) * scale - 1e-6), 1), max(math.ceil((y1 - y0) * scale - 1e-6), 1)
    return Viewport((h, w), cw, ch, x0, y0, scale, level_downsamples((h, w), level_shapes))


def whole_image_viewport(image_hw: Sequence[int], level_shapes: Sequence[Sequence[int]] | None = None) -> Viewport:
    """The whole image at full resolution (one canvas pixel per image pixel)."""
    h, w = (int(v) for v in image_hw)
    return Viewport((h, w), w, h, 0.0, 0.0, 1.0, level_downsamples((h, w), level_shapes))
