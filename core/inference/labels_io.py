"""Read the ``(L, H, W)`` label TIFF that :func:`core.inference.tiled.predict_image` writes, by region.

The TIFF's image description holds JSON with the label names, ids, object counts and the training type.
Only the tiles a region touches are decoded (tifffile's zarr store), so huge outputs are read in blocks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tifffile
import zarr

from core.errors import InvalidInputError, NotFoundError


class LabelImage:
    """An open prediction label TIFF: ``shape`` (L, H, W), ``names``, ``label_ids``, ``counts``,
    ``training_type``; :meth:`read` returns regions. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise NotFoundError(f"label image {self.path} does not exist; run the prediction first")
        try:
            self._tif = tifffile.TiffFile(self.path)
            series = self._tif.series[0]
            self._array = zarr.open_array(series.aszarr(), mode="r")
            description = self._tif.pages[0].description or "{}"
        except (OSError, ValueError, KeyError, IndexError, tifffile.TiffFileError) as exc:
            raise InvalidInputError(
                f"{self.path.name} cannot be read as a label TIFF ({exc}); predict again"
            ) from exc
        shape = tuple(int(v) for v in self._array.shape)
        if len(shape) == 2:
            shape = (1, *shape)
            self._squeezed = True
        else:
            self._squeezed = False
        if len(shape) != 3 or not np.issubdtype(self._array.dtype, np.integer):
            self.close()
            raise InvalidInputError(
                f"{self.path.name} has shape {shape} and dtype {self._array.dtype}; "
                "expected integer (L, H, W) labels"
            )
        self.shape = shape
        self.dtype = np.dtype(self._array.dtype)
        try:
            meta = json.loads(description)
        except json.JSONDecodeError:
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        self.names = [str(n) for n in meta.get("labels", [f"label {i + 1}" for i in range(shape[0])])]
        self.label_ids = list(meta.get("label_ids", [None] * shape[0]))
        self.counts = list(meta.get("counts", [None] * shape[0]))
        self.training_type = str(meta.get("training_type", "instance"))

    def read(self, plane: int, y: int, x: int, h: int, w: int, *, step: int = 1) -> np.ndarray:
        """Labels ``(h', w')`` of rows ``y:y+h`` and columns ``x:x+w`` of ``plane``, clipped to the image;
        ``step`` > 1 keeps every step-th row and column (a zoomed-out view)."""
        _, height, width = self.shape
        y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + h, height), min(x + w, width)
        if self._squeezed:
            return np.asarray(self._array[y0:y1:step, x0:x1:step])
        return np.asarray(self._array[plane, y0:y1:step, x0:x1:step])

    def read_plane(self, plane: int) -> np.ndarray:
        return self.read(plane, 0, 0, self.shape[1], self.shape[2])

    def close(self) -> None:
        self._tif.close()

    def __enter__(self) -> LabelImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_labels(path: Path) -> LabelImage:
    """Open a prediction label TIFF for region reads."""
    return LabelImage(path)
