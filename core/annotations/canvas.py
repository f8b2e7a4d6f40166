"""streamlit-drawable-canvas 0.13 JSON <-> shapes in image coordinates.

What the canvas returns (``st_canvas(...).json_data``, fabric.js 6 ``canvas.toObject([lock properties])``):
``{"version": ..., "objects": [...]}`` in canvas pixels, one object per drawn item, in drawing order:

* ``drawing_mode="polygon"``: ``{"type": "Polygon", "points": [{"x", "y"}, ...], "left", "top", ...}`` with
  the points in canvas coordinates (sent once the polygon is closed on its first vertex, >= 3 points).
* ``drawing_mode="freedraw"``: ``{"type": "Path", "path": [["M", x, y], ["Q", cx, cy, x, y], ...,
  ["L", x, y]], "strokeWidth": w, ...}`` (fabric's PencilBrush: quadratic segments through the mouse
  samples).
* ``drawing_mode="rect"``: ``{"type": "Rect", "left", "top", "width", "height", "scaleX", "scaleY",
  "strokeWidth", "originX": "left", "originY": "top", ...}`` where ``left/top`` is the corner where the drag
  started (the smaller one) and ``width/height`` the dragged size (at least twice the stroke width).

Objects moved, scaled or rotated with the toolbar's edit toggle keep their raw geometry and get ``left``,
``top``, ``scaleX``, ``scaleY``, ``angle``, ``flipX/Y``, ``skewX/Y``; the fabric object transform is applied
here, so edited objects map correctly too. A rectangle is the box the user dragged (``left``/``top`` and
``width * scaleX`` x ``height * scaleY``, the convention of the library's own ``CanvasResult.boxes``); a
rotated rectangle becomes a polygon.

Existing versus new objects: fabric drops unknown properties, but the lock properties
(``lockMovementX`` ...) are serialised by this canvas. :func:`shapes_to_canvas` sets them all on the objects
it emits (which also makes existing shapes immovable on the canvas), so an object with ``lockMovementX: true``
is an existing shape and every other object was drawn by the user. (Index order is not used: the edit toggle
can delete or reorder objects.)

``initial_drawing`` accepted: a dict ``{"objects": [...]}`` of fabric objects, loaded with
``canvas.loadFromJSON``. Polygons and brush paths are emitted without ``left``/``top`` so that fabric places
them from their own points (exactly), rectangles as polygons of their 4 corners.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.annotations.fabric import object_geometry, stroke_scale
from core.annotations.shapes import KIND_ROI, KINDS, ShapeData
from core.annotations.viewport import Viewport
from core.errors import AnnotationError

LOCKS = (
    "lockMovementX",
    "lockMovementY",
    "lockRotation",
    "lockScalingX",
    "lockScalingY",
    "lockSkewingX",
    "lockSkewingY",
    "lockScalingFlip",
)


# ----------------------------------------------------------------------------------------------
# canvas -> shapes


def is_existing(obj: Mapping[str, Any]) -> bool:
    """True for objects emitted by :func:`shapes_to_canvas` (they carry ``lockMovementX: true``)."""
    return obj.get("lockMovementX") is True


def new_objects(json_data: Mapping[str, Any] | None, *, known: int | None = None) -> list[dict[str, Any]]:
    """The objects the user drew: not marked existing, and (when ``known`` is given) not among the first
    ``known`` objects."""
    if not json_data:
        return []
    objects = json_data.get("objects") or []
    if not isinstance(objects, list):
        raise AnnotationError(f"canvas json_data['objects'] must be a list, got {type(objects).__name__}")
    start = known or 0
    return [o for k, o in enumerate(objects) if k >= start and isinstance(o, dict) and not is_existing(o)]


def object_fingerprint(obj: Mapping[str, Any]) -> str:
    """A stable text that tells one drawn object from another (its type, geometry and placement), so that a
    canvas kept on the page across reruns can report each new object once: the caller remembers the
    fingerprints it stored and skips them."""
    fields = {k: obj.get(k) for k in ("type", "path", "points", "left", "top", "width", "height", "angle")}
    return json.dumps(fields, sort_keys=True, default=str)


def unseen_objects(json_data: Mapping[str, Any] | None, seen: Iterable[str]) -> list[dict[str, Any]]:
    """The objects the user drew (see :func:`new_objects`) whose fingerprints are not in ``seen``."""
    known = set(seen)
    return [o for o in new_objects(json_data) if object_fingerprint(o) not in known]


def canvas_to_shapes(
    json_data: Mapping[str, Any] | None,
    viewport: Viewport,
    *,
    kind: str,
    label_id: int | None,
    known: int | None = None,
) -> list[ShapeData]:
    """The new objects drawn on the canvas as shapes in image coordinates (not yet validated or clipped:
    pass them through :func:`core.annotations.clean.clean_shapes` with ``viewport.image_hw``).

    Freedraw paths become ``brush`` shapes with their stroke width converted to image pixels, rects
    ``rectangle`` (4 corners), polygons ``polygon``. ``kind`` is ``"annotation"`` (needs ``label_id``) or
    ``"roi"``. ``known``: also skip the first ``known`` objects (for drawings not built by
    :func:`shapes_to_canvas`).
    """
    if kind not in KINDS:
        raise AnnotationError(f"kind {kind!r} is not known; use one of {list(KINDS)}")
    shapes: list[ShapeData] = []
    for obj in new_objects(json_data, known=known):
        geometry, canvas_pts, stroke = object_geometry(obj)
        image_pts = viewport.canvas_to_image(canvas_pts)
        width = stroke * stroke_scale(obj) / viewport.scale if geometry == "brush" else 0.0
        shapes.append(
            ShapeData(
                kind=kind,
                geometry=geometry,
                points=image_pts,
                label_id=None if kind == KIND_ROI else label_id,
                stroke_width=width,
            )
        )
    return shapes


# ----------------------------------------------------------------------------------------------
# shapes -> canvas


def _rgba(color: str, alpha: float) -> str:
    text = color.strip().lstrip("#")
    if len(text) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in text):
        raise AnnotationError(f"colour {color!r} is not a '#rrggbb' hex colour")
    r, g, b = (int(text[k : k + 2], 16) for k in (0, 2, 4))
    return f"rgba({r}, {g}, {b}, {alpha:g})"


def shapes_in_view(shapes: Sequence[ShapeData], viewport: Viewport) -> list[int]:
    """Indices of the shapes whose bounds intersect the view."""
    bx0, by0 = viewport.x0, viewport.y0
    bx1, by1 = bx0 + viewport.view_w, by0 + viewport.view_h
    out = []
    for k, s in enumerate(shapes):
        x0, y0, x1, y1 = s.bbox()
        if x1 >= bx0 and x0 <= bx1 and y1 >= by0 and y0 <= by1:
            out.append(k)
    return out


def shapes_to_canvas(
    shapes: Sequence[ShapeData],
    viewport: Viewport,
    colors: Mapping[int, str],
    *,
    roi_color: str = "#ffd700",
    fill_alpha: float = 0.25,
    line_width: float = 2.0,
    dash: Sequence[float] = (8.0, 6.0),
) -> dict[str, Any]:
    """``initial_drawing`` showing the shapes in view in their label colours (ROIs dashed, unfilled).

    Objects come in the order of ``shapes_in_view(shapes, viewport)``; they are locked and not selectable
    (see the module notes). ``colors`` maps label ids to ``"#rrggbb"``.
    """
    objects: list[dict[str, Any]] = []
    locks = dict.fromkeys(LOCKS, True)
    for k in shapes_in_view(shapes, viewport):
        shape = shapes[k]
        if shape.is_roi:
            stroke, fill, dash_array = roi_color, "rgba(0, 0, 0, 0)", list(dash)
        else:
            if shape.label_id not in colors:
                raise AnnotationError(
                    f"no colour for label id {shape.label_id}; known label ids: {sorted(colors)}"
                )
            stroke, fill, dash_array = colors[shape.label_id], _rgba(colors[shape.label_id], fill_alpha), None
        pts = viewport.image_to_canvas(shape.points)
        common: dict[str, Any] = {
            "stroke": stroke,
            "strokeDashArray": dash_array,
            "selectable": False,
            "evented": False,
            **locks,
        }
        if shape.geometry == "brush":
            path = [["M", float(pts[0, 0]), float(pts[0, 1])]]
            path += [["L", float(x), float(y)] for x, y in pts[1:]]
            if len(pts) == 1:
                path.append(["L", float(pts[0, 0]), float(pts[0, 1])])
            color = stroke if not shape.is_roi else roi_color
            objects.append(
                {
                    "type": "Path",
                    "path": path,
                    **common,
                    "stroke": _rgba(color, 0.6) if not shape.is_roi else color,
                    "fill": None,
                    "strokeWidth": max(shape.stroke_width * viewport.scale, 1.0),
                    "strokeLineCap": "round",
                    "strokeLineJoin": "round",
                }
            )
        else:
            objects.append(
                {
                    "type": "Polygon",
                    "points": [{"x": float(x), "y": float(y)} for x, y in pts],
                    **common,
                    "fill": fill,
                    "strokeWidth": line_width,
                }
            )
    return {"version": "6.0.0", "objects": objects}
