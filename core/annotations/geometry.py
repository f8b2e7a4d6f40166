"""Plane geometry on point arrays of shape (N, 2) (``[x, y]`` rows): area, self-crossings, clipping.

Pure numpy; used by :mod:`core.annotations.clean` to validate and repair shapes.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 256  # rows of the pairwise crossing test computed at once


def polygon_area(ring: np.ndarray) -> float:
    """Signed area of a closed ring (shoelace formula; positive when clockwise on screen, y down)."""
    if len(ring) < 3:
        return 0.0
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def drop_repeats(ring: np.ndarray, *, closed: bool = True) -> np.ndarray:
    """Remove consecutive duplicate points (and the closing duplicate of a closed ring)."""
    if len(ring) < 2:
        return ring
    keep = np.ones(len(ring), dtype=bool)
    keep[1:] = np.any(ring[1:] != ring[:-1], axis=1)
    ring = ring[keep]
    if closed and len(ring) > 1 and np.all(ring[0] == ring[-1]):
        ring = ring[:-1]
    return ring


def _orient(
    ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray, cx: np.ndarray, cy: np.ndarray
) -> np.ndarray:
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


def first_crossing(ring: np.ndarray) -> tuple[int, int, np.ndarray] | None:
    """The first pair of edges of a closed ring that cross properly, as ``(i, j, point)`` with ``i < j``.

    Edge ``k`` joins point ``k`` to point ``k + 1`` (the last edge closes the ring). Only proper crossings
    count (the two edges' interiors cross); edges that merely touch at a vertex or run along each other do
    not, so pixel-edge outlines touching at a corner are valid. ``None`` when the ring is simple in that
    sense.
    """
    n = len(ring)
    if n < 4:
        return None
    p = ring
    q = np.roll(ring, -1, axis=0)
    px, py, qx, qy = p[:, 0], p[:, 1], q[:, 0], q[:, 1]
    lo_x, hi_x = np.minimum(px, qx), np.maximum(px, qx)
    lo_y, hi_y = np.minimum(py, qy), np.maximum(py, qy)
    idx = np.arange(n)
    for start in range(0, n, _CHUNK):
        i = idx[start : start + _CHUNK, None]
        j = idx[None, :]
        cand = (j > i + 1) & ~((i == 0) & (j == n - 1))
        cand &= (lo_x[i] <= hi_x[j]) & (lo_x[j] <= hi_x[i]) & (lo_y[i] <= hi_y[j]) & (lo_y[j] <= hi_y[i])
        if not cand.any():
            continue
        ii, jj = np.nonzero(cand)
        ii = ii + start
        o1 = _orient(px[ii], py[ii], qx[ii], qy[ii], px[jj], py[jj])
        o2 = _orient(px[ii], py[ii], qx[ii], qy[ii], qx[jj], qy[jj])
        o3 = _orient(px[jj], py[jj], qx[jj], qy[jj], px[ii], py[ii])
        o4 = _orient(px[jj], py[jj], qx[jj], qy[jj], qx[ii], qy[ii])
        hit = (o1 * o2 < 0) & (o3 * o4 < 0)
        if hit.any():
            k = int(np.flatnonzero(hit)[0])  # nonzero is row-major: smallest i, then smallest j
            a, b = int(ii[k]), int(jj[k])
            t = o3[k] / (o3[k] - o4[k])  # where along edge a the edge b crosses
            point = p[a] + t * (q[a] - p[a])
            return a, b, point
    return None


def split_at_crossings(ring: np.ndarray) -> list[np.ndarray]:
    """Split a closed ring at its proper self-crossings into simple rings (each >= 3 points, area > 0).

    At a crossing of edges ``i < j`` in point ``P`` the ring ``v0..v(n-1)`` becomes ``P, v(i+1)..v(j)`` and
    ``v0..v(i), P, v(j+1)..v(n-1)``; both are split again until no crossing is left. A figure-8 gives its two
    lobes; a small accidental loop at the end of a hand-drawn outline gives the outline and the small loop.
    """
    out: list[np.ndarray] = []
    stack = [drop_repeats(ring)]
    while stack:
        current = stack.pop()
        if len(current) < 3:
            continue
        hit = first_crossing(current)
        if hit is None:
            if abs(polygon_area(current)) > 0:
                out.append(current)
            continue
        i, j, point = hit
        loop_a = np.vstack([point[None, :], current[i + 1 : j + 1]])
        loop_b = np.vstack([current[: i + 1], point[None, :], current[j + 1 :]])
        stack.append(drop_repeats(loop_a))
        stack.append(drop_repeats(loop_b))
    return out


def clip_ring_to_box(ring: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Clip a closed ring to the box ``[x0, x1] x [y0, y1]`` (Sutherland-Hodgman; the box is convex).

    A concave ring that leaves the box and comes back keeps zero-width edges along the box border; they cover
    no area and rasterise to nothing. Returns an (M, 2) array, possibly with fewer than 3 points.
    """
    pts = ring
    for axis, bound, keep_greater in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        if len(pts) == 0:
            break
        coord = pts[:, axis]
        inside = coord >= bound if keep_greater else coord <= bound
        if inside.all():
            continue
        prev = np.roll(pts, 1, axis=0)
        prev_inside = np.roll(inside, 1)
        result: list[np.ndarray] = []
        for k in range(len(pts)):
            cur, before = pts[k], prev[k]
            if inside[k] != prev_inside[k]:
                t = (bound - before[axis]) / (cur[axis] - before[axis])
                cross = before + t * (cur - before)
                cross[axis] = bound
                result.append(cross)
            if inside[k]:
                result.append(cur)
        pts = np.asarray(result, dtype=np.float64).reshape(-1, 2)
    return drop_repeats(pts)


def _segment_box_params(
    p: np.ndarray, q: np.ndarray, box: tuple[float, float, float, float]
) -> tuple[float, float] | None:
    """Liang-Barsky: the parameter range ``[t0, t1]`` of segment p->q inside the box, or None."""
    x0, y0, x1, y1 = box
    d = q - p
    t0, t1 = 0.0, 1.0
    for denom, num in ((-d[0], p[0] - x0), (d[0], x1 - p[0]), (-d[1], p[1] - y0), (d[1], y1 - p[1])):
        if denom == 0:
            if num < 0:
                return None
            continue
        t = num / denom
        if denom < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    return t0, t1


def trim_polyline_to_box(points: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """Cut the leading and trailing parts of an open polyline that lie outside ``box = (x0, y0, x1, y1)``.

    Excursions out of the box in the middle of the polyline are kept (cutting them would split one stroke into
    several). ``None`` when no part of the polyline touches the box.
    """
    x0, y0, x1, y1 = box
    if len(points) == 1:
        x, y = points[0]
        return points if (x0 <= x <= x1 and y0 <= y <= y1) else None
    params = [_segment_box_params(points[k], points[k + 1], box) for k in range(len(points) - 1)]
    touching = [k for k, prm in enumerate(params) if prm is not None]
    if not touching:
        return None
    first, last = touching[0], touching[-1]
    t_start = params[first][0]  # type: ignore[index]
    t_end = params[last][1]  # type: ignore[index]
    start = points[first] + t_start * (points[first + 1] - points[first])
    end = points[last] + t_end * (points[last + 1] - points[last])
    middle = points[first + 1 : last + 1]
    return drop_repeats(np.vstack([start[None, :], middle, end[None, :]]), closed=False)
