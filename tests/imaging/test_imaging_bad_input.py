"""Every bad input gives an ImageImportError naming the file and saying how to fix it."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image

from core.errors import ImageImportError
from core.imaging import import_image, probe


def _import_error(tmp_path, src, **kwargs) -> str:
    with pytest.raises(ImageImportError) as info:
        import_image(src, tmp_path / "store", "x", **kwargs)
    message = str(info.value)
    assert src.name in message
    store = tmp_path / "store"
    assert not store.exists() or list(store.iterdir()) == []
    return message


def test_truncated_tiff(tmp_path, rng):
    src = tmp_path / "cut.tif"
    tifffile.imwrite(src, rng.integers(0, 255, (200, 300), dtype=np.uint8), tile=(64, 64), compression="zlib")
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])
    message = _import_error(tmp_path, src)
    assert "truncated" in message and "again" in message


def test_corrupt_compressed_data(tmp_path, rng):
    src = tmp_path / "bad.tif"
    tifffile.imwrite(src, rng.integers(0, 255, (64, 64), dtype=np.uint8), tile=(32, 32), compression="zlib")
    with tifffile.TiffFile(src) as tif:
        offset = tif.pages[0].dataoffsets[1]
    data = bytearray(src.read_bytes())
    data[offset : offset + 40] = b"\x00" * 40
    src.write_bytes(bytes(data))
    assert "corrupt" in _import_error(tmp_path, src)


def test_garbage_with_tif_extension(tmp_path):
    src = tmp_path / "garbage.tif"
    src.write_bytes(b"this is not an image at all" * 10)
    message = _import_error(tmp_path, src)
    assert "not TIFF" in message and "Fiji" in message


def test_garbage_after_tiff_magic(tmp_path):
    src = tmp_path / "magic.tif"
    src.write_bytes(b"II*\x00" + b"\xff" * 100)
    assert "corrupt" in _import_error(tmp_path, src)


@pytest.mark.parametrize(
    "name,head",
    [
        ("scan.czi", b"ZISRAWFILE" + b"\x00" * 30),
        ("pic.bmp", b"BM" + b"\x00" * 60),
        ("notes.txt", b"hello world"),
    ],
)
def test_unsupported_format_lists_supported(tmp_path, name, head):
    src = tmp_path / name
    src.write_bytes(head)
    message = _import_error(tmp_path, src)
    assert "not supported" in message and "OME-TIFF" in message and "PNG" in message and "JPEG" in message


def test_empty_file(tmp_path):
    src = tmp_path / "empty.tif"
    src.write_bytes(b"")
    assert "empty" in _import_error(tmp_path, src)


def test_imagej_z_stack_is_refused_with_axes(tmp_path):
    src = tmp_path / "zstack.tif"
    tifffile.imwrite(src, np.zeros((5, 64, 64), np.uint8), imagej=True, metadata={"axes": "ZYX"})
    message = _import_error(tmp_path, src)
    assert "3D" in message and "Z" in message and "=5" in message and "2D" in message
    assert "single plane" in message and "Fiji" in message


def test_time_series_is_refused(tmp_path):
    src = tmp_path / "movie.ome.tif"
    tifffile.imwrite(src, np.zeros((3, 2, 16, 16), np.uint16), ome=True, metadata={"axes": "TCYX"})
    message = _import_error(tmp_path, src)
    assert "time (T)=3" in message and "2D" in message


def test_eleven_channels_refused(tmp_path):
    src = tmp_path / "eleven.ome.tif"
    tifffile.imwrite(src, np.zeros((11, 16, 16), np.uint16), ome=True, metadata={"axes": "CYX"})
    message = _import_error(tmp_path, src)
    assert "11 channels" in message and "at most 10" in message


def test_channel_limit_is_a_keyword(tmp_path):
    src = tmp_path / "three.tif"
    tifffile.imwrite(src, np.zeros((3, 16, 16), np.uint8), photometric="minisblack")
    assert "at most 2" in _import_error(tmp_path, src, max_channels=2)


def test_over_625_megapixels_refused_from_metadata(tmp_path):
    src = tmp_path / "huge.tif"
    tifffile.imwrite(src, shape=(25001, 25001), dtype=np.uint8)  # sparse file, only headers written
    message = _import_error(tmp_path, src)
    assert "625" in message and "megapixels" in message and "25001 x 25001" in message


def test_megapixel_limit_is_a_keyword(tmp_path):
    src = tmp_path / "small.png"
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(src)
    assert "0.01 megapixels" in _import_error(tmp_path, src, max_megapixels=0.005)


def test_zero_sized_tiff(tmp_path):
    src = tmp_path / "zero.tif"
    with pytest.warns(UserWarning):
        tifffile.imwrite(src, np.zeros((0, 10), np.uint8))
    assert "zero-sized" in _import_error(tmp_path, src)


def _png_bytes(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def test_zero_sized_png(tmp_path):
    src = tmp_path / "zero.png"
    src.write_bytes(_png_bytes(0, 5))
    assert "zero-sized" in _import_error(tmp_path, src)


def test_truncated_png(tmp_path, rng):
    src = tmp_path / "cut.png"
    Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(src)
    src.write_bytes(src.read_bytes()[:200])
    assert "corrupt" in _import_error(tmp_path, src)


def test_truncated_jpeg(tmp_path, rng):
    src = tmp_path / "cut.jpg"
    Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(src)
    src.write_bytes(src.read_bytes()[:100])
    assert "corrupt" in _import_error(tmp_path, src)


def test_complex_pixels_refused(tmp_path):
    src = tmp_path / "complex.tif"
    tifffile.imwrite(src, np.zeros((8, 8), np.complex64))
    assert "not supported" in _import_error(tmp_path, src)


def test_probe_reads_metadata_only(tmp_path, rng):
    src = tmp_path / "p.tif"
    tifffile.imwrite(src, rng.integers(0, 255, (20, 30, 3), dtype=np.uint8), photometric="rgb")
    info = probe(src)
    assert (info.width, info.height, info.channels, info.dtype, info.is_rgb) == (30, 20, 3, "uint8", True)


def test_missing_file(tmp_path):
    with pytest.raises(ImageImportError, match="not found"):
        import_image(tmp_path / "nope.tif", tmp_path / "store", "x")
