"""Cheap header reads for PNG and JPEG: size, bit depth and colour type without decoding pixels."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from core.errors import ImageImportError

# PNG colour type -> (samples per pixel, description)
_PNG_COLOUR = {
    0: (1, "grayscale"),
    2: (3, "RGB"),
    3: (1, "palette"),
    4: (2, "grayscale+alpha"),
    6: (4, "RGBA"),
}
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass(frozen=True)
class RasterHeader:
    """Width, height, bits per sample, samples per pixel and colour model of a PNG or JPEG."""

    width: int
    height: int
    bits: int
    samples: int
    colour: str  # grayscale | RGB | palette | grayscale+alpha | RGBA | CMYK


def _corrupt(path: Path, kind: str, why: str) -> ImageImportError:
    return ImageImportError(
        f"{path.name}: corrupt or truncated {kind} file ({why}); export or download it again"
    )


def read_png_header(path: Path) -> RasterHeader:
    with path.open("rb") as handle:
        head = handle.read(33)
    if len(head) < 33 or head[12:16] != b"IHDR":
        raise _corrupt(path, "PNG", "no IHDR header")
    width, height, bits, colour_type = struct.unpack(">IIBB", head[16:26])
    if colour_type not in _PNG_COLOUR:
        raise _corrupt(path, "PNG", f"unknown colour type {colour_type}")
    samples, colour = _PNG_COLOUR[colour_type]
    return RasterHeader(width, height, bits, samples, colour)


def read_jpeg_header(path: Path) -> RasterHeader:
    with path.open("rb") as handle:
        handle.read(2)  # SOI
        while True:
            marker = handle.read(2)
            if len(marker) < 2:
                raise _corrupt(path, "JPEG", "no frame header (SOF) found")
            if marker[0] != 0xFF:
                raise _corrupt(path, "JPEG", f"bad marker {marker.hex()} at byte {handle.tell() - 2}")
            code = marker[1]
            if code == 0xFF:
                handle.seek(-1, 1)
                continue
            if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:
                continue
            length_bytes = handle.read(2)
            if len(length_bytes) < 2:
                raise _corrupt(path, "JPEG", "file ends inside a header")
            (length,) = struct.unpack(">H", length_bytes)
            if code in _JPEG_SOF:
                body = handle.read(6)
                if len(body) < 6:
                    raise _corrupt(path, "JPEG", "file ends inside the frame header")
                bits, height, width, comps = struct.unpack(">BHHB", body)
                colour = {1: "grayscale", 3: "RGB", 4: "CMYK"}.get(comps, f"{comps} components")
                return RasterHeader(width, height, bits, comps, colour)
            handle.seek(length - 2, 1)
