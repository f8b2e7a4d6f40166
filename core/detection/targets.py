"""Network targets of object detection, "objects as points" (Zhou et al. 2019, CenterNet) on the engine's
U-Net at full patch resolution: per label a heat map with a Gaussian peak of 1 at each object's centre, and
for every label together the object's height and width (log pixels) around its centre.

Ground truth arrives as the engine's label planes: per label an int32 plane in which each box is painted as
a filled rectangle of its own id, larger boxes first so that smaller ones lie on top (flips, 90-degree
turns and the working scale move them with the pixels). A box is read back as the bounding box of its
pixels, which is exact unless other boxes cover a whole side strip of it (1.6 % of the BCCD blood-cell
boxes lose more than 10 % of their area that way). Validation scores exact boxes
(:attr:`~core.training.sources.TrainingImage.object_boxes`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

#: Gaussian spread of a centre's peak per unit of box side (TTFNet's alpha 0.54 over 6): elongated boxes get
#: elongated peaks, and a peak's spread grows with its object
SIGMA_PER_SIDE = 0.09
MIN_SIGMA = 0.8  # pixels: the smallest boxes still get a peak wider than one pixel
#: box sizes are learnt where the owning peak is at least this high (the middle of the box)
SIZE_AREA = 0.3


def paint_boxes(boxes: Sequence[tuple[int, int, int, int]], shape: tuple[int, int]) -> np.ndarray:
    """int32 ``shape`` plane of ``boxes`` ``(y0, x0, y1, x1)`` (ends exclusive, already in the plane's
    pixels), box ``k`` painted with id ``k + 1``, the largest first so that smaller boxes lie on top."""
    out = np.zeros(shape, dtype=np.int32)
    areas = [(y1 - y0) * (x1 - x0) for y0, x0, y1, x1 in boxes]
    order = sorted(range(len(boxes)), key=lambda k: -areas[k])
    for k in order:
        y0, x0, y1, x1 = boxes[k]
        out[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = k + 1
    return out


def plane_boxes(plane: np.ndarray) -> np.ndarray:
    """float64 ``(N, 4)`` ``[x_min, y_min, x_max, y_max]`` of the ids of an int plane (bounding boxes of
    their pixels; ends exclusive)."""
    slices = [sl for sl in ndi.find_objects(plane) if sl is not None]
    out = [(sl[1].start, sl[0].start, sl[1].stop, sl[0].stop) for sl in slices]
    return np.asarray(out, dtype=np.float64).reshape(-1, 4)


def centre_targets(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Targets of one patch from its painted planes ``(L, P, P)``.

    ``heat`` float32 ``(L, P, P)``: the maximum of the objects' Gaussians, exactly 1 at each object's centre
    pixel; ``size`` float32 ``(2, P, P)``: log height and log width of the object whose peak is highest
    there; ``size_weight`` float32 ``(P, P)``: that peak's height where it is at least :data:`SIZE_AREA`,
    else 0 (where sizes are learnt).
    """
    n, h, w = labels.shape
    heat = np.zeros((n, h, w), dtype=np.float32)
    size = np.zeros((2, h, w), dtype=np.float32)
    weight = np.zeros((h, w), dtype=np.float32)
    for index in range(n):
        for x0, y0, x1, y1 in plane_boxes(labels[index]):
            bh, bw = y1 - y0, x1 - x0
            cy, cx = (y0 + y1 - 1) / 2.0, (x0 + x1 - 1) / 2.0
            sy, sx = max(MIN_SIGMA, SIGMA_PER_SIDE * bh), max(MIN_SIGMA, SIGMA_PER_SIDE * bw)
            ry, rx = int(np.ceil(3 * sy)), int(np.ceil(3 * sx))
            py, px = int(np.rint(cy)), int(np.rint(cx))
            ya, yb = max(py - ry, 0), min(py + ry + 1, h)
            xa, xb = max(px - rx, 0), min(px + rx + 1, w)
            if ya >= yb or xa >= xb:
                continue
            gy = np.exp(-((np.arange(ya, yb) - cy) ** 2) / (2 * sy * sy))
            gx = np.exp(-((np.arange(xa, xb) - cx) ** 2) / (2 * sx * sx))
            g = (gy[:, None] * gx[None, :]).astype(np.float32)
            if ya <= py < yb and xa <= px < xb:
                g[py - ya, px - xa] = 1.0
            patch = heat[index, ya:yb, xa:xb]
            np.maximum(patch, g, out=patch)
            owner = (g >= SIZE_AREA) & (g > weight[ya:yb, xa:xb])
            weight[ya:yb, xa:xb][owner] = g[owner]
            size[0, ya:yb, xa:xb][owner] = np.log(bh)
            size[1, ya:yb, xa:xb][owner] = np.log(bw)
    return {"heat": heat, "size": size, "size_weight": weight}
