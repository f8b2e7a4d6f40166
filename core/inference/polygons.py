"""Label image -> one shapely geometry per object, following pixel edges exactly.

Pixel ``(r, c)`` covers ``[c, c + 1] x [r, r + 1]`` (x = column, y = row), as in
:mod:`core.annotations.shapes`; outlines are traced with
:func:`core.annotations.mask_import.piece_outline`. Each 8-connected piece of an object becomes a polygon
with its holes (background regions 4-separated from the outside) as interior rings; an object of several
pieces becomes a MultiPolygon. Pieces that touch themselves only at a corner are made valid
(:func:`shapely.make_valid`, which splits them at that corner) so the geometries pass OGC validity checks.
Exterior rings are counter-clockwise and holes clockwise in the coordinates as written (RFC 7946), and the
pixels whose centres lie inside a geometry are exactly the object's pixels.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import shapely
from scipy import ndimage as ndi
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

from core.annotations.mask_import import piece_outline

_EIGHT = np.ones((3, 3), dtype=bool)
_FOUR = ndi.generate_binary_structure(2, 1)


def object_geometries(
    labels: np.ndarray, *, origin: tuple[int, int] = (0, 0), only: set[int] | None = None
) -> Iterator[tuple[int, Polygon | MultiPolygon]]:
    """``(object id, geometry)`` for every object of an integer ``(H, W)`` label image, in id order.

    ``origin`` ``(y, x)`` is added to the coordinates (for a window of a larger image); ``only`` restricts the
    objects traced.
    """
    for index, box in enumerate(ndi.find_objects(labels)):
        ident = index + 1
        if box is None or (only is not None and ident not in only):
            continue
        yield (
            ident,
            mask_geometry(labels[box] == ident, origin=(origin[0] + box[0].start, origin[1] + box[1].start)),
        )


def mask_geometry(mask: np.ndarray, *, origin: tuple[int, int] = (0, 0)) -> Polygon | MultiPolygon:
    """The geometry of a bool ``(h, w)`` mask whose top-left pixel is at ``origin`` ``(y, x)``."""
    crop = np.pad(mask, 1)
    pieces, count = ndi.label(crop, structure=_EIGHT)
    polygons: list[Polygon] = []
    for piece in range(1, count + 1):
        polygons.extend(_piece_polygons(pieces == piece))
    shift = np.array([origin[1] - 1, origin[0] - 1], dtype=np.float64)
    moved = [shapely.transform(p, lambda xy: xy + shift) for p in polygons]
    oriented = [orient(p, sign=1.0) for p in moved]
    return oriented[0] if len(oriented) == 1 else MultiPolygon(oriented)


def _piece_polygons(piece: np.ndarray) -> list[Polygon]:
    filled = ndi.binary_fill_holes(piece, structure=_FOUR)
    exterior = piece_outline(filled)
    holes = []
    gaps, n_gaps = ndi.label(filled & ~piece, structure=_FOUR)
    for gap in range(1, n_gaps + 1):
        holes.append(piece_outline(gaps == gap))
    polygon = Polygon(exterior, holes)
    if polygon.is_valid:
        return [polygon]
    return _polygons_of(shapely.make_valid(polygon))


def _polygons_of(geometry: object) -> list[Polygon]:
    """The polygons of a geometry (collection); make_valid may add zero-area lines, which are dropped."""
    if isinstance(geometry, Polygon):
        return [] if geometry.is_empty else [geometry]
    return [p for part in getattr(geometry, "geoms", ()) for p in _polygons_of(part)]


def rasterize(geometry: Polygon | MultiPolygon, shape: tuple[int, int]) -> np.ndarray:
    """bool ``(H, W)``: pixels whose centre lies inside ``geometry`` (inverse of :func:`mask_geometry`)."""
    x0, y0, x1, y1 = geometry.bounds
    r0, c0 = max(int(np.floor(y0)), 0), max(int(np.floor(x0)), 0)
    r1, c1 = min(int(np.ceil(y1)), shape[0]), min(int(np.ceil(x1)), shape[1])
    out = np.zeros(shape, dtype=bool)
    if r0 >= r1 or c0 >= c1:
        return out
    yy, xx = np.mgrid[r0:r1, c0:c1]
    out[r0:r1, c0:c1] = shapely.contains_xy(geometry, xx + 0.5, yy + 0.5)
    return out
