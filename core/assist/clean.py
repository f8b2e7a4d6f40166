"""Speck removal for class maps, so that every accepted polygon is a meaningful object.

A *speck* is an 8-connected piece of one class with fewer than ``min_size`` pixels. Each speck takes the class
it shares the longest border with, counting only neighbours that are not specks themselves (so a speck inside
an object takes the object's class, a hole in an object is filled). A speck with no such neighbour (a patch of
pure noise) keeps its class. Everything is decided on the input map at once, so the result does not depend on
any processing order, and it is local: :func:`clean_tiled` cleans a huge map window by window with
:func:`clean_halo` pixels of context and gets exactly what :func:`clean_classes` gives on the whole map.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from core.errors import InvalidInputError

#: Default smallest piece kept, in pixels (4 x 4).
MIN_SIZE = 16
_EIGHT = np.ones((3, 3), dtype=bool)
_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]


def clean_halo(min_size: int) -> int:
    """Context (pixels) a window needs for :func:`clean_classes` to decide its core as on the whole map."""
    return 2 * int(min_size) + 2


def _check(classes: object, min_size: object) -> tuple[np.ndarray, int]:
    arr = np.asarray(classes)
    if arr.ndim != 2:
        raise InvalidInputError(f"classes must be an (H, W) class map, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.integer) or (arr.size and (arr.min() < 0 or arr.max() > 255)):
            raise InvalidInputError(
                f"classes must hold class indices 0..255 (uint8, as Proposal.classes), got dtype {arr.dtype}"
            )
        arr = arr.astype(np.uint8)
    if isinstance(min_size, bool) or not isinstance(min_size, (int, np.integer)) or min_size < 0:
        raise InvalidInputError(f"min_size must be a whole number of pixels >= 0, got {min_size!r}")
    return arr, int(min_size)


def clean_classes(classes: np.ndarray, *, min_size: int = MIN_SIZE) -> np.ndarray:
    """Class map (H, W) uint8 without specks smaller than ``min_size`` pixels (see the module docstring)."""
    arr, min_size = _check(classes, min_size)
    out = arr.copy()
    if min_size <= 1 or arr.size == 0:
        return out
    speck = np.zeros(arr.shape, dtype=np.int32)  # 0 = not a speck, s = speck number s
    count = 0
    for value in np.unique(arr).tolist():
        pieces, n = ndimage.label(arr == value, structure=_EIGHT)
        if n == 0:
            continue
        sizes = np.bincount(pieces.ravel(), minlength=n + 1)
        small = np.flatnonzero(sizes[1:] < min_size) + 1
        if small.size == 0:
            continue
        numbers = np.zeros(n + 1, dtype=np.int32)
        numbers[small] = np.arange(count + 1, count + 1 + small.size, dtype=np.int32)
        speck += numbers[pieces]
        count += small.size
    if count == 0:
        return out
    n_cls = int(arr.max()) + 1
    rows, cols = np.nonzero(speck)
    own = speck[rows, cols]
    h, w = arr.shape
    votes = np.zeros((count + 1) * n_cls, dtype=np.int64)
    for dy, dx in _OFFSETS:
        r, c = rows + dy, cols + dx
        ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        r, c, s = r[ok], c[ok], own[ok]
        solid = speck[r, c] == 0
        votes += np.bincount(s[solid] * n_cls + arr[r[solid], c[solid]], minlength=votes.size)
    votes = votes.reshape(count + 1, n_cls)
    best = np.argmax(votes, axis=1).astype(np.uint8)  # ties: the lowest class index
    has_vote = votes.sum(axis=1) > 0
    change = has_vote[own]
    out[rows[change], cols[change]] = best[own[change]]
    return out


def clean_tiled(
    classes: np.ndarray,
    *,
    min_size: int = MIN_SIZE,
    tile: int = 2048,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """:func:`clean_classes` of a large map, window by window (bounded memory, identical result)."""
    arr, min_size = _check(classes, min_size)
    if tile < 1:
        raise InvalidInputError(f"tile must be a positive number of pixels, got {tile}")
    halo = clean_halo(min_size)
    h, w = arr.shape
    out = np.empty_like(arr)
    for y in range(0, h, tile):
        for x in range(0, w, tile):
            if should_stop is not None and should_stop():
                raise InterruptedError("cleaning the proposal was stopped")
            y0, x0 = max(y - halo, 0), max(x - halo, 0)
            y1, x1 = min(y + tile + halo, h), min(x + tile + halo, w)
            window = clean_classes(arr[y0:y1, x0:x1], min_size=min_size)
            out[y : y + tile, x : x + tile] = window[y - y0 : y - y0 + tile, x - x0 : x - x0 + tile]
    return out
