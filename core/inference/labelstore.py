"""Provisional labels on disk, and the union-find that turns them into final object ids.

Tiled post-processing gives every object piece of an owned block a *provisional* id; pieces seen as the same
object by two blocks are joined in a :class:`UnionFind`. The provisional ids are kept on disk as
zlib-compressed chunks of ``chunk x chunk`` pixels (:class:`ChunkStore`), so memory does not grow with the
image. :meth:`UnionFind.final_ids` then numbers the objects 1..N in raster order of their first pixel, drops
those smaller than ``min_size`` pixels, and the chunks are read back through that lookup table.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.errors import StorageError

_LEVEL = 1


class ChunkStore:
    """uint32 ``(H, W)`` provisional labels stored as compressed chunks in one temporary file."""

    def __init__(self, path: Path, shape: tuple[int, int], chunk: int) -> None:
        self.path = Path(path)
        self.shape = shape
        self.chunk = chunk
        self._index: dict[tuple[int, int], tuple[int, int]] = {}
        try:
            self._file = open(self.path, "w+b")
        except OSError as exc:
            raise StorageError(
                f"cannot create the temporary label file {self.path}: {exc}; free disk space"
            ) from exc

    def write_block(self, y0: int, x0: int, labels: np.ndarray) -> None:
        """Store ``labels`` (uint32 ``(h, w)``) at ``(y0, x0)``; both multiples of ``chunk``."""
        h, w = labels.shape
        for cy in range(0, h, self.chunk):
            for cx in range(0, w, self.chunk):
                part = np.ascontiguousarray(
                    labels[cy : cy + self.chunk, cx : cx + self.chunk], dtype=np.uint32
                )
                data = zlib.compress(part.tobytes(), _LEVEL)
                try:
                    offset = self._file.seek(0, 2)
                    self._file.write(data)
                except OSError as exc:
                    raise StorageError(
                        f"cannot write the temporary label file {self.path}: {exc}; free disk space"
                    ) from exc
                self._index[((y0 + cy) // self.chunk, (x0 + cx) // self.chunk)] = (offset, len(data))

    def read_chunk(self, ty: int, tx: int) -> np.ndarray:
        """The stored chunk ``(ty, tx)`` as uint32 (clipped at the image edge)."""
        h = min(self.chunk, self.shape[0] - ty * self.chunk)
        w = min(self.chunk, self.shape[1] - tx * self.chunk)
        offset, size = self._index[(ty, tx)]
        self._file.seek(offset)
        return np.frombuffer(zlib.decompress(self._file.read(size)), dtype=np.uint32).reshape(h, w)

    def chunks(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(ty, tx, chunk)`` in raster order."""
        for ty in range(-(-self.shape[0] // self.chunk)):
            for tx in range(-(-self.shape[1] // self.chunk)):
                yield ty, tx, self.read_chunk(ty, tx)

    def read_all(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=np.uint32)
        for ty, tx, part in self.chunks():
            y, x = ty * self.chunk, tx * self.chunk
            out[y : y + part.shape[0], x : x + part.shape[1]] = part
        return out

    def close(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


class UnionFind:
    """Provisional ids 1..n with their pixel count and first pixel (raster index), joined by :meth:`union`."""

    def __init__(self) -> None:
        self.n = 0
        self._parent = np.zeros(1024, dtype=np.int64)
        self._area = np.zeros(1024, dtype=np.int64)
        self._first = np.full(1024, np.iinfo(np.int64).max, dtype=np.int64)

    def add(self, areas: np.ndarray, firsts: np.ndarray) -> np.ndarray:
        """Create ids for pieces with ``areas`` and ``firsts`` (global raster index); returns the new ids."""
        k = len(areas)
        need = self.n + k + 1
        if need > len(self._parent):
            size = max(need, 2 * len(self._parent))
            self._parent = np.resize(self._parent, size)
            self._area = np.resize(self._area, size)
            self._first = np.resize(self._first, size)
        ids = np.arange(self.n + 1, self.n + k + 1, dtype=np.int64)
        self._parent[ids] = ids
        self._area[ids] = areas
        self._first[ids] = firsts
        self.n += k
        return ids

    def find(self, a: int) -> int:
        parent = self._parent
        root = a
        while parent[root] != root:
            root = parent[root]
        while parent[a] != root:
            parent[a], a = root, parent[a]
        return int(root)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def final_ids(self, min_size: int) -> tuple[np.ndarray, int]:
        """Lookup table provisional id -> final id (0 = dropped) and the number of final objects.

        Objects are the union-find sets; an object's area is the sum of its pieces; objects with fewer than
        ``min_size`` pixels are dropped; the rest are numbered 1..N in raster order of their first pixel.
        """
        n = self.n
        parent = self._parent[: n + 1].copy()
        parent[0] = 0
        while True:
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt
        area = np.bincount(parent, weights=self._area[: n + 1], minlength=n + 1)
        first = np.full(n + 1, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, parent, self._first[: n + 1])
        roots = np.flatnonzero((parent == np.arange(n + 1)) & (area >= max(min_size, 1)))
        roots = roots[roots > 0]
        order = roots[np.argsort(first[roots], kind="stable")]
        root_id = np.zeros(n + 1, dtype=np.int64)
        root_id[order] = np.arange(1, len(order) + 1)
        return root_id[parent], len(order)
