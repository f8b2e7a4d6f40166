"""Pixel size (micrometres per pixel) from OME, ImageJ, Aperio and TIFF resolution metadata.

Only metadata with a physical unit counts: OME ``PhysicalSizeX``, ImageJ ``unit`` with the X resolution,
Aperio ``MPP``, and TIFF resolution tags in centimetres. Inch-based resolutions are what desktop programs
write by default (72 dpi) and are ignored; so are PNG and JPEG densities.
"""

from __future__ import annotations

import math
import re

import tifffile

_UNIT_UM = {
    "nm": 1e-3,
    "nanometer": 1e-3,
    "um": 1.0,
    "µm": 1.0,
    "\u03bcm": 1.0,
    "micron": 1.0,
    "microns": 1.0,
    "micrometer": 1.0,
    "micrometre": 1.0,
    "\\u00b5m": 1.0,
    "mm": 1e3,
    "millimeter": 1e3,
    "cm": 1e4,
    "centimeter": 1e4,
    "m": 1e6,
    "meter": 1e6,
    "å": 1e-4,
    "angstrom": 1e-4,
}
_OME_X = re.compile(r"<Pixels\b[^>]*?\bPhysicalSizeX=\"([^\"]+)\"", re.S)
_SVS_MPP = re.compile(r"\|\s*MPP\s*=\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)")
_OME_XUNIT = re.compile(r"<Pixels\b[^>]*?\bPhysicalSizeXUnit=\"([^\"]+)\"", re.S)


def _positive(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def _from_ome(xml: str) -> float | None:
    match = _OME_X.search(xml)
    if not match:
        return None
    try:
        size = float(match.group(1))
    except ValueError:
        return None
    unit_match = _OME_XUNIT.search(xml)
    unit = unit_match.group(1).strip().lower() if unit_match else "µm"
    factor = _UNIT_UM.get(unit)
    return _positive(size * factor) if factor else None


def _x_resolution(page: tifffile.TiffPage) -> float | None:
    try:
        xres = float(page.resolution[0])
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    return xres if xres > 0 else None


def pixel_size_um(tif: tifffile.TiffFile) -> float | None:
    """Micrometres per pixel of the first image in ``tif``, or None when the file does not say."""
    if tif.is_ome and tif.ome_metadata:
        size = _from_ome(tif.ome_metadata)
        if size is not None:
            return size
    page = tif.pages.first
    if tif.is_svs:
        match = _SVS_MPP.search(page.description or "")
        return _positive(float(match.group(1))) if match else None
    xres = _x_resolution(page)
    if xres is None:
        return None
    if tif.is_imagej and tif.imagej_metadata:
        unit = str(tif.imagej_metadata.get("unit", "")).strip().lower()
        factor = _UNIT_UM.get(unit)
        return _positive(factor / xres) if factor else None
    if page.resolutionunit == tifffile.RESUNIT.CENTIMETER:
        return _positive(1e4 / xres)
    return None
