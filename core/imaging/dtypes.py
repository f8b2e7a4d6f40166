"""The pixel type rule: what is stored for each source dtype.

- ``uint8`` and ``uint16`` are stored as they are.
- ``bool`` (1-bit) is stored as ``uint8`` with 0 and 255.
- ``int8``/``int16``: stored as ``uint8``/``uint16``; values unchanged when none is negative, otherwise
  shifted by +128/+32768 (lossless; subtract the offset to recover the original values).
- 32/64-bit integers: cast to ``uint16`` when every value lies in 0..65535 (lossless), otherwise rescaled
  linearly from the image's own min..max onto 0..65535.
- floats (16/32/64-bit): rescaled linearly from the image's finite min..max onto ``uint16`` 0..65535; NaN
  becomes 0, -inf 0 and +inf 65535; a constant image becomes 0.
- complex and other types are refused.

Rules that need the value range take two streamed passes over the source (range, then convert); every
conversion is reported in the returned notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ImageImportError

KEEP, BOOL, SIGNED, WIDE_INT, FLOAT = "keep", "bool", "signed", "wide_int", "float"


@dataclass(frozen=True)
class Conversion:
    """How source pixels become stored pixels; ``vmin``/``vmax`` are the source range when it was needed."""

    kind: str
    source_dtype: str
    target_dtype: str
    vmin: float | None = None
    vmax: float | None = None
    nonfinite: int = 0  # NaN and infinite source pixels (floats), counted by the range pass

    @property
    def needs_range(self) -> bool:
        return self.kind in (SIGNED, WIDE_INT, FLOAT)

    def with_range(self, vmin: float, vmax: float, nonfinite: int = 0) -> Conversion:
        return Conversion(self.kind, self.source_dtype, self.target_dtype, vmin, vmax, nonfinite)

    def note(self) -> str | None:
        """Human-readable description of the conversion, or None when pixels were kept."""
        src, dst = self.source_dtype, self.target_dtype
        if self.kind == KEEP:
            return None
        if self.kind == BOOL:
            return "1-bit (boolean) pixels stored as 8-bit: 0 and 255"
        if self.kind == SIGNED:
            if self.vmin is not None and self.vmin >= 0:
                return f"signed {src} pixels without negative values stored as {dst} (values unchanged)"
            offset = 128 if src == "int8" else 32768
            return (
                f"signed {src} pixels shifted by +{offset} to {dst}; subtract {offset} to recover the values"
            )
        if self.kind == WIDE_INT and self._fits_uint16():
            return f"{src} pixels all within 0..65535 stored as uint16 (values unchanged)"
        if self.vmin is None or self.vmax is None or not np.isfinite(self.vmin):
            return f"{src} pixels without any finite value stored as uint16 zeros"
        nonfinite = (
            f"; {self.nonfinite:,} NaN/infinite pixel(s) stored as 0 (NaN, -inf) or 65535 (+inf)"
            if self.nonfinite
            else ""
        )
        return (
            f"{src} pixels rescaled linearly from their range [{self.vmin:g}, {self.vmax:g}] "
            f"to uint16 0..65535{nonfinite}"
        )

    def _fits_uint16(self) -> bool:
        return self.vmin is not None and self.vmax is not None and self.vmin >= 0 and self.vmax <= 65535

    def apply(self, band: np.ndarray) -> np.ndarray:
        """Convert a band of source pixels (any shape) to the stored dtype."""
        if self.kind == KEEP:
            return band
        if self.kind == BOOL:
            return band.astype(np.uint8) * np.uint8(255)
        if self.kind == SIGNED:
            if self.vmin is not None and self.vmin >= 0:
                return band.astype(self.target_dtype)
            offset = 128 if self.source_dtype == "int8" else 32768
            return (band.astype(np.int32) + offset).astype(self.target_dtype)
        if self.kind == WIDE_INT and self._fits_uint16():
            return band.astype(np.uint16)
        return self._rescale(band)

    def _rescale(self, band: np.ndarray) -> np.ndarray:
        lo, hi = self.vmin, self.vmax
        if lo is None or hi is None or not np.isfinite(lo) or hi <= lo:
            out = np.zeros(band.shape, np.uint16)
            if lo is not None and np.isfinite(lo) and self.kind == FLOAT:
                out[np.isposinf(band)] = 65535
            return out
        values = band.astype(np.float64)
        scaled = (values - lo) * (65535.0 / (hi - lo))
        scaled = np.nan_to_num(scaled, nan=0.0, posinf=65535.0, neginf=0.0)
        return np.clip(np.rint(scaled), 0, 65535).astype(np.uint16)


def plan_conversion(dtype: np.dtype, *, name: str) -> Conversion:
    """The :class:`Conversion` for a source ``dtype``; raises :class:`ImageImportError` for unusable types."""
    dt = np.dtype(dtype)
    src = dt.name
    if dt in (np.uint8, np.uint16):
        return Conversion(KEEP, src, src)
    if dt == np.bool_:
        return Conversion(BOOL, src, "uint8")
    if dt in (np.int8, np.int16):
        return Conversion(SIGNED, src, "uint8" if dt == np.int8 else "uint16")
    if dt.kind in "iu":
        return Conversion(WIDE_INT, src, "uint16")
    if dt.kind == "f":
        return Conversion(FLOAT, src, "uint16")
    raise ImageImportError(
        f"{name}: pixel type {src} is not supported; save the image as 8-bit or 16-bit "
        "(Fiji: Image > Type > 16-bit) and import it again"
    )


class RangeAccumulator:
    """Running finite min/max over bands (first pass of a two-pass conversion)."""

    def __init__(self) -> None:
        self.vmin = np.inf
        self.vmax = -np.inf
        self.nonfinite = 0

    def update(self, band: np.ndarray) -> None:
        if band.dtype.kind == "f":
            finite = band[np.isfinite(band)]
            self.nonfinite += band.size - finite.size
            if finite.size == 0:
                return
            band = finite
        self.vmin = min(self.vmin, float(band.min()))
        self.vmax = max(self.vmax, float(band.max()))

    def result(self) -> tuple[float, float]:
        return self.vmin, self.vmax
