"""Import round trips: pixels identical, metadata recorded, thumbnail written."""

from __future__ import annotations

import hashlib

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image

from core.imaging import import_image, open_image, read_array, read_region


def _stored_pixels(path) -> np.ndarray:
    with open_image(path) as reader:
        return reader.read_level(0)


def _check_common(stored, src, *, width, height, channels, dtype):
    assert (stored.width, stored.height, stored.channels, stored.dtype) == (width, height, channels, dtype)
    assert stored.content_hash == hashlib.sha256(src.read_bytes()).hexdigest()
    assert stored.path.name.endswith(".tif") and stored.path.exists()
    thumb = np.asarray(Image.open(stored.thumb_path))
    assert thumb.ndim == 3 and thumb.shape[2] == 3 and max(thumb.shape[:2]) == 256
    with tifffile.TiffFile(stored.path) as tif:
        page = tif.pages[0]
        assert page.is_tiled
        if channels > 1:
            assert page.planarconfig == tifffile.PLANARCONFIG.SEPARATE


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grayscale_tiff_round_trip(tmp_path, rng, dtype):
    arr = rng.integers(0, np.iinfo(dtype).max, (70, 90), dtype=dtype)
    src = tmp_path / "gray.tif"
    tifffile.imwrite(src, arr)
    stored = import_image(src, tmp_path / "store", "g1")
    _check_common(stored, src, width=90, height=70, channels=1, dtype=np.dtype(dtype).name)
    assert stored.levels == 1 and not stored.is_rgb and not stored.is_wsi and stored.notes == ()
    np.testing.assert_array_equal(_stored_pixels(stored.path), arr[np.newaxis])


def test_rgb_tiff_round_trip(tmp_path, rng):
    arr = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
    src = tmp_path / "rgb.tiff"
    tifffile.imwrite(src, arr, photometric="rgb")
    stored = import_image(src, tmp_path / "store", "rgb")
    _check_common(stored, src, width=50, height=40, channels=3, dtype="uint8")
    assert stored.is_rgb
    np.testing.assert_array_equal(_stored_pixels(stored.path), np.moveaxis(arr, -1, 0))


def test_ten_channel_tiff_round_trip(tmp_path, rng):
    arr = rng.integers(0, 65535, (10, 33, 47), dtype=np.uint16)
    src = tmp_path / "ten.tif"
    tifffile.imwrite(src, arr)  # shaped series, axes QYX: channels once the caller confirms it
    stored = import_image(src, tmp_path / "store", "ten", pages_as="channels")
    _check_common(stored, src, width=47, height=33, channels=10, dtype="uint16")
    np.testing.assert_array_equal(_stored_pixels(stored.path), arr)


def test_ome_tiff_cyx_with_pixel_size(tmp_path, rng):
    arr = rng.integers(0, 4095, (4, 30, 20), dtype=np.uint16)
    src = tmp_path / "cells.ome.tif"
    tifffile.imwrite(
        src, arr, ome=True, metadata={"axes": "CYX", "PhysicalSizeX": 325.0, "PhysicalSizeXUnit": "nm"}
    )
    stored = import_image(src, tmp_path / "store", "ome")
    assert stored.source_format == "OME-TIFF" and stored.channels == 4
    assert stored.pixel_size_um == pytest.approx(0.325)
    np.testing.assert_array_equal(_stored_pixels(stored.path), arr)


def test_imagej_hyperstack_channels_last_in_file_order(tmp_path, rng):
    arr = rng.integers(0, 65535, (1, 1, 3, 25, 35), dtype=np.uint16)  # TZCYX with C=3
    src = tmp_path / "ij.tif"
    tifffile.imwrite(src, arr, imagej=True, metadata={"axes": "TZCYX", "unit": "um"}, resolution=(2.0, 2.0))
    stored = import_image(src, tmp_path / "store", "ij")
    assert stored.source_format == "ImageJ TIFF" and stored.channels == 3
    assert stored.pixel_size_um == pytest.approx(0.5)
    np.testing.assert_array_equal(_stored_pixels(stored.path), arr[0, 0])


def test_rgba_tiff_drops_alpha(tmp_path, rng):
    arr = rng.integers(0, 255, (20, 30, 4), dtype=np.uint8)
    src = tmp_path / "rgba.tif"
    tifffile.imwrite(src, arr, photometric="rgb", extrasamples=["unassalpha"])
    stored = import_image(src, tmp_path / "store", "rgba")
    assert stored.channels == 3 and stored.is_rgb
    assert any("alpha" in note for note in stored.notes)
    np.testing.assert_array_equal(_stored_pixels(stored.path), np.moveaxis(arr[..., :3], -1, 0))


@pytest.mark.parametrize(
    "mode,shape,dtype",
    [("L", (30, 40), np.uint8), ("RGB", (30, 40, 3), np.uint8), ("I;16", (30, 40), np.uint16)],
)
def test_png_round_trip(tmp_path, rng, mode, shape, dtype):
    arr = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype)
    src = tmp_path / "pic.png"
    Image.fromarray(arr, mode=mode if mode != "I;16" else None).save(src)
    stored = import_image(src, tmp_path / "store", "png")
    channels = 3 if mode == "RGB" else 1
    _check_common(stored, src, width=40, height=30, channels=channels, dtype=np.dtype(dtype).name)
    assert stored.source_format == "PNG" and stored.is_rgb == (mode == "RGB")
    expected = np.moveaxis(arr, -1, 0) if arr.ndim == 3 else arr[np.newaxis]
    np.testing.assert_array_equal(_stored_pixels(stored.path), expected)


def test_palette_png_becomes_rgb(tmp_path):
    idx = (np.arange(12 * 16).reshape(12, 16) % 4).astype(np.uint8)
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
    im = Image.fromarray(idx, mode="P")
    im.putpalette(palette + [0] * (768 - len(palette)))
    src = tmp_path / "pal.png"
    im.save(src)
    stored = import_image(src, tmp_path / "store", "pal")
    assert stored.channels == 3 and stored.is_rgb and any("palette" in n for n in stored.notes)
    lut = np.array(palette, np.uint8).reshape(4, 3)
    np.testing.assert_array_equal(_stored_pixels(stored.path), np.moveaxis(lut[idx], -1, 0))
    np.testing.assert_array_equal(read_array(src), idx)  # masks keep palette indices


def test_rgba_png_drops_alpha(tmp_path, rng):
    arr = rng.integers(0, 255, (10, 12, 4), dtype=np.uint8)
    src = tmp_path / "rgba.png"
    Image.fromarray(arr, mode="RGBA").save(src)
    stored = import_image(src, tmp_path / "store", "rgba")
    assert stored.channels == 3 and any("alpha" in n for n in stored.notes)
    np.testing.assert_array_equal(_stored_pixels(stored.path), np.moveaxis(arr[..., :3], -1, 0))


@pytest.mark.parametrize("rgb", [False, True])
def test_jpeg_round_trip_equals_decoded_pixels(tmp_path, rng, rgb):
    shape = (24, 40, 3) if rgb else (24, 40)
    src = tmp_path / "photo.jpg"
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(src, quality=90)
    decoded = imagecodecs.jpeg8_decode(src.read_bytes())
    stored = import_image(src, tmp_path / "store", "jpg")
    assert stored.source_format == "JPEG" and stored.is_rgb == rgb and stored.channels == (3 if rgb else 1)
    expected = np.moveaxis(decoded, -1, 0) if rgb else decoded[np.newaxis]
    np.testing.assert_array_equal(_stored_pixels(stored.path), expected)


def test_read_array_returns_2d_masks_with_dtype_kept(tmp_path, rng):
    labels = rng.integers(0, 70000, (16, 18)).astype(np.int32)
    tifffile.imwrite(tmp_path / "mask.tif", labels)
    out = read_array(tmp_path / "mask.tif")
    assert out.dtype == np.int32 and out.shape == (16, 18)
    np.testing.assert_array_equal(out, labels)
    Image.fromarray(np.array([[0, 1], [1, 0]], bool)).save(tmp_path / "bin.png")
    np.testing.assert_array_equal(read_array(tmp_path / "bin.png"), [[0, 1], [1, 0]])


def test_png_and_jpeg_can_be_opened_for_regions(tmp_path, rng):
    arr = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    np.testing.assert_array_equal(
        read_region(tmp_path / "a.png", 0, 5, 6, 7, 8), np.moveaxis(arr[5:12, 6:14], -1, 0)
    )


def test_cmyk_jpeg_becomes_rgb(tmp_path, rng):
    src = tmp_path / "print.jpg"
    Image.fromarray(rng.integers(0, 255, (16, 24, 3), dtype=np.uint8)).convert("CMYK").save(src)
    stored = import_image(src, tmp_path / "store", "cmyk")
    assert stored.channels == 3 and stored.is_rgb and any("CMYK" in n for n in stored.notes)
    expected = np.moveaxis(np.asarray(Image.open(src).convert("RGB")), -1, 0)
    np.testing.assert_array_equal(_stored_pixels(stored.path), expected)
