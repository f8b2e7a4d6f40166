"""Vector shapes in full-resolution image coordinates.

Coordinates are ``[x, y]`` pairs (x = column, y = row) in image pixels, where pixel ``(r, c)`` covers
``[c, c + 1] x [r, r + 1]``: the centre of pixel ``(r, c)`` is ``(c + 0.5, r + 0.5)``. A shape covers a pixel
when it covers the pixel's centre (see :mod:`core.annotations.raster`).

Geometries:

* ``polygon``: a closed ring of at least 3 points (the closing edge is implied, the first point is not
  repeated).
* ``rectangle``: its 4 corners, axis aligned.
* ``brush``: an open polyline of at least 1 point, drawn with round caps and joins of ``stroke_width`` pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import AnnotationError

KIND_ANNOTATION = "annotation"
KIND_ROI = "roi"
KINDS = (KIND_ANNOTATION, KIND_ROI)
GEOMETRIES = ("polygon", "brush", "rectangle")
SOURCES = ("manual", "import", "proposal", "prediction")

_RECORD_FIELDS = ("kind", "geometry", "points", "label_id", "stroke_width", "source")


@dataclass(eq=False)
class ShapeData:
    """One annotation or ROI shape. ``points`` is a float64 array of shape (N, 2) holding ``[x, y]`` rows.
    ``label_id``: an annotation's label; an ROI's class (None for an ROI without a class)."""

    kind: str
    geometry: str
    points: np.ndarray
    label_id: int | None
    stroke_width: float = 0.0
    source: str = "manual"
    id: int | None = None
    _bbox: tuple[float, float, float, float] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.points = _as_points(self.points)
        if self.kind not in KINDS:
            raise AnnotationError(f"shape kind {self.kind!r} is not known; use one of {list(KINDS)}")
        if self.geometry not in GEOMETRIES:
            raise AnnotationError(
                f"shape geometry {self.geometry!r} is not known; use one of {list(GEOMETRIES)}"
            )
        if self.kind == KIND_ANNOTATION and self.label_id is None:
            raise AnnotationError("an annotation shape needs a label_id; pick a label before drawing")
        self.stroke_width = float(self.stroke_width)
        if not np.isfinite(self.stroke_width) or self.stroke_width < 0:
            raise AnnotationError(f"stroke_width must be a finite number >= 0, got {self.stroke_width!r}")

    @property
    def is_roi(self) -> bool:
        return self.kind == KIND_ROI

    def bbox(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` the shape can cover (brush strokes: plus half their width)."""
        if self._bbox is None:
            pad = self.stroke_width / 2 if self.geometry == "brush" else 0.0
            if len(self.points) == 0:
                self._bbox = (0.0, 0.0, 0.0, 0.0)
            else:
                lo = self.points.min(axis=0) - pad
                hi = self.points.max(axis=0) + pad
                self._bbox = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        return self._bbox

    def with_points(self, points: np.ndarray, **changes: Any) -> ShapeData:
        """A copy with other points (and optionally other fields)."""
        values = {
            "kind": self.kind,
            "geometry": self.geometry,
            "points": points,
            "label_id": self.label_id,
            "stroke_width": self.stroke_width,
            "source": self.source,
            "id": self.id,
        }
        values.update(changes)
        return ShapeData(**values)

    def to_record(self) -> dict[str, Any]:
        """Fields of the ``Shape`` table (``id`` only when known); ``points`` as ``[[x, y], ...]`` floats."""
        record: dict[str, Any] = {
            "kind": self.kind,
            "geometry": self.geometry,
            "points": [[float(x), float(y)] for x, y in self.points],
            "label_id": self.label_id,
            "stroke_width": float(self.stroke_width),
            "source": self.source,
        }
        if self.id is not None:
            record["id"] = self.id
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | Any) -> ShapeData:
        """Build from a dict with the ``Shape`` table's fields, or from a ``Shape`` row itself."""
        if isinstance(record, Mapping):
            get = record.get
        else:

            def get(name: str, default: Any = None) -> Any:
                return getattr(record, name, default)

        missing = [name for name in ("kind", "geometry", "points") if get(name) is None]
        if missing:
            raise AnnotationError(
                f"shape record lacks {missing}; a record needs the fields {list(_RECORD_FIELDS)}"
            )
        return cls(
            kind=get("kind"),
            geometry=get("geometry"),
            points=get("points"),
            label_id=get("label_id"),
            stroke_width=get("stroke_width", 0.0) or 0.0,
            source=get("source", "manual") or "manual",
            id=get("id"),
        )


def _as_points(points: Any) -> np.ndarray:
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AnnotationError(
            f"shape points must be numbers [[x, y], ...]; could not read {points!r:.80}"
        ) from exc
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise AnnotationError(
            f"shape points must have shape (N, 2) as [[x, y], ...], got an array of shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise AnnotationError("shape points contain NaN or infinite coordinates; redraw the shape")
    return arr
