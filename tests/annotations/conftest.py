"""Fixtures of the annotation tests: fabric.js objects as streamlit-drawable-canvas 0.13's tools create them
(read from its frontend bundle), offered as the ``fab`` fixture."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

LOCKS = ("lockMovementX", "lockMovementY", "lockRotation", "lockScalingX", "lockScalingY", "lockSkewingX",
         "lockSkewingY", "lockScalingFlip")


def _common(stroke_width: float) -> dict:
    return {"version": "6.7.1", "originX": "left", "originY": "top", "scaleX": 1, "scaleY": 1, "angle": 0,
            "flipX": False, "flipY": False, "skewX": 0, "skewY": 0, "strokeWidth": stroke_width,
            "strokeUniform": False, **dict.fromkeys(LOCKS, False)}


def rect(start, end, stroke_width=2.0) -> dict:
    """The rect tool: left/top at the smaller corner, size = drag (at least 2 x stroke width)."""
    (sx, sy), (ex, ey) = start, end
    obj = _common(stroke_width)
    obj.update(type="Rect", left=min(sx, ex), top=min(sy, ey), width=max(abs(ex - sx), 2 * stroke_width),
               height=max(abs(ey - sy), 2 * stroke_width), strokeUniform=True, rx=0, ry=0,
               fill="rgba(255, 165, 0, 0.3)", stroke="#000")
    return obj


def polygon(points, stroke_width=2.0) -> dict:
    """The polygon tool: fabric Polygon placed from the bounding box of its points (stroke not scaled)."""
    pts = np.asarray(points, float)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    obj = _common(stroke_width)
    obj.update(type="Polygon", points=[{"x": float(x), "y": float(y)} for x, y in pts],
               left=float(lo[0] - stroke_width / 2), top=float(lo[1] - stroke_width / 2),
               width=float(hi[0] - lo[0]), height=float(hi[1] - lo[1]))
    return obj


def _dense_bounds(path) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the path as fabric computes them (a Q segment as the cubic with doubled control), sampled."""
    pts, cur = [], None
    t = np.linspace(0, 1, 20001)[:, None]
    for cmd in path:
        if cmd[0] == "M":
            cur = np.array(cmd[1:3], float)
            continue
        if cmd[0] == "L":
            nxt = np.array(cmd[1:3], float)
            pts += [cur, nxt]
        else:  # Q
            c, nxt = np.array(cmd[1:3], float), np.array(cmd[3:5], float)
            u = 1 - t
            pts.extend(u**3 * cur + 3 * u * u * t * c + 3 * u * t * t * c + t**3 * nxt)
        cur = nxt
    arr = np.vstack([np.atleast_2d(p) for p in pts])
    return arr.min(axis=0), arr.max(axis=0)


def freedraw(samples, stroke_width=20.0) -> dict:
    """PencilBrush: M, then Q through the mouse samples with mid-point ends, then L (fabric's Mn)."""
    pts = [np.asarray(p, float) for p in samples]
    tiny = stroke_width / 1000
    path = []
    a, b = pts[0], pts[1]
    sign = np.sign(pts[2] - b) if len(pts) > 2 else np.zeros(2)
    path.append(["M", float(a[0] - sign[0] * tiny), float(a[1] - sign[1] * tiny)])
    for k in range(1, len(pts)):
        if not np.array_equal(a, b):
            mid = (a + b) / 2
            path.append(["Q", float(a[0]), float(a[1]), float(mid[0]), float(mid[1])])
        a = pts[k]
        if k + 1 < len(pts):
            b = pts[k + 1]
    last_sign = np.sign(a - pts[-2]) if len(pts) > 2 else np.zeros(2)
    path.append(["L", float(a[0] + last_sign[0] * tiny), float(a[1] + last_sign[1] * tiny)])
    lo, hi = _dense_bounds(path)
    obj = _common(stroke_width)
    obj.update(type="Path", path=path, fill=None, stroke="#f00", strokeLineCap="round",
               strokeLineJoin="round",
               left=float(lo[0] - stroke_width / 2), top=float(lo[1] - stroke_width / 2),
               width=float(hi[0] - lo[0]), height=float(hi[1] - lo[1]))
    return obj


@pytest.fixture
def fab() -> SimpleNamespace:
    return SimpleNamespace(rect=rect, polygon=polygon, freedraw=freedraw, LOCKS=LOCKS)
