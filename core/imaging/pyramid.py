"""Pyramid levels: their sizes, 2x2 mean downsampling of bands, and level stores that spill to disk.

A pyramid is built when either side of the image exceeds :data:`PYRAMID_THRESHOLD`; each level is half
the previous one (rounded up) until the longest side is at most :data:`SMALLEST_LEVEL_SIDE`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

PYRAMID_THRESHOLD = 4096
SMALLEST_LEVEL_SIDE = 1024


def level_shapes(height: int, width: int) -> list[tuple[int, int]]:
    """(H, W) of every level: just the image when no side exceeds 4096 px, else halvings down to <= 1024."""
    shapes = [(height, width)]
    if max(height, width) <= PYRAMID_THRESHOLD:
        return shapes
    while max(shapes[-1]) > SMALLEST_LEVEL_SIDE:
        h, w = shapes[-1]
        shapes.append(((h + 1) // 2, (w + 1) // 2))
    return shapes


def downsample2(rows: np.ndarray) -> np.ndarray:
    """2x2 mean (rounded, dtype kept) of rows (..., h, w) -> (..., ceil(h/2), ceil(w/2)); odd edges repeat."""
    h, w = rows.shape[-2:]
    if h % 2 or w % 2:
        pad = [(0, 0)] * (rows.ndim - 2) + [(0, h % 2), (0, w % 2)]
        rows = np.pad(rows, pad, mode="edge")
    acc = rows[..., 0::2, 0::2].astype(np.uint32)
    acc += rows[..., 1::2, 0::2]
    acc += rows[..., 0::2, 1::2]
    acc += rows[..., 1::2, 1::2]
    acc += 2
    acc >>= 2
    return acc.astype(rows.dtype)


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        written = os.pwrite(fd, data, offset)
        data = data[written:]
        offset += written


def _pread_all(fd: int, size: int, offset: int) -> bytes:
    parts = []
    while size > 0:
        chunk = os.pread(fd, min(size, 1 << 30), offset)
        if not chunk:
            raise OSError(f"unexpected end of the temporary level file at byte {offset}")
        parts.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(parts) if len(parts) != 1 else parts[0]


class LevelStore:
    """A (C, H, W) level kept in memory when it fits ``memory_limit`` bytes, else in a raw planar file.

    Rows are written per channel with :meth:`write_rows` and read back with :meth:`read_rows`;
    :meth:`close` removes the file.
    """

    def __init__(
        self, shape: tuple[int, int, int], dtype: np.dtype, *, spill_dir: Path, memory_limit: int
    ) -> None:
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self._row_bytes = shape[2] * self.dtype.itemsize
        nbytes = shape[0] * shape[1] * self._row_bytes
        self._array: np.ndarray | None = None
        self._fd: int | None = None
        self.path: Path | None = None
        if nbytes <= memory_limit:
            self._array = np.empty(shape, self.dtype)
        else:
            spill_dir.mkdir(parents=True, exist_ok=True)
            self.path = spill_dir / f"level_{shape[1]}x{shape[2]}_{id(self):x}.raw"
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)

    def _offset(self, c: int, y: int) -> int:
        return (c * self.shape[1] + y) * self._row_bytes

    def write_rows(self, c: int, y0: int, rows: np.ndarray) -> None:
        """Store rows (h, W) of channel ``c`` starting at row ``y0``."""
        if self._array is not None:
            self._array[c, y0 : y0 + rows.shape[0]] = rows
            return
        data = np.ascontiguousarray(rows, dtype=self.dtype)
        _pwrite_all(self._fd, memoryview(data).cast("B"), self._offset(c, y0))

    def read_rows(self, c: int, y0: int, y1: int) -> np.ndarray:
        """Rows y0:y1 of channel ``c`` as (y1-y0, W)."""
        if self._array is not None:
            return self._array[c, y0:y1]
        raw = _pread_all(self._fd, (y1 - y0) * self._row_bytes, self._offset(c, y0))
        return np.frombuffer(raw, self.dtype).reshape(y1 - y0, self.shape[2])

    def close(self) -> None:
        self._array = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None
