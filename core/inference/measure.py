"""Per-object measurements, streamed block by block, as a dict of columns.

The values are those of :func:`skimage.measure.regionprops_table` for the same objects (the tests check it):
``area``, ``perimeter`` (4-connectivity, skimage's weighted border-pixel count), ``centroid``, ``bbox``
(``y1``/``x1`` exclusive), ``equivalent_diameter`` = sqrt(4 area / pi), ``eccentricity`` (from the second
central moments), ``solidity`` = area / area of the convex hull image, and the mean / min / max intensity of
every channel. They are computed from sums that add up across blocks, so an image of any size is measured
one block (plus a 2-pixel ring for the perimeter) at a time and an object cut by block borders gets exactly
the values of the whole object: counts and moment sums add, minima/maxima combine, perimeter weights are
local, and the convex hull of an object is the hull of the row/column extreme pixels collected per block.

With a pixel size (micrometres per pixel) the columns ``area_um2``, ``perimeter_um``, ``centroid_y_um``,
``centroid_x_um`` and ``equivalent_diameter_um`` are added.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.errors import InvalidInputError
from core.inference.progress import check_stop

BLOCK = 1024
_RING = 2  # the perimeter of a pixel depends on labels up to 2 pixels away
_WEIGHTS = np.zeros(50, dtype=np.float64)
_WEIGHTS[[5, 7, 15, 17, 25, 27]] = 1.0
_WEIGHTS[[21, 33]] = math.sqrt(2)
_WEIGHTS[[13, 23]] = (1 + math.sqrt(2)) / 2
_DIAMOND = np.array([[0, 0.5], [0.5, 0], [0, -0.5], [-0.5, 0]])

LabelReader = Callable[[int, int, int, int], np.ndarray]  # (y, x, h, w) -> (h', w') labels, clipped
ImageReader = Callable[[int, int, int, int], np.ndarray]  # (y, x, h, w) -> (C, h', w') pixels, clipped


def measure_objects(
    labels: np.ndarray,
    image: np.ndarray | None = None,
    *,
    label_name: str = "object",
    pixel_size_um: float | None = None,
    block: int = BLOCK,
) -> dict[str, np.ndarray]:
    """Measure every object of an in-memory label image ``(H, W)`` (0 = background) on ``image``
    ``(C, H, W)`` or ``(H, W)`` (None: no intensity columns). Rows are sorted by object id."""
    labels, image = _check_arrays(labels, image)
    h, w = labels.shape
    read_image = None if image is None else (lambda y, x, hh, ww: image[:, y : y + hh, x : x + ww])
    return measure_streamed(
        lambda y, x, hh, ww: labels[max(y, 0) : y + hh, max(x, 0) : x + ww],
        (h, w),
        read_image,
        channels=0 if image is None else image.shape[0],
        label_name=label_name,
        pixel_size_um=pixel_size_um,
        block=block,
    )


def measure_streamed(
    read_labels: LabelReader,
    shape: tuple[int, int],
    read_image: ImageReader | None,
    *,
    channels: int,
    label_name: str = "object",
    pixel_size_um: float | None = None,
    block: int = BLOCK,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, np.ndarray]:
    """Measure objects read block by block: ``read_labels(y, x, h, w)`` gives integer labels clipped to
    the ``shape`` (H, W) image, ``read_image`` the ``(C, h, w)`` pixels (or None). See the module
    docstring."""
    pixel_size_um = _check_pixel_size(pixel_size_um)
    if isinstance(block, bool) or not isinstance(block, int) or block < 8:
        raise InvalidInputError(f"block={block!r} must be an integer of at least 8 pixels, e.g. 1024")
    height, width = shape
    acc = _Accumulator(channels)
    for y0 in range(0, height, block):
        for x0 in range(0, width, block):
            check_stop(should_stop, "measurement")
            h, w = min(block, height - y0), min(block, width - x0)
            ring = _with_ring(read_labels, y0, x0, h, w, height, width)
            pixels = None if read_image is None else np.asarray(read_image(y0, x0, h, w))
            edges = (y0 > 0, x0 > 0, y0 + h < height, x0 + w < width)
            acc.add_block(ring, pixels, y0, x0, edges, read_labels)
    return acc.columns(label_name, pixel_size_um)


@dataclass
class _Accumulator:
    channels: int
    size: int = 0
    sums: dict[str, np.ndarray] = field(default_factory=dict)
    open_hulls: dict[int, list[np.ndarray]] = field(default_factory=dict)

    _SUM = ("area", "sr", "sc", "srr", "scc", "src", "perimeter", "convex")
    _MIN = ("y0", "x0")
    _MAX = ("y1", "x1")

    def _grow(self, top: int) -> None:
        if top < self.size:
            return
        size = max(top + 1, 2 * self.size, 1024)
        names = list(self._SUM) + [f"isum{c}" for c in range(self.channels)]
        new = {n: np.zeros(size) for n in names}
        new.update(
            {n: np.full(size, np.inf) for n in self._MIN + tuple(f"imin{c}" for c in range(self.channels))}
        )
        new.update(
            {n: np.full(size, -np.inf) for n in self._MAX + tuple(f"imax{c}" for c in range(self.channels))}
        )
        for name, values in self.sums.items():
            new[name][: self.size] = values
        self.sums, self.size = new, size

    def add_block(
        self, ring: np.ndarray, pixels: np.ndarray | None, y0: int, x0: int, edges: tuple, reread: LabelReader
    ) -> None:
        core = ring[_RING:-_RING, _RING:-_RING]
        if not core.any():
            return
        ids, compact = np.unique(core, return_inverse=True)
        compact = compact.reshape(core.shape)
        if ids[0] != 0:
            ids, compact = np.concatenate([[0], ids]), compact + 1
        n = len(ids)
        self._grow(int(ids[-1]))
        s = self.sums
        seen = {
            int(i): tuple(int(s[k][i]) for k in ("y0", "x0", "y1", "x1")) for i in ids[1:] if s["area"][i] > 0
        }
        rows, cols = np.indices(core.shape, dtype=np.float64)
        rows += y0
        cols += x0
        flat = compact.ravel()

        def add(name: str, weights: np.ndarray | None) -> None:
            s[name][ids] += np.bincount(
                flat, weights=None if weights is None else weights.ravel(), minlength=n
            )

        add("area", None)
        add("sr", rows)
        add("sc", cols)
        add("srr", rows * rows)
        add("scc", cols * cols)
        add("src", rows * cols)
        add("perimeter", _perimeter_weights(ring))
        from scipy import ndimage as ndi  # imported on use: pages import core.inference for light things

        boxes = ndi.find_objects(compact)
        for k, box in enumerate(boxes, start=1):
            if box is None:
                continue
            obj = int(ids[k])
            s["y0"][obj] = min(s["y0"][obj], box[0].start + y0)
            s["x0"][obj] = min(s["x0"][obj], box[1].start + x0)
            s["y1"][obj] = max(s["y1"][obj], box[0].stop + y0)
            s["x1"][obj] = max(s["x1"][obj], box[1].stop + x0)
        if pixels is not None:
            index = np.arange(1, n)
            for c in range(self.channels):
                channel = pixels[c]
                add(f"isum{c}", channel.astype(np.float64))
                s[f"imin{c}"][ids[1:]] = np.minimum(
                    s[f"imin{c}"][ids[1:]], ndi.minimum(channel, compact, index)
                )
                s[f"imax{c}"][ids[1:]] = np.maximum(
                    s[f"imax{c}"][ids[1:]], ndi.maximum(channel, compact, index)
                )
        self._hulls(compact, ids, boxes, y0, x0, edges, seen, reread)

    def _hulls(
        self, compact, ids, boxes, y0: int, x0: int, edges: tuple, seen: dict, reread: LabelReader
    ) -> None:
        """Convex areas of objects inside this block; hull vertices of objects that reach other blocks."""
        h, w = compact.shape
        for k, box in enumerate(boxes, start=1):
            if box is None:
                continue
            obj = int(ids[k])
            mask = compact[box] == k
            points = _extreme_points(mask) + np.array([box[0].start + y0, box[1].start + x0])
            touches = (
                (edges[0] and box[0].start == 0)
                or (edges[1] and box[1].start == 0)
                or (edges[2] and box[0].stop == h)
                or (edges[3] and box[1].stop == w)
            )
            if obj in seen and obj not in self.open_hulls:  # a piece of it was closed in an earlier block
                by0, bx0, by1, bx1 = seen[obj]
                earlier = np.asarray(reread(by0, bx0, by1 - by0, bx1 - bx0)) == obj
                self.open_hulls[obj] = [_reduce(_extreme_points(earlier) + np.array([by0, bx0]))]
            if touches or obj in self.open_hulls:
                self.open_hulls.setdefault(obj, []).append(_reduce(points))
            else:
                self.sums["convex"][obj] = _convex_area(points)

    def columns(self, label_name: str, pixel_size_um: float | None) -> dict[str, np.ndarray]:
        for obj, parts in self.open_hulls.items():
            self.sums["convex"][obj] = _convex_area(np.concatenate(parts))
        self.open_hulls = {}
        s = {k: v[: self.size] for k, v in self.sums.items()}
        ids = np.flatnonzero(s["area"] > 0) if self.size else np.zeros(0, dtype=np.int64)
        ids = ids[ids > 0]
        area = s["area"][ids] if self.size else np.zeros(0)
        get = (lambda name: s[name][ids]) if self.size else (lambda name: np.zeros(0))
        cy, cx = get("sr") / area, get("sc") / area
        mu_rr = get("srr") / area - cy * cy
        mu_cc = get("scc") / area - cx * cx
        mu_rc = get("src") / area - cy * cx
        out: dict[str, np.ndarray] = {
            "label": np.full(len(ids), label_name, dtype=object),
            "id": ids.astype(np.int64),
            "area": area.astype(np.int64),
            "perimeter": get("perimeter"),
            "centroid_y": cy,
            "centroid_x": cx,
            "bbox_y0": get("y0").astype(np.int64),
            "bbox_x0": get("x0").astype(np.int64),
            "bbox_y1": get("y1").astype(np.int64),
            "bbox_x1": get("x1").astype(np.int64),
            "equivalent_diameter": np.sqrt(4 * area / np.pi),
            "eccentricity": _eccentricity(mu_rr, mu_cc, mu_rc),
            "solidity": area / get("convex"),
        }
        for c in range(self.channels):
            out[f"mean_intensity_c{c}"] = get(f"isum{c}") / area
            out[f"min_intensity_c{c}"] = get(f"imin{c}")
            out[f"max_intensity_c{c}"] = get(f"imax{c}")
        if pixel_size_um is not None:
            out["area_um2"] = area * pixel_size_um**2
            out["perimeter_um"] = out["perimeter"] * pixel_size_um
            out["centroid_y_um"] = cy * pixel_size_um
            out["centroid_x_um"] = cx * pixel_size_um
            out["equivalent_diameter_um"] = out["equivalent_diameter"] * pixel_size_um
        return out


def _with_ring(
    read_labels: LabelReader, y0: int, x0: int, h: int, w: int, height: int, width: int
) -> np.ndarray:
    """Labels of the block grown by :data:`_RING` on each side, zeros outside the image."""
    out = np.zeros((h + 2 * _RING, w + 2 * _RING), dtype=np.int64)
    ry0, rx0 = max(y0 - _RING, 0), max(x0 - _RING, 0)
    ry1, rx1 = min(y0 + h + _RING, height), min(x0 + w + _RING, width)
    part = np.asarray(read_labels(ry0, rx0, ry1 - ry0, rx1 - rx0))
    out[ry0 - y0 + _RING : ry1 - y0 + _RING, rx0 - x0 + _RING : rx1 - x0 + _RING] = part
    return out


def _perimeter_weights(ring: np.ndarray) -> np.ndarray:
    """Per core pixel, its share of its object's perimeter (skimage.measure.perimeter, 4-connectivity)."""
    lab = ring
    inner = lab[1:-1, 1:-1]  # the core grown by 1 pixel
    cross = [lab[:-2, 1:-1], lab[2:, 1:-1], lab[1:-1, :-2], lab[1:-1, 2:]]
    border = (inner > 0) & np.logical_or.reduce([nb != inner for nb in cross])
    core = inner[1:-1, 1:-1]
    value = border[1:-1, 1:-1].astype(np.int64)
    hh, ww = core.shape
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == dx == 0:
                continue
            weight = 2 if dy == 0 or dx == 0 else 10
            nb_lab = inner[1 + dy : 1 + dy + hh, 1 + dx : 1 + dx + ww]
            nb_border = border[1 + dy : 1 + dy + hh, 1 + dx : 1 + dx + ww]
            value += weight * ((nb_lab == core) & nb_border)
    return np.where(border[1:-1, 1:-1], _WEIGHTS[value], 0.0)


def _extreme_points(mask: np.ndarray) -> np.ndarray:
    """(K, 2) ``(row, col)`` of the first/last pixel of every row and column of a bool mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    first_c = mask[rows].argmax(axis=1)
    last_c = mask.shape[1] - 1 - mask[rows, ::-1].argmax(axis=1)
    cols = np.flatnonzero(mask.any(axis=0))
    first_r = mask[:, cols].argmax(axis=0)
    last_r = mask.shape[0] - 1 - mask[::-1, cols].argmax(axis=0)
    return np.concatenate(
        [
            np.stack([rows, first_c], 1),
            np.stack([rows, last_c], 1),
            np.stack([first_r, cols], 1),
            np.stack([last_r, cols], 1),
        ]
    ).astype(np.float64)


def _reduce(points: np.ndarray) -> np.ndarray:
    """The hull vertices of pixel positions (all of them when collinear): enough to rebuild the hull."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        return points[ConvexHull(points).vertices]
    except QhullError:
        return points


def _hull_vertices(points: np.ndarray) -> np.ndarray:
    """Vertices of the hull of the pixels' edge midpoints (what skimage's convex_hull_image uses)."""
    from scipy.spatial import ConvexHull

    coords = np.unique((points[:, None, :] + _DIAMOND).reshape(-1, 2), axis=0)
    return coords[ConvexHull(coords).vertices]


def _convex_area(points: np.ndarray) -> float:
    """Pixel count of skimage's convex hull image of pixels whose extremes are ``points`` (row, col)."""
    from skimage.measure import grid_points_in_poly

    vertices = _hull_vertices(points)
    lo = np.floor(vertices.min(axis=0)).astype(np.int64)
    hi = np.ceil(vertices.max(axis=0)).astype(np.int64)
    grid = grid_points_in_poly(tuple(int(v) for v in hi - lo + 1), vertices - lo, binarize=False)
    return float(np.count_nonzero(grid >= 1))


def _eccentricity(mu_rr: np.ndarray, mu_cc: np.ndarray, mu_rc: np.ndarray) -> np.ndarray:
    half_trace = (mu_rr + mu_cc) / 2
    root = np.sqrt(((mu_rr - mu_cc) / 2) ** 2 + mu_rc**2)
    l1 = np.maximum(half_trace + root, 0)
    l2 = np.maximum(half_trace - root, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ecc = np.sqrt(np.clip(1 - l2 / l1, 0, 1))
    return np.where(l1 > 0, ecc, 0.0)


def _check_pixel_size(value: float | None) -> float | None:
    if value is None:
        return None
    try:
        size = float(value)
    except (TypeError, ValueError):
        size = float("nan")
    if not math.isfinite(size) or size <= 0:
        raise InvalidInputError(f"pixel_size_um={value!r} must be a positive number of micrometres, or None")
    return size


def _check_arrays(labels: object, image: object) -> tuple[np.ndarray, np.ndarray | None]:
    lab = np.asarray(labels)
    if lab.ndim != 2 or not (np.issubdtype(lab.dtype, np.integer) or lab.dtype == bool):
        raise InvalidInputError(
            f"labels must be an integer (H, W) label image, got {lab.dtype} {lab.shape}; "
            "label a mask first (core.evaluation.postprocess.label_components)"
        )
    if lab.size and lab.min() < 0:
        raise InvalidInputError(f"labels must be >= 0 (0 = background), found {int(lab.min())}")
    if image is None:
        return lab, None
    img = np.asarray(image)
    img = img[None] if img.ndim == 2 else img
    if img.ndim != 3 or img.shape[1:] != lab.shape:
        raise InvalidInputError(
            f"image of shape {np.shape(image)} does not cover the labels of shape {lab.shape}; "
            "pass the (C, H, W) image the labels were predicted on"
        )
    return lab, img
