"""Validate a source image from its metadata alone and describe what import will store.

``probe`` reads headers only (TIFF IFDs, PNG IHDR, JPEG SOF); it never decodes pixels. Everything that
can be refused without pixels is refused here, each with an :class:`ImageImportError` naming the file.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import tifffile

from core.errors import ImageImportError, InvalidInputError, PagesUnknownError
from core.imaging.axes import Layout, resolve_layout
from core.imaging.dtypes import Conversion, plan_conversion
from core.imaging.formats import sniff_format
from core.imaging.headers import read_jpeg_header, read_png_header
from core.imaging.metadata import pixel_size_um
from core.imaging.pyramid_check import check_pyramid
from core.imaging.tiffwarnings import caught_tiff_warnings, reader_said

ALPHA_EXTRASAMPLES = (tifffile.EXTRASAMPLE.ASSOCALPHA, tifffile.EXTRASAMPLE.UNASSALPHA)
_RGB_PHOTOMETRIC = (tifffile.PHOTOMETRIC.RGB, tifffile.PHOTOMETRIC.YCBCR)
_WSI_FLAGS = {
    "is_svs": "Aperio SVS",
    "is_ndpi": "Hamamatsu NDPI",
    "is_scn": "Leica SCN",
    "is_bif": "Ventana BIF",
    "is_philips": "Philips TIFF",
    "is_qpi": "PerkinElmer QPI",
}
#: How the pages of a multi-page TIFF that does not say what they are may be read (``pages_as``).
PAGES_AS = {"channels": "each page is one channel (one stain or fluorophore) of a 2D image"}
_UNSAID_AXES = "QI"  # tifffile's letters for pages (I) or a shape (Q) whose meaning the file does not give
# Errors that tifffile, imagecodecs and struct raise for malformed files.
TIFF_READ_ERRORS = (
    tifffile.TiffFileError,
    ValueError,
    RuntimeError,
    struct.error,
    KeyError,
    IndexError,
    EOFError,
)


@dataclass(frozen=True)
class SourceInfo:
    """What :func:`probe` found; sizes are of the full-resolution image, ``dtype`` is the source's."""

    path: Path
    format: str  # tiff | png | jpeg (key of SUPPORTED_FORMATS)
    source_format: str  # e.g. "OME-TIFF", "ImageJ TIFF", "Aperio SVS", "PNG"
    width: int
    height: int
    channels: int
    dtype: str
    stored_dtype: str
    is_wsi: bool
    is_rgb: bool
    levels: int
    pixel_size_um: float | None
    conversion: Conversion
    notes: tuple[str, ...] = ()
    layout: Layout | None = None  # TIFF only: where Y, X and channels sit in series 0
    palette: bool = False  # TIFF palette (colour-mapped) image, stored as RGB
    colour: str = ""  # PNG/JPEG colour model: grayscale | RGB | palette | grayscale+alpha | RGBA | CMYK
    bits: int = 0  # PNG/JPEG bits per sample

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


def _corrupt(path: Path, why: object) -> ImageImportError:
    return ImageImportError(
        f"{path.name}: the file is corrupt or truncated and cannot be read as an image ({why}); "
        "copy or export it again from the original"
    )


def _check_data_within_file(path: Path, tif: tifffile.TiffFile, series: tifffile.TiffPageSeries) -> None:
    size = os.path.getsize(path)
    for level in series.levels:
        for page in level.pages:
            if page is None:
                raise ImageImportError(
                    f"{path.name}: the image refers to pixel data in other files (multi-file OME-TIFF); "
                    "save it as a single OME-TIFF (Fiji: File > Save As > OME-TIFF...) and import that"
                )
            for offset, count in zip(page.dataoffsets, page.databytecounts, strict=True):
                if count and offset + count > size:
                    raise _corrupt(
                        path,
                        f"pixel data ends at byte {offset + count} but the file has only "
                        f"{size} bytes: truncated upload or copy",
                    )


def _tiff_kind(tif: tifffile.TiffFile, series: tifffile.TiffPageSeries) -> tuple[str, bool]:
    for flag, label in _WSI_FLAGS.items():
        if getattr(tif, flag, False):
            return label, True
    pyramid = len(series.levels) > 1
    if tif.is_ome:
        return ("pyramidal OME-TIFF" if pyramid else "OME-TIFF"), pyramid
    if tif.is_imagej:
        return "ImageJ TIFF", pyramid
    return ("pyramidal TIFF" if pyramid else "TIFF"), pyramid


def _level_shapes(series: tifffile.TiffPageSeries) -> list[tuple[int, int]]:
    shapes = []
    for level in series.levels:
        sizes = dict(zip(level.axes.upper(), level.shape, strict=True))
        shapes.append((int(sizes.get("Y", 0)), int(sizes.get("X", 0))))
    return shapes


def _pages_unknown(path: Path, layout: Layout) -> PagesUnknownError:
    return PagesUnknownError(
        f"{path.name}: the file holds {layout.channels} pages of {layout.width} x {layout.height} px "
        "and does not say what they are (no OME or ImageJ metadata). If they are channels (one per stain or "
        "fluorophore), import it again and confirm it (Projects page: 'Import the pages as channels'; "
        "command line: segstudio import --pages-as-channels). If they are Z slices or time points, export "
        "the one plane you need (Fiji: Image > Duplicate... with one slice, or Image > Stacks > "
        "Z Project...), save it as TIFF and import that: segstudio works on 2D images"
    )


def _probe_tiff(
    path: Path,
    *,
    max_channels: int,
    max_megapixels: float,
    max_wsi_megapixels: float,
    pages_as: str | None,
) -> SourceInfo:
    with caught_tiff_warnings() as said:
        try:
            info = _probe_tiff_quietly(
                path,
                max_channels=max_channels,
                max_megapixels=max_megapixels,
                max_wsi_megapixels=max_wsi_megapixels,
                pages_as=pages_as,
            )
        except ImageImportError as exc:
            if not said:
                raise
            raise type(exc)(f"{exc}{reader_said(said)}") from exc
    if said:  # read, but something in the file was skipped: the user should know
        note = "the file has damaged parts that were skipped" + reader_said(said)
        info = replace(info, notes=(*info.notes, note))
    return info


def _probe_tiff_quietly(
    path: Path,
    *,
    max_channels: int,
    max_megapixels: float,
    max_wsi_megapixels: float,
    pages_as: str | None,
) -> SourceInfo:
    try:
        tif = tifffile.TiffFile(path)
    except TIFF_READ_ERRORS as exc:
        raise _corrupt(path, exc) from exc
    with tif:
        try:
            series_list = tif.series
        except TIFF_READ_ERRORS as exc:
            raise _corrupt(path, exc) from exc
        if not series_list:
            raise _corrupt(path, "no image found in the TIFF")
        series = series_list[0]
        source_format, is_wsi = _tiff_kind(tif, series)
        _check_data_within_file(path, tif, series)
        page = series.keyframe
        notes: list[str] = []
        extrasamples = tuple(page.extrasamples or ())
        has_alpha = bool(extrasamples) and extrasamples[-1] in ALPHA_EXTRASAMPLES and "S" in series.axes
        layout = resolve_layout(
            series.axes, series.shape, name=path.name, max_channels=max_channels, drop_last_channel=has_alpha
        )
        if layout.channel_axis is not None and layout.axes[layout.channel_axis] in _UNSAID_AXES:
            if pages_as is None:
                raise _pages_unknown(path, layout)
            notes.append(f"the file does not say what its {layout.channels} pages are; read as channels")
        if is_wsi:
            check_pyramid(
                path,
                series,
                _level_shapes(series),
                max_megapixels=max_megapixels,
                max_wsi_megapixels=max_wsi_megapixels,
            )
        if has_alpha:
            notes.append("alpha (transparency) channel dropped")
        palette = page.photometric == tifffile.PHOTOMETRIC.PALETTE and page.colormap is not None
        channels = 3 if palette else layout.channels
        dtype = np.dtype(series.dtype)
        if palette:
            notes.append("palette (colour-mapped) TIFF converted to RGB")
            dtype = np.dtype(np.uint8)
        if is_wsi and dtype not in (np.uint8, np.uint16):
            raise ImageImportError(
                f"{path.name}: whole-slide images are stored as they are and must be 8- or 16-bit, "
                f"but this one is {dtype.name}; convert it to 8/16-bit (e.g. with QuPath or bfconvert) "
                "and import again"
            )
        conversion = plan_conversion(dtype, name=path.name)
        if len(series_list) > 1 and not is_wsi:
            notes.append(f"the file holds {len(series_list)} images; the first ({series.shape}) was imported")
        is_rgb = (
            channels == 3
            and conversion.target_dtype == "uint8"
            and (palette or page.photometric in _RGB_PHOTOMETRIC)
        )
        return SourceInfo(
            path=path,
            format="tiff",
            source_format=source_format,
            width=layout.width,
            height=layout.height,
            channels=channels,
            dtype=np.dtype(series.dtype).name,
            stored_dtype=conversion.target_dtype,
            is_wsi=is_wsi,
            is_rgb=is_rgb,
            levels=len(series.levels),
            pixel_size_um=pixel_size_um(tif),
            conversion=conversion,
            notes=tuple(notes),
            layout=layout,
            palette=palette,
        )


def _probe_raster(path: Path, fmt: str) -> SourceInfo:
    header = read_png_header(path) if fmt == "png" else read_jpeg_header(path)
    if header.width == 0 or header.height == 0:
        raise ImageImportError(
            f"{path.name}: the image is empty (zero-sized: {header.width} x {header.height} px); "
            "export it again"
        )
    notes: list[str] = []
    if header.colour in ("RGBA", "grayscale+alpha"):
        notes.append("alpha (transparency) channel dropped")
    if header.colour == "palette":
        notes.append("palette PNG converted to RGB")
    if header.colour == "CMYK":
        notes.append("CMYK JPEG converted to RGB")
    if header.colour not in ("grayscale", "grayscale+alpha", "RGB", "RGBA", "palette", "CMYK"):
        raise ImageImportError(
            f"{path.name}: {fmt.upper()} with {header.colour} is not supported; save it as grayscale or RGB"
        )
    channels = 1 if header.colour.startswith("grayscale") else 3
    dtype = "uint16" if header.bits > 8 and header.colour != "palette" else "uint8"
    if header.bits < 8 and header.colour.startswith("grayscale"):
        notes.append(f"{header.bits}-bit grayscale stored as 8-bit (0..255)")
    conversion = plan_conversion(np.dtype(dtype), name=path.name)
    return SourceInfo(
        path=path,
        format=fmt,
        source_format=fmt.upper(),
        width=header.width,
        height=header.height,
        channels=channels,
        dtype=dtype,
        stored_dtype=dtype,
        is_wsi=False,
        is_rgb=channels == 3 and dtype == "uint8",
        levels=1,
        pixel_size_um=None,
        conversion=conversion,
        notes=tuple(notes),
        colour=header.colour,
        bits=header.bits,
    )


def probe(
    path: str | Path,
    *,
    max_megapixels: float = 625.0,
    max_channels: int = 10,
    max_wsi_megapixels: float = 40_000.0,
    pages_as: str | None = None,
) -> SourceInfo:
    """Validate ``path`` from its metadata and return a :class:`SourceInfo` (no pixels are decoded).

    Raises :class:`ImageImportError` for a missing, empty, corrupt, truncated or unsupported file, a 3D or
    time-series stack, more than ``max_channels`` channels, a zero-sized image, more than ``max_megapixels``
    megapixels (whole-slide images: more than ``max_wsi_megapixels``, a smallest level over
    ``max_megapixels``, or a pyramid the file's bytes cannot back, see :mod:`core.imaging.pyramid_check`).
    A multi-page TIFF that does not say what its pages are raises :class:`PagesUnknownError` unless
    ``pages_as`` says how to read them (a key of :data:`PAGES_AS`).
    """
    path = Path(path)
    if max_megapixels <= 0 or max_channels < 1 or max_wsi_megapixels <= 0:
        raise InvalidInputError(
            f"limits must be positive, got max_megapixels={max_megapixels}, max_channels={max_channels}, "
            f"max_wsi_megapixels={max_wsi_megapixels}"
        )
    if pages_as is not None and pages_as not in PAGES_AS:
        raise InvalidInputError(
            f"pages_as={pages_as!r} is not known; use one of {sorted(PAGES_AS)} or None (ask)"
        )
    fmt = sniff_format(path)
    if fmt == "tiff":
        info = _probe_tiff(
            path,
            max_channels=max_channels,
            max_megapixels=max_megapixels,
            max_wsi_megapixels=max_wsi_megapixels,
            pages_as=pages_as,
        )
    else:
        info = _probe_raster(path, fmt)
    if not info.is_wsi and info.megapixels > max_megapixels:
        raise ImageImportError(
            f"{path.name}: {info.width} x {info.height} px = {info.megapixels:.2f} megapixels, "
            f"more than the limit of {max_megapixels:g} megapixels (e.g. 25,000 x 25,000 px) "
            "for images that are not whole-slide images; crop it or split it into tiles "
            "(Fiji: Image > Crop), downsample it (Image > Scale...), "
            "or save it as a pyramidal OME-TIFF whole-slide image"
        )
    return info
