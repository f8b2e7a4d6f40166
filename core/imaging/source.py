"""Read a source image in horizontal bands of rows, as (C, rows, W) arrays in the stored dtype.

TIFF sources are read through tifffile's zarr store (only the strips/tiles a band touches are decoded)
or, for uncompressed contiguous data, straight from the file by offset. PNG and JPEG have no random
access: they are decoded whole once (their size is bounded by the megapixel limit).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile
import zarr
from PIL import Image, UnidentifiedImageError

from core.errors import ImageImportError
from core.imaging.dtypes import Conversion, RangeAccumulator
from core.imaging.probe import TIFF_READ_ERRORS, SourceInfo
from core.imaging.tiffwarnings import caught_tiff_warnings, reader_said

_CACHE_BYTES = 64 << 20  # largest row of source chunks kept between reads
_RASTER_ERRORS = (RuntimeError, ValueError, OSError, UnidentifiedImageError, Image.DecompressionBombError)


def _decode_error(path: Path, exc: BaseException, said: list[str] | None = None) -> ImageImportError:
    return ImageImportError(
        f"{path.name}: the pixel data is corrupt and cannot be decoded ({type(exc).__name__}: {exc}"
        f"{reader_said(said or [])}); copy or export the file again from the original"
    )


class SourceBands:
    """Band reader over a probed source; use as a context manager.

    ``read_raw(y0, y1)`` returns source pixels (C, y1-y0, W) before conversion, ``read(y0, y1)`` after.
    ``chunk_rows`` is the height of the source's strips/tiles (reads aligned to it decode each once).
    """

    def __init__(
        self, info: SourceInfo, conversion: Conversion | None = None, *, apply_palette: bool = True
    ) -> None:
        self.info = info
        self._apply_palette = apply_palette
        self.conversion = conversion or info.conversion
        self.chunk_rows = info.height
        self._tif: tifffile.TiffFile | None = None
        self._zarr: zarr.Array | None = None
        self._contiguous: tuple[int, np.dtype, tuple[int, ...]] | None = None
        self._whole: np.ndarray | None = None
        self._colormap: np.ndarray | None = None
        self._cache: np.ndarray | None = None
        self._cache_key: tuple[int | None, int] | None = None
        if info.format == "tiff":
            self._open_tiff()
        else:
            self._whole = self._decode_raster()
            self.chunk_rows = 256

    # -- opening ---------------------------------------------------------------------------------
    def _open_tiff(self) -> None:
        path = self.info.path
        with caught_tiff_warnings() as said:  # what they say was reported by probe already
            self._open_tiff_quietly(path, said)

    def _open_tiff_quietly(self, path: Path, said: list[str]) -> None:
        try:
            self._tif = tifffile.TiffFile(path)
            series = self._tif.series[0]
            page = series.keyframe
            if self.info.palette and self._apply_palette:
                cmap = np.asarray(page.colormap)
                self._colormap = (cmap >> 8 if cmap.max() > 255 else cmap).astype(np.uint8)
            offset = series.dataoffset
            if offset is not None and not page.is_tiled and page.compression == tifffile.COMPRESSION.NONE:
                dtype = np.dtype(series.dtype).newbyteorder(self._tif.byteorder)
                self._contiguous = (offset, dtype, tuple(series.shape))
                self.chunk_rows = 256
            else:
                self._zarr = zarr.open_array(series.aszarr(level=0), mode="r")
                chunks = dict(zip(self.info.layout.axes, self._zarr.chunks, strict=True))
                self.chunk_rows = max(1, int(chunks["Y"]))
        except TIFF_READ_ERRORS as exc:
            self.close()
            raise _decode_error(path, exc, said) from exc

    def _decode_raster(self) -> np.ndarray:
        path = self.info.path
        try:
            data = path.read_bytes()
            if self.info.format == "png":
                arr = imagecodecs.png_decode(data)
            elif self.info.colour == "CMYK":
                with Image.open(io.BytesIO(data)) as im:
                    arr = np.asarray(im.convert("RGB"))
            else:
                arr = imagecodecs.jpeg8_decode(data)
        except _RASTER_ERRORS as exc:
            raise _decode_error(path, exc) from exc
        if arr.ndim == 2:
            arr = arr[np.newaxis]
        else:
            arr = np.moveaxis(arr, -1, 0)
        if arr.shape[0] in (2, 4):  # alpha last
            arr = arr[:-1]
        if arr.shape[1:] != (self.info.height, self.info.width):
            raise _decode_error(
                path,
                ValueError(
                    f"decoded {arr.shape[1:]} but the header says {(self.info.height, self.info.width)}"
                ),
            )
        return arr

    # -- reading ---------------------------------------------------------------------------------
    @property
    def planar(self) -> bool:
        """True when one channel can be read without decoding the others (channels stored apart)."""
        layout = self.info.layout
        return self._whole is None and self._colormap is None and layout is not None and layout.planar

    def read_raw(self, y0: int, y1: int, channel: int | None = None) -> np.ndarray:
        """Source pixels of rows y0:y1 as (C, y1-y0, W) (or (1, ...) for ``channel``), palette applied."""
        if self._whole is not None:
            return self._whole[:, y0:y1] if channel is None else self._whole[channel : channel + 1, y0:y1]
        if self._colormap is not None:
            channel = None  # the colours come from the single index channel
        band = self._read_cached(y0, y1, channel) if self._zarr is not None else self._read(y0, y1, channel)
        if self._colormap is not None:
            band = self._colormap[:, band[0]]
        return band

    def _read_cached(self, y0: int, y1: int, channel: int | None) -> np.ndarray:
        """Reads inside one row of source chunks decode that row once and keep it for the next read."""
        rows = self.chunk_rows
        b0 = y0 // rows * rows
        b1 = min(b0 + rows, self.info.height)
        channels = 1 if channel is not None else self.info.layout.channels
        per_row = self.info.width * np.dtype(self.info.dtype).itemsize * channels
        if y1 > b1 or (y1 - y0) == rows or rows * per_row > _CACHE_BYTES:
            return self._read(y0, y1, channel)
        if self._cache_key != (channel, b0):
            self._cache = self._read(b0, b1, channel)
            self._cache_key = (channel, b0)
        return self._cache[:, y0 - b0 : y1 - b0]

    def _read(self, y0: int, y1: int, channel: int | None) -> np.ndarray:
        layout = self.info.layout
        index = layout.index(y0, y1, 0, layout.width, channel)
        with caught_tiff_warnings() as said:
            raw = self._read_index(index, said)
        return layout.to_chw(raw, channel)

    def _read_index(self, index: tuple[object, ...], said: list[str]) -> np.ndarray:
        try:
            if self._contiguous is not None:
                offset, dtype, shape = self._contiguous
                mapped = np.memmap(self.info.path, dtype=dtype, mode="r", offset=offset, shape=shape)
                try:
                    raw = np.array(mapped[index], dtype=dtype.newbyteorder("="))
                finally:
                    del mapped
            else:
                raw = np.asarray(self._zarr[index])
        except TIFF_READ_ERRORS as exc:
            raise _decode_error(self.info.path, exc, said) from exc
        except OSError as exc:
            raise ImageImportError(
                f"{self.info.path.name}: reading the file failed ({exc}); "
                "check the file and the disk, then import again"
            ) from exc
        return raw

    def read(self, y0: int, y1: int, channel: int | None = None) -> np.ndarray:
        """Rows y0:y1 as (C, y1-y0, W) (or (1, ...) for ``channel``) in the stored dtype."""
        return self.conversion.apply(self.read_raw(y0, y1, channel))

    def bands(self, rows: int, *, raw: bool = False) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(y0, band)`` for consecutive bands of ``rows`` rows covering the image."""
        for y0 in range(0, self.info.height, rows):
            y1 = min(y0 + rows, self.info.height)
            yield y0, (self.read_raw(y0, y1) if raw else self.read(y0, y1))

    def scan_range(self, rows: int) -> tuple[float, float, int]:
        """First pass of a two-pass conversion: finite (min, max) and the NaN/infinite count of the pixels."""
        acc = RangeAccumulator()
        for _, band in self.bands(rows, raw=True):
            acc.update(band)
        return (*acc.result(), acc.nonfinite)

    def close(self) -> None:
        if self._tif is not None:
            self._tif.close()
            self._tif = None
        self._zarr = None
        self._whole = None
        self._cache = None
        self._cache_key = None

    def __enter__(self) -> SourceBands:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
