"""Lazy reads of stored images: regions of any pyramid level without loading the whole image.

``read_region`` clips: a region that reaches outside the level returns only the part inside it, as
(C, h', w') with h' <= h and w' <= w, starting at ``(max(y, 0), max(x, 0))``. A region with no pixel
inside the level raises :class:`InvalidInputError`. Only the tiles (or strips) a region touches are decoded,
through tifffile's zarr store.
"""

from __future__ import annotations

import operator
from pathlib import Path

import numpy as np
import tifffile
import zarr
from PIL import Image, UnidentifiedImageError

from core.errors import ImageImportError, InvalidInputError
from core.imaging.axes import Layout, resolve_layout
from core.imaging.formats import sniff_format
from core.imaging.probe import ALPHA_EXTRASAMPLES, TIFF_READ_ERRORS, probe
from core.imaging.source import SourceBands
from core.imaging.tiffwarnings import caught_tiff_warnings, reader_said

_ANY_CHANNELS = 1 << 16


class ImageReader:
    """An open stored image (tiled TIFF, whole-slide TIFF, or a PNG/JPEG decoded whole).

    Attributes: ``shape`` (C, H, W) of level 0, ``level_shapes`` [(H, W), ...] from full resolution down,
    ``dtype``. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._tif: tifffile.TiffFile | None = None
        self._layouts: list[Layout] = []
        self._arrays: dict[int, zarr.Array] = {}
        self._whole: np.ndarray | None = None
        fmt = sniff_format(self.path)
        if fmt == "tiff":
            self._open_tiff()
        else:
            info = probe(self.path, max_megapixels=float("inf"), pages_as="channels")
            with SourceBands(info) as source:
                self._whole = source.read_raw(0, info.height)
            self.dtype = self._whole.dtype
            self.level_shapes = [self._whole.shape[1:]]
            self.shape = self._whole.shape

    def _open_tiff(self) -> None:
        with caught_tiff_warnings() as said:
            self._open_tiff_quietly(said)

    def _open_tiff_quietly(self, said: list[str]) -> None:
        try:
            self._tif = tifffile.TiffFile(self.path)
            series = self._tif.series[0]
            extrasamples = tuple(series.keyframe.extrasamples or ())
            alpha = bool(extrasamples) and extrasamples[-1] in ALPHA_EXTRASAMPLES and "S" in series.axes
            self._layouts = [
                resolve_layout(
                    level.axes,
                    level.shape,
                    name=self.path.name,
                    max_channels=_ANY_CHANNELS,
                    drop_last_channel=alpha,
                )
                for level in series.levels
            ]
            self._series = series
        except TIFF_READ_ERRORS as exc:
            self.close()
            raise ImageImportError(
                f"{self.path.name}: cannot be opened as an image ({exc}{reader_said(said)}); "
                "the stored file is damaged, import the original again"
            ) from exc
        except ImageImportError:
            self.close()
            raise
        first = self._layouts[0]
        self.dtype = np.dtype(series.dtype)
        self.shape = (first.channels, first.height, first.width)
        self.level_shapes = [(lay.height, lay.width) for lay in self._layouts]

    @property
    def levels(self) -> int:
        return len(self.level_shapes)

    def _array(self, level: int) -> zarr.Array:
        if level not in self._arrays:
            self._arrays[level] = zarr.open_array(self._series.aszarr(level=level), mode="r")
        return self._arrays[level]

    def _check_level(self, level: object) -> int:
        try:
            level = operator.index(level)
        except TypeError as exc:
            raise InvalidInputError(f"level must be an integer, got {level!r}") from exc
        if not 0 <= level < self.levels:
            raise InvalidInputError(
                f"level {level} does not exist in {self.path.name}; it has levels 0..{self.levels - 1} "
                f"with sizes (H, W) {self.level_shapes}"
            )
        return level

    def read_region(self, level: int, y: int, x: int, h: int, w: int) -> np.ndarray:
        """Pixels of rows y:y+h and columns x:x+w of ``level`` as (C, h, w), clipped to the level."""
        level = self._check_level(level)
        try:
            y, x, h, w = (operator.index(v) for v in (y, x, h, w))
        except TypeError as exc:
            raise InvalidInputError(f"region y, x, h, w must be integers, got {(y, x, h, w)!r}") from exc
        if h <= 0 or w <= 0:
            raise InvalidInputError(f"region height and width must be positive, got h={h}, w={w}")
        height, width = self.level_shapes[level]
        y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + h, height), min(x + w, width)
        if y0 >= y1 or x0 >= x1:
            raise InvalidInputError(
                f"region y={y}, x={x}, h={h}, w={w} lies outside level {level} of {self.path.name} "
                f"(H={height}, W={width}); ask for a region that overlaps 0..{height - 1} x 0..{width - 1}"
            )
        if self._whole is not None:
            return np.ascontiguousarray(self._whole[:, y0:y1, x0:x1])
        if self._tif is None:
            raise InvalidInputError(f"{self.path.name}: the reader is closed; open the image again")
        layout = self._layouts[level]
        with caught_tiff_warnings() as said:
            try:
                raw = np.asarray(self._array(level)[layout.index(y0, y1, x0, x1)])
            except TIFF_READ_ERRORS as exc:
                raise ImageImportError(
                    f"{self.path.name}: the pixel data of level {level} cannot be decoded "
                    f"({exc}{reader_said(said)}); the stored file is damaged, import the original again"
                ) from exc
        return layout.to_chw(raw)

    def read_level(self, level: int, *, max_megapixels: float = 64.0) -> np.ndarray:
        """The whole of ``level`` as (C, H, W); refused above ``max_megapixels`` (read regions instead)."""
        level = self._check_level(level)
        height, width = self.level_shapes[level]
        if height * width / 1e6 > max_megapixels:
            raise InvalidInputError(
                f"level {level} of {self.path.name} is {width} x {height} px, more than max_megapixels="
                f"{max_megapixels:g}; read a smaller level or use read_region"
            )
        return self.read_region(level, 0, 0, height, width)

    def close(self) -> None:
        self._arrays.clear()
        self._whole = None
        if self._tif is not None:
            self._tif.close()
            self._tif = None

    def __enter__(self) -> ImageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_image(path: str | Path) -> ImageReader:
    """Open a stored image for region reads; the caller closes it (or uses ``with``)."""
    return ImageReader(path)


def read_region(image: str | Path | ImageReader, level: int, y: int, x: int, h: int, w: int) -> np.ndarray:
    """(C, h, w) pixels of a region of ``image`` (a path or an open :class:`ImageReader`), clipped."""
    if isinstance(image, ImageReader):
        return image.read_region(level, y, x, h, w)
    with ImageReader(image) as reader:
        return reader.read_region(level, y, x, h, w)


def read_array(path: str | Path, *, max_megapixels: float = 625.0) -> np.ndarray:
    """The whole array of a small file (e.g. a label mask), dtype kept: (H, W) or (C, H, W).

    Palette PNG/TIFF give their palette indices (not colours) and 1-bit PNGs give 0/1, as masks need.
    """
    path = Path(path)
    info = probe(path, max_megapixels=max_megapixels, max_channels=_ANY_CHANNELS, pages_as="channels")
    if info.format == "png" and (info.colour == "palette" or info.bits < 8):
        try:
            with Image.open(path) as im:
                arr = np.asarray(im)
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            raise ImageImportError(f"{path.name}: the PNG is corrupt ({exc}); export it again") from exc
        return arr.astype(np.uint8) if arr.dtype == np.bool_ else arr
    with SourceBands(info, apply_palette=False) as source:
        arr = source.read_raw(0, info.height)
    return arr[0] if arr.shape[0] == 1 else arr
