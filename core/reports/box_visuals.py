"""Validation visualisations of a detection training: image | true boxes | predicted boxes | TP / FP / FN,
one row per label, in the same frame as the segmentation pictures (:mod:`core.reports.visuals`).

True and predicted boxes are drawn in the label's colour; the last tile draws the predictions matched to a
true box at IoU >= 0.5 green (true positives), the unmatched predictions red (false positives) and the true
boxes no prediction matched blue (false negatives). Tiles are at most ``tile_side`` pixels per side; small
images are enlarged by a whole factor, so that the outlines stay thin against the objects.
"""

from __future__ import annotations

import math

import numpy as np

from core.evaluation.overlay import FN_COLOR, FP_COLOR, TP_COLOR
from core.reports.data import BoxExample
from core.reports.images import downscale_for_report
from core.reports.visuals import MIN_TILE_SIDE, TILE_SIDE, compose_panel

#: outline width in pixels of the tile
LINE_WIDTH = 2


def render_box_panel(
    example: BoxExample, *, label_names: list[str], label_colors: list[str], tile_side: int = TILE_SIDE
) -> np.ndarray:
    """The visualisation of one detection example: uint8 (H, W, 3), titles and a legend included."""
    image = example.image_rgb
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, 2)
    tile, scale = _tile(image, tile_side)
    rows = []
    for k, (name, color) in enumerate(zip(label_names, label_colors, strict=True)):
        truth = np.asarray(example.truth[k], dtype=np.float64).reshape(-1, 4) * scale
        pred = np.asarray(example.pred[k], dtype=np.float64).reshape(-1, 4) * scale
        matched = np.asarray(example.matched[k], dtype=np.int64).reshape(-1)
        missed = np.setdiff1d(np.arange(len(truth)), matched[matched >= 0])
        rgb = _rgb(color)
        comparison = _draw(tile, truth[missed], FN_COLOR)
        comparison = _draw(comparison, pred[matched < 0], FP_COLOR)
        comparison = _draw(comparison, pred[matched >= 0], TP_COLOR)
        rows.append((name, [tile, _draw(tile, truth, rgb), _draw(tile, pred, rgb), comparison]))
    return compose_panel(example.name, rows, instance=True)


def _tile(image: np.ndarray, tile_side: int) -> tuple[np.ndarray, float]:
    """The image at tile size and the factor its boxes are multiplied by."""
    longest = max(image.shape[:2])
    enlarge = min(MIN_TILE_SIDE, tile_side) // longest
    if enlarge > 1:
        return np.repeat(np.repeat(image, enlarge, axis=0), enlarge, axis=1), float(enlarge)
    factor = math.ceil(longest / tile_side)
    return downscale_for_report(image, max_side=tile_side), 1.0 / max(factor, 1)


def _draw(tile: np.ndarray, boxes: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    from core.inference.box_export import draw_boxes  # not at import time: core.inference loads torch

    if len(boxes) == 0:
        return tile
    return draw_boxes(np.ascontiguousarray(tile), boxes, color, width=LINE_WIDTH)


def _rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
