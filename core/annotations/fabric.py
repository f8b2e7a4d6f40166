"""fabric.js 6 objects (as serialised by streamlit-drawable-canvas 0.13) -> points in canvas coordinates.

Implements the parts of fabric's object model the canvas tools produce: the own transform of an object
(``calcOwnMatrix``: centre from ``left``/``top``/origin and the transformed size, then rotation, scale, flips
and skews), the ``pathOffset`` of paths (the centre of fabric's path bounds) and of polygons (the centre of
their points' bounds), and the flattening of path curves (Q/C commands) into polylines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.errors import AnnotationError

_ORIGIN = {"left": 0.0, "top": 0.0, "center": 0.5, "right": 1.0, "bottom": 1.0}
_BEZIER_STEPS = 4  # line segments per quadratic/cubic path segment


def _num(obj: Mapping[str, Any], name: str, default: float) -> float:
    value = obj.get(name, default)
    if value is None:
        return default
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise AnnotationError(f"canvas object field {name!r} must be a number, got {value!r}") from exc
    if not math.isfinite(out):
        raise AnnotationError(f"canvas object field {name!r} is not finite: {value!r}")
    return out


def _object_matrix(obj: Mapping[str, Any], width: float, height: float, stroke: float) -> np.ndarray:
    """fabric's ``calcOwnMatrix`` (3x3) mapping object-local points (centred at 0) to canvas coordinates.

    The centre comes from ``left``/``top`` and the origin through fabric's transformed size (size plus stroke,
    scaled; the stroke unscaled when ``strokeUniform``), rotated about ``left``/``top`` by ``angle``.
    """
    sx, sy = _num(obj, "scaleX", 1.0), _num(obj, "scaleY", 1.0)
    angle = math.radians(_num(obj, "angle", 0.0))
    skew_x = np.array([[1.0, math.tan(math.radians(_num(obj, "skewX", 0.0)))], [0.0, 1.0]])
    skew_y = np.array([[1.0, 0.0], [math.tan(math.radians(_num(obj, "skewY", 0.0))), 1.0]])
    fx = -1.0 if obj.get("flipX") else 1.0
    fy = -1.0 if obj.get("flipY") else 1.0
    uniform = bool(obj.get("strokeUniform"))
    bw, bh = (width, height) if uniform else (width + stroke, height + stroke)
    size_matrix = np.diag([sx, sy]) @ skew_x @ skew_y
    corners = np.array([[0.0, 0.0], [bw, 0.0], [bw, bh], [0.0, bh]]) @ size_matrix.T
    tw, th = np.ptp(corners[:, 0]), np.ptp(corners[:, 1])
    if uniform:
        tw, th = tw + stroke, th + stroke
    ox = _ORIGIN.get(str(obj.get("originX", "left")), 0.0)
    oy = _ORIGIN.get(str(obj.get("originY", "top")), 0.0)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    anchor = np.array([_num(obj, "left", 0.0), _num(obj, "top", 0.0)])
    center = anchor + rot @ np.array([(0.5 - ox) * tw, (0.5 - oy) * th])
    m = np.eye(3)
    m[:2, :2] = rot @ np.diag([sx * fx, sy * fy]) @ skew_x @ skew_y
    m[:2, 2] = center
    return m


def _apply(m: np.ndarray, local: np.ndarray) -> np.ndarray:
    return local @ m[:2, :2].T + m[:2, 2]


def _bbox_center(points: np.ndarray) -> np.ndarray:
    return (points.min(axis=0) + points.max(axis=0)) / 2


def _flatten_path(path: Any) -> tuple[np.ndarray, bool]:
    """fabric path commands (absolute M/L/Q/C/Z) -> polyline points and whether it was closed."""
    if not isinstance(path, list) or not path:
        raise AnnotationError("a canvas Path object has no 'path' commands")
    pts: list[tuple[float, float]] = []
    closed = False
    cur = (0.0, 0.0)
    start = cur
    steps = np.linspace(0.0, 1.0, _BEZIER_STEPS + 1)[1:]
    for cmd in path:
        if not isinstance(cmd, list) or not cmd:
            raise AnnotationError(f"malformed canvas path command {cmd!r}")
        op, args = str(cmd[0]).upper(), [float(v) for v in cmd[1:]]
        if op == "M" and len(args) == 2:
            cur = start = (args[0], args[1])
            pts.append(cur)
        elif op == "L" and len(args) == 2:
            cur = (args[0], args[1])
            pts.append(cur)
        elif op == "Q" and len(args) == 4:
            (x0, y0), (cx, cy), (x1, y1) = cur, args[:2], args[2:]
            for t in steps:
                a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t * t
                pts.append((a * x0 + b * cx + c * x1, a * y0 + b * cy + c * y1))
            cur = (x1, y1)
        elif op == "C" and len(args) == 6:
            (x0, y0), (ax, ay), (bx, by), (x1, y1) = cur, args[:2], args[2:4], args[4:]
            for t in steps:
                a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t**3
                pts.append((a * x0 + b * ax + c * bx + d * x1, a * y0 + b * ay + c * by + d * y1))
            cur = (x1, y1)
        elif op == "Z" and not args:
            closed = True
            cur = start
        else:
            raise AnnotationError(f"canvas path command {cmd!r} is not supported (known: M, L, Q, C, Z)")
    return np.asarray(pts, dtype=np.float64).reshape(-1, 2), closed


def object_geometry(obj: Mapping[str, Any]) -> tuple[str, np.ndarray, float]:
    """(geometry, canvas points, stroke width in canvas pixels) of one fabric object."""
    kind = str(obj.get("type", "")).lower()
    stroke = _num(obj, "strokeWidth", 1.0)
    if kind in ("rect", "labeledrect"):
        width, height = _num(obj, "width", 0.0), _num(obj, "height", 0.0)
        m = _object_matrix(obj, width, height, 0.0)  # the dragged box: the stroke is not part of it
        hw, hh = width / 2, height / 2
        local = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
        corners = _apply(m, local)
        axis_aligned = abs(m[0, 1]) < 1e-12 and abs(m[1, 0]) < 1e-12
        return ("rectangle" if axis_aligned else "polygon"), corners, stroke
    if kind in ("polygon", "polyline"):
        raw = obj.get("points")
        if not isinstance(raw, list):
            raise AnnotationError("a canvas Polygon object has no 'points' list")
        try:
            pts = np.array([[float(p["x"]), float(p["y"])] for p in raw], dtype=np.float64).reshape(-1, 2)
        except (KeyError, TypeError, ValueError) as exc:
            raise AnnotationError(
                f"canvas polygon points must be {{'x', 'y'}} objects, got {raw[:3]!r}"
            ) from exc
        if len(pts) == 0:
            return "polygon", pts, stroke
        offset = _bbox_center(pts)
        w, h = np.ptp(pts, axis=0)
        canvas_pts = _apply(_object_matrix(obj, float(w), float(h), stroke), pts - offset)
        return ("polygon" if kind == "polygon" else "brush"), canvas_pts, stroke
    if kind == "path":
        pts, closed = _flatten_path(obj.get("path"))
        if len(pts) == 0:
            return "brush", pts, stroke
        bounds = _path_bounds(obj["path"])  # fabric's pathOffset is the centre of these bounds
        offset = _bbox_center(bounds)
        w, h = np.ptp(bounds, axis=0)
        canvas_pts = _apply(_object_matrix(obj, float(w), float(h), stroke), pts - offset)
        return ("polygon" if closed else "brush"), canvas_pts, stroke
    raise AnnotationError(
        f"canvas object type {obj.get('type')!r} cannot be stored as a shape; draw with the polygon, "
        "freedraw (brush) or rect tools (known types: Polygon, Path, Rect)"
    )


def _cubic_extrema(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray) -> list[np.ndarray]:
    """Points of a cubic Bezier where x or y is extreme (fabric's ``getBoundsOfCurve``), ends included."""
    out = [p0, p3]
    for axis in (0, 1):
        a0, a1, a2, a3 = p0[axis], p1[axis], p2[axis], p3[axis]
        # derivative / 3 = A t^2 + B t + C
        qa, qb, qc = -a0 + 3 * a1 - 3 * a2 + a3, 2 * (a0 - 2 * a1 + a2), a1 - a0
        roots: list[float] = []
        if abs(qa) < 1e-12:
            if abs(qb) > 1e-12:
                roots.append(-qc / qb)
        else:
            disc = qb * qb - 4 * qa * qc
            if disc >= 0:
                sq = math.sqrt(disc)
                roots += [(-qb + sq) / (2 * qa), (-qb - sq) / (2 * qa)]
        for t in roots:
            if 0 < t < 1:
                u = 1 - t
                out.append(u**3 * p0 + 3 * u * u * t * p1 + 3 * u * t * t * p2 + t**3 * p3)
    return out


def _path_bounds(path: list[Any]) -> np.ndarray:
    """The points whose bounding box is fabric's ``_calcBoundsFromPath`` (a Q segment is bounded as the cubic
    with both control points at the quadratic's control point, exactly as fabric does)."""
    pts: list[np.ndarray] = []
    cur = start = np.zeros(2)
    for cmd in path:
        op, args = str(cmd[0]).upper(), np.asarray(cmd[1:], dtype=np.float64)
        if op == "M":
            cur = start = args[:2]
        elif op == "L":
            pts += [cur, args[:2]]
            cur = args[:2]
        elif op == "Q":
            pts += _cubic_extrema(cur, args[:2], args[:2], args[2:4])
            cur = args[2:4]
        elif op == "C":
            pts += _cubic_extrema(cur, args[:2], args[2:4], args[4:6])
            cur = args[4:6]
        elif op == "Z":
            cur = start
    if not pts:  # a lone "M": fabric's bounds are empty at the origin
        return np.zeros((1, 2))
    return np.vstack(pts)


def stroke_scale(obj: Mapping[str, Any]) -> float:
    """How much the object's transform scales its stroke (geometric mean of |scaleX| and |scaleY|)."""
    if obj.get("strokeUniform"):
        return 1.0
    return math.sqrt(abs(_num(obj, "scaleX", 1.0) * _num(obj, "scaleY", 1.0)))
