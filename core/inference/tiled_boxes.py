"""Tiled prediction of an image of any size to boxes (a detection model): boxes with labels and scores.

:func:`predict_boxes` walks the same :class:`~core.inference.grid.Grid` of network tiles as
:func:`~core.inference.tiled.predict_image`, with the same region reads, the same normalisation (the card's
record resolved once for the whole image) and the same :class:`~core.inference.predictor.Predictor`:

1. each tile's maps cover its window (its core and a ``halo`` on every side); each label's heat-map peaks
   in the window (local maxima as :func:`core.detection.decode.peaks` finds them, but all of them, no cap
   per image) at or above the label's ``score_threshold`` are decoded to boxes, the sides read from the
   size maps at the peak, and clipped to the image; boxes overlapping a higher-scoring one by more than the
   label's ``nms_iou`` are dropped, as the validation decoded them (:func:`core.detection.decode.
   label_boxes`; a box below the threshold could only suppress boxes below it); the tile keeps the boxes
   centred in its **core** (:func:`core.inference.boxes.centres_in`; unclipped, a box's centre is its
   peak's pixel). Cores partition the image, so every object belongs to exactly one tile: the one whose
   core holds its centre. That tile sees the whole object when the halo is at least half the object's
   longest side, i.e. when neighbouring windows overlap by more than the largest object (:func:`box_halo`:
   from the model card's ``largest_box``);
2. the boxes of all tiles are merged per label (:func:`core.inference.boxes.batched_nms`): what two tiles
   found of one object near a seam (their windows saw it differently) is kept once.

Memory holds one block's pixels, one batch of tiles' maps and one window's candidate boxes, whatever the
image size; the boxes kept are the only thing that grows with the image (six numbers each).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from core.detection.decode import MIN_SCORE
from core.errors import InvalidInputError
from core.inference.boxes import batched_nms, centres_in, clip_boxes, nms
from core.inference.fit import check_not_empty
from core.inference.grid import Grid, Tile
from core.inference.predictor import Predictor
from core.inference.progress import check_stop
from core.inference.receptive import round_halo
from core.inference.tiled import MIN_CONTEXT, Maps, _Source, check_grid, tile_maps
from core.training.normalization import depth_warning, floor_warning
from core.training.types.base import BOX_LISTS

#: predicted boxes may be a little larger than the largest annotated one: the halo covers this much more
BOX_MARGIN = 1.25
BASE_TILE = 512  # the tile core at full scale (pixels)
MAX_TILE = 1024  # the largest tile core chosen for a model working at a lower scale


@dataclass
class BoxPrediction:
    """The boxes of one image: ``boxes`` float64 ``(N, 4)`` ``[x_min, y_min, x_max, y_max]`` in image pixels,
    ``scores`` ``(N,)``, ``labels`` ``(N,)`` label indices into ``label_names``; sorted by label, then
    descending score."""

    shape: tuple[int, int]
    label_names: list[str]
    label_ids: list
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    tiles: int = 0
    seconds: float = 0.0
    tile: int = 0
    halo: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def counts(self) -> list[int]:
        """Boxes per label, in label order."""
        return [int(n) for n in np.bincount(self.labels, minlength=len(self.label_names))]

    @property
    def counts_by_label(self) -> dict[str, int]:
        return dict(zip(self.label_names, self.counts, strict=True))


def box_halo(predictor: Predictor) -> int:
    """The halo (image pixels, a multiple of 32) for boxes: the network's own
    (:attr:`Predictor.halo`), or more where the card's ``largest_box`` needs it: half the longest side of
    the training's boxes times :data:`BOX_MARGIN`, so that the tile owning an object's centre sees all of
    it. Cards without ``largest_box`` keep the network's halo."""
    largest = predictor.card.get("largest_box")
    if isinstance(largest, bool) or not isinstance(largest, (int, float)) or not largest > 0:
        return predictor.halo
    return max(predictor.halo, round_halo(largest * BOX_MARGIN / 2))


def box_tile(predictor: Predictor) -> int:
    """The tile core (image pixels) for boxes: 512 pixels at full scale, more for a model working at a scale
    below 1 (its halo is as much larger), up to :data:`MAX_TILE`."""
    return min(MAX_TILE, -(-round(BASE_TILE / predictor.scale) // 32) * 32)


def predict_boxes(
    source: object,
    predictor: Predictor,
    *,
    tile: int | None = None,
    halo: int | None = None,
    block: int | None = None,
    on_progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> BoxPrediction:
    """The boxes of ``source`` (``(C, H, W)`` / ``(H, W)`` array or a reader) predicted by ``predictor`` (a
    detection model: maps ``heat``, ``box_h``, ``box_w``) with the card's ``score_threshold`` and
    ``nms_iou`` per label.

    Args:
        tile: core size of a network tile in pixels (multiple of 32); the network sees ``tile + 2 * halo``;
            None = :func:`box_tile`.
        halo: context around each tile core (multiple of 32); None = :func:`box_halo`.
        block: pixels read at once (a multiple of ``tile``): the tiles of one block share one region read;
            None = ``tile``.
        on_progress: called with the fraction done (0..1) after each block.
        should_stop: polled before each block; True stops with
            :class:`~core.inference.progress.PredictionCancelled`.
    """
    src = _Source(source)
    halo = box_halo(predictor) if halo is None else halo
    tile = box_tile(predictor) if tile is None else tile
    block = tile if block is None else block
    _check_boxes_model(predictor)
    grid: Grid = check_grid(src, predictor, tile, halo, block, MIN_CONTEXT)
    check_not_empty(src.original)
    start = time.perf_counter()
    record = predictor.image_normalization(src.shape, src.read_window)
    values = predictor.postprocess
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    n_tiles, total = 0, grid.rows * grid.cols
    for r in range(grid.rows):
        for c in range(grid.cols):
            check_stop(should_stop, "prediction")
            tiles = grid.tiles(r, c)
            if tiles:
                for t, maps in tile_maps(src, predictor, record, grid, tiles):
                    parts.append(tile_boxes(maps, t, values, (grid.height, grid.width)))
                n_tiles += len(tiles)
            if on_progress is not None:
                on_progress(0.97 * (r * grid.cols + c + 1) / total)
    boxes = np.concatenate([p[0] for p in parts] or [np.zeros((0, 4))])
    scores = np.concatenate([p[1] for p in parts] or [np.zeros(0)])
    labels = np.concatenate([p[2] for p in parts] or [np.zeros(0, dtype=np.int64)])
    keep = batched_nms(boxes, scores, labels, [v["nms_iou"] for v in values])
    keep = keep[np.lexsort((-scores[keep], labels[keep]))]  # keep is in score order: lexsort is stable
    result = BoxPrediction(
        shape=(grid.height, grid.width),
        label_names=[str(lab["name"]) for lab in predictor.labels],
        label_ids=[lab.get("id") for lab in predictor.labels],
        boxes=boxes[keep],
        scores=scores[keep],
        labels=labels[keep],
        tiles=n_tiles,
        seconds=time.perf_counter() - start,
        tile=tile,
        halo=halo,
        warnings=[w for w in (depth_warning(record), floor_warning(record)) if w],
    )
    if on_progress is not None:
        on_progress(1.0)
    return result


def tile_boxes(
    maps: Maps, tile: Tile, values: list[dict], image_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The boxes one tile owns: ``(boxes (N, 4), scores (N,), labels (N,))`` in image pixels, clipped to the
    image, from the maps of its window (``heat`` ``(L, h, w)``, ``box_h``/``box_w`` ``(1, h, w)``).

    Each label's peaks at or above its ``score_threshold`` anywhere in the window become boxes; boxes
    overlapping a higher-scoring one by more than the label's ``nms_iou`` are dropped (the window shows what
    surrounds the core, so its boxes' rivals from the neighbouring cores are there too); the tile keeps the
    survivors centred in its core (:func:`core.inference.boxes.centres_in`)."""
    height, width = image_hw
    wy0, wx0 = tile.window_y[0], tile.window_x[0]
    # the window's part inside the image (past the edge it holds padding; a peak there is no object)
    h, w = min(tile.window_y[1], height) - wy0, min(tile.window_x[1], width) - wx0
    core = (tile.core_y[0], tile.core_x[0], tile.core_y[1], tile.core_x[1])
    box_h, box_w = maps["box_h"][0, :h, :w], maps["box_w"][0, :h, :w]
    found_boxes, found_scores, found_labels = [], [], []
    for index, v in enumerate(values):
        heat = maps["heat"][index, :h, :w]
        rows, cols = window_peaks(heat, max(MIN_SCORE, float(v["score_threshold"])))
        bh, bw = box_h[rows, cols].astype(np.float64), box_w[rows, cols].astype(np.float64)
        cy, cx = wy0 + rows + 0.5, wx0 + cols + 0.5
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).reshape(-1, 4)
        clipped = clip_boxes(boxes, height, width)
        scores = heat[rows, cols].astype(np.float64)
        kept = nms(clipped, scores, float(v["nms_iou"]))
        # unclipped, a box's centre is its peak's pixel: in exactly one tile's core
        owned = kept[centres_in(boxes[kept], core)]
        found_boxes.append(clipped[owned])
        found_scores.append(scores[owned])
        found_labels.append(np.full(len(owned), index, dtype=np.int64))
    return np.concatenate(found_boxes), np.concatenate(found_scores), np.concatenate(found_labels)


def window_peaks(heat: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of the local maxima of ``heat`` ``(h, w)`` (as :func:`core.detection.decode.peaks`:
    the maximum of their 3 x 3 neighbourhood) at least ``min_score``: all of them (a large image's tile has
    no cap on its number of objects)."""
    top = ndi.maximum_filter(heat, size=3, mode="constant", cval=-1.0)
    return np.nonzero((heat >= top) & (heat >= min_score))


def _check_boxes_model(predictor: Predictor) -> None:
    if predictor.kind.result_kind != BOX_LISTS:
        raise InvalidInputError(
            f"the model is a {predictor.kind.short_title} model: it predicts label images, not boxes; "
            "apply it with core.inference.predict_image"
        )
