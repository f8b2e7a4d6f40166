"""Post-processing of one context region, and stitching of its objects to those of earlier blocks.

Blocks are visited in raster order (:mod:`core.inference.grid`). For block ``O(r, c)`` the post-processing
runs on the maps of its context region ``E(r, c)`` and yields local labels. The part of ``E`` already owned
by earlier blocks (up to ``context`` pixels above and to the left) is the *zone*: there the earlier blocks'
provisional ids are known, and local objects are joined to them:

* semantic (connected components): any overlap joins; every adjacency across a block border lies in the zone
  of the later block, so the components are exactly those of the whole image;
* instance: a local object joins an earlier piece when their pixels in the zone have IoU >= 0.5 (the same
  object seen from both sides; objects up to ``context`` pixels beyond the border are seen whole by both
  blocks and match with IoU 1).

Each owned block's provisional ids go to a :class:`~core.inference.labelstore.ChunkStore`.
"""

from __future__ import annotations

import numpy as np

from core.training.types import TRAINING_TYPES
from core.inference.grid import Grid
from core.inference.labelstore import ChunkStore, UnionFind

MATCH_IOU = 0.5


def segment(maps: dict[str, np.ndarray], index: int, training_type: str, values: dict) -> np.ndarray:
    """int32 ``(h, w)`` labels of label ``index`` from maps ``{name: (L, h, w)}``; no size filter yet (the
    training type's :meth:`~core.training.types.base.TrainingType.objects_plane`)."""
    return TRAINING_TYPES[training_type].objects_plane(maps, index, values)


class Stitcher:
    """Provisional ids of one label plane across all blocks of a :class:`Grid`."""

    def __init__(self, grid: Grid, store: ChunkStore, *, semantic: bool) -> None:
        self.grid = grid
        self.store = store
        self.semantic = semantic
        self.objects = UnionFind()
        k = grid.context
        self._top = np.zeros(
            (k, grid.width), dtype=np.uint32
        )  # rows [r*B - k, r*B) of the previous block row
        self._next_top = np.zeros((k, grid.width), dtype=np.uint32)
        self._left = np.zeros((0, k), dtype=np.uint32)  # right k columns of the previous block in this row

    def add_block(self, r: int, c: int, local: np.ndarray) -> None:
        """Local labels of ``E(r, c)`` (int ``(h, w)``): store the owned part with provisional ids."""
        (ey0, _), (ex0, ex1) = self.grid.context_region(r, c)
        (oy0, oy1), (ox0, ox1) = self.grid.owned(r, c)
        owned = local[oy0 - ey0 : oy1 - ey0, ox0 - ex0 : ox1 - ex0]
        lut = self._new_ids(owned, oy0, ox0)
        zone_mine = [local[: oy0 - ey0, :].ravel(), local[oy0 - ey0 : oy1 - ey0, : ox0 - ex0].ravel()]
        k = self.grid.context
        zone_prev = [self._top[k - (oy0 - ey0) :, ex0:ex1].ravel(), self._left[:, k - (ox0 - ex0) :].ravel()]
        self._join(np.concatenate(zone_prev), np.concatenate(zone_mine), lut)
        ids = lut[owned].astype(np.uint32)
        self.store.write_block(oy0, ox0, ids)
        self._left = ids[:, -k:] if ids.shape[1] >= k else _pad_left(ids, k)
        self._next_top[:, ox0:ox1] = ids[-k:, :] if ids.shape[0] >= k else _pad_top(ids, k)
        if c == self.grid.cols - 1:
            self._top, self._next_top = self._next_top, self._top
            self._next_top[:] = 0
            self._left = np.zeros((0, k), dtype=np.uint32)

    def _new_ids(self, owned: np.ndarray, oy0: int, ox0: int) -> np.ndarray:
        """Lookup local label -> provisional id for the objects present in the owned part (0 elsewhere)."""
        flat = owned.ravel()
        present, first, area = np.unique(flat, return_index=True, return_counts=True)
        keep = present > 0
        present, first, area = present[keep], first[keep], area[keep]
        width = owned.shape[1]
        global_first = (oy0 + first // width) * self.grid.width + ox0 + first % width
        lut = np.zeros(int(flat.max(initial=0)) + 1, dtype=np.int64)
        lut[present] = self.objects.add(area, global_first)
        return lut

    def _join(self, prev: np.ndarray, mine: np.ndarray, lut: np.ndarray) -> None:
        if prev.size == 0:
            return
        mine = mine.astype(np.int64)
        lut = np.concatenate([lut, np.zeros(max(int(mine.max(initial=0)) + 1 - len(lut), 0), dtype=np.int64)])
        both = (prev > 0) & (mine > 0)
        if not both.any():
            return
        stride = int(mine.max()) + 1
        pairs, n_ab = np.unique(prev[both].astype(np.int64) * stride + mine[both], return_counts=True)
        a, b = pairs // stride, pairs % stride
        if self.semantic:
            self._join_all(a, b, lut)
            return
        prev_ids, prev_counts = np.unique(prev[prev > 0], return_counts=True)
        n_a = prev_counts[np.searchsorted(prev_ids, a)]
        n_b = np.bincount(mine, minlength=stride)[b]
        iou = n_ab / (n_a + n_b - n_ab)
        for pa, pb in zip(a[iou >= MATCH_IOU], b[iou >= MATCH_IOU], strict=True):
            if lut[pb]:
                self.objects.union(int(pa), int(lut[pb]))

    def _join_all(self, a: np.ndarray, b: np.ndarray, lut: np.ndarray) -> None:
        """Semantic: every earlier piece touching a local component joins it (and each other)."""
        anchor: dict[int, int] = {}
        for pa, pb in zip(a.tolist(), b.tolist(), strict=True):
            target = int(lut[pb]) or anchor.setdefault(pb, pa)
            self.objects.union(pa, target)


def _pad_left(ids: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((ids.shape[0], k), dtype=np.uint32)
    out[:, k - ids.shape[1] :] = ids
    return out


def _pad_top(ids: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((k, ids.shape[1]), dtype=np.uint32)
    out[k - ids.shape[0] :, :] = ids
    return out
