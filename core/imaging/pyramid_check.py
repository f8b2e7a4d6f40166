"""What a real whole-slide pyramid must show before it is stored as it is and registered at its size.

Whole-slide files are not converted: they are read lazily, region by region, for as long as the image is in
the project. So what their headers declare must be checked against what the file holds, without decoding:

- every tile (or strip) decodes to at most :data:`MAX_CHUNK_BYTES` (one read never allocates more);
- tiled levels have tiles of 16 to 4096 px a side, and each level has exactly the number of tiles its
  declared size needs;
- level 0's stored bytes can hold its declared pixels: uncompressed, at least as many bytes as pixels need;
  compressed (JPEG, deflate, LZW, ...), at most :data:`MAX_COMPRESSION` times smaller. Real slides compress
  5-50x (JPEG) or 2-5x (deflate); a pure-white JPEG tile compresses about 120x, an all-zero deflate tile
  about 900x, so a real slide with deflate tiles would need over 99.5 % of exactly constant background to
  pass 400x. A file that declares 10^10 pixels in 10 MB (1,000x) holds nothing but one repeated tile;
- each level is 1.5 to 16 times smaller than the one above it (2x and 4x are usual), by the same factor in
  height and width;
- level 0 has at most ``max_wsi_megapixels``, and the smallest level at most ``max_megapixels`` (it is read
  whole for thumbnails and overviews, like an ordinary image).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import tifffile

from core.errors import ImageImportError

MAX_CHUNK_BYTES = 64 << 20
MAX_COMPRESSION = 400.0
TILE_SIDES = (16, 4096)
LEVEL_RATIO = (1.5, 16.0)
_ASPECT_TOLERANCE = 0.1  # height and width factors of one level step may differ by 10 %
_WHAT_TO_DO = (
    "If the slide is real, export it again from the scanner software or convert it with QuPath or bfconvert "
    "(bfconvert -pyramid-resolutions 4 -pyramid-scale 2 -tilex 512 -tiley 512 in.svs out.ome.tif) "
    "and import that file"
)


def _refuse(path: Path, what: str) -> ImageImportError:
    return ImageImportError(
        f"{path.name}: this whole-slide file is not a valid pyramid: {what}. It was not imported. "
        f"{_WHAT_TO_DO}"
    )


def _pages(level: tifffile.TiffPageSeries) -> list[tifffile.TiffPage]:
    return [page for page in level.pages if page is not None]


def _check_chunks(path: Path, index: int, frame: tifffile.TiffPage, itemsize: int) -> None:
    page = frame.keyframe  # a TiffFrame shares its shape, tiles and compression with its key page
    chunk_bytes = math.prod(int(n) for n in page.chunks) * itemsize
    if chunk_bytes > MAX_CHUNK_BYTES:
        raise _refuse(
            path,
            f"level {index} is stored in {'tiles' if page.is_tiled else 'strips'} of "
            f"{' x '.join(str(n) for n in page.chunks)} samples, {chunk_bytes / 2**20:,.0f} MB each when "
            f"decoded (at most {MAX_CHUNK_BYTES >> 20} MB are allowed)",
        )
    if page.is_tiled:
        low, high = TILE_SIDES
        if not (low <= page.tilelength <= high and low <= page.tilewidth <= high):
            raise _refuse(
                path,
                f"level {index} has tiles of {page.tilewidth} x {page.tilelength} px (tiles of "
                f"{low} to {high} px a side are expected, usually 256 or 512)",
            )
    expected = math.prod(int(n) for n in page.chunked)
    if len(frame.dataoffsets) != expected:
        raise _refuse(
            path,
            f"level {index} declares {page.imagewidth} x {page.imagelength} px, which needs {expected:,} "
            f"{'tiles' if page.is_tiled else 'strips'}, but the file lists {len(frame.dataoffsets):,}",
        )


def _check_level0_bytes(path: Path, level: tifffile.TiffPageSeries, itemsize: int) -> None:
    frames = _pages(level)
    keys = [f.keyframe for f in frames]
    declared = sum(int(k.imagelength) * int(k.imagewidth) * int(k.samplesperpixel) * itemsize for k in keys)
    stored = sum(int(n) for f in frames for n in f.databytecounts)
    compressed = any(k.compression != tifffile.COMPRESSION.NONE for k in keys)
    shape = f"{keys[0].imagewidth:,} x {keys[0].imagelength:,} px"
    if not compressed and stored < declared:
        raise _refuse(
            path,
            f"level 0 declares {shape} ({declared / 2**20:,.0f} MB uncompressed) but the file stores only "
            f"{stored / 2**20:,.1f} MB of pixel data for it",
        )
    if compressed and declared > MAX_COMPRESSION * max(stored, 1):
        raise _refuse(
            path,
            f"level 0 declares {shape} ({declared / 2**30:,.1f} GB of pixels) in {stored / 2**20:,.1f} MB: "
            f"{declared / max(stored, 1):,.0f} times compressed, where real slides are 5-50 times "
            f"(at most {MAX_COMPRESSION:g} times is accepted); its tiles are missing or all the same",
        )


def _check_level_ratios(path: Path, shapes: list[tuple[int, int]]) -> None:
    low, high = LEVEL_RATIO
    for index in range(1, len(shapes)):
        (h0, w0), (h1, w1) = shapes[index - 1], shapes[index]
        fy, fx = h0 / h1, w0 / w1
        small_side = min(h1, w1)  # rounding of tiny levels may bend the factor
        tolerance = _ASPECT_TOLERANCE + 2.0 / small_side
        if not (low <= fy <= high and low <= fx <= high) or abs(fy / fx - 1.0) > tolerance:
            raise _refuse(
                path,
                f"level {index} ({w1:,} x {h1:,} px) is {fx:.2f} x {fy:.2f} times smaller than level "
                f"{index - 1} ({w0:,} x {h0:,} px); each level should be {low:g} to {high:g} times "
                "(usually 2 or 4 times) smaller than the one above, by the same factor in height and width",
            )


def check_pyramid(
    path: Path,
    series: tifffile.TiffPageSeries,
    shapes: list[tuple[int, int]],
    *,
    max_megapixels: float,
    max_wsi_megapixels: float,
) -> None:
    """Refuse (:class:`ImageImportError`) a whole-slide ``series`` whose headers the file cannot back.

    ``shapes`` are the (H, W) of its levels from full resolution down. Reads headers only.
    """
    itemsize = np.dtype(series.dtype).itemsize
    for index, level in enumerate(series.levels):  # first what the file cannot back, then the limits
        for page in _pages(level):
            _check_chunks(path, index, page, itemsize)
    _check_level0_bytes(path, series.levels[0], itemsize)
    _check_level_ratios(path, shapes)
    height, width = shapes[0]
    if height * width / 1e6 > max_wsi_megapixels:
        raise ImageImportError(
            f"{path.name}: {width:,} x {height:,} px = {height * width / 1e6:,.0f} megapixels, more than the "
            f"limit of {max_wsi_megapixels:,g} megapixels for whole-slide images (about "
            f"{math.isqrt(int(max_wsi_megapixels * 1e6)):,} px square). Whole-slide images are read tile by "
            "tile, but predictions and overviews still grow with their size; crop the region you need "
            "(QuPath: select it, then File > Export images...) and import that"
        )
    low_h, low_w = shapes[-1]
    if low_h * low_w / 1e6 > max_megapixels:
        raise ImageImportError(
            f"{path.name}: the smallest level of this whole-slide image is {low_w:,} x {low_h:,} px = "
            f"{low_h * low_w / 1e6:,.0f} megapixels, more than the limit of {max_megapixels:g} megapixels: "
            "it is read whole for thumbnails and overviews. Save the slide with more pyramid levels "
            "(bfconvert -pyramid-resolutions 6 -pyramid-scale 2, or QuPath's OME-TIFF export) and import that"
        )
