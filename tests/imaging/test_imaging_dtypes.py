"""The pixel-type rule: float / 32-bit / signed / bool sources become uint8 or uint16, with a note."""

from __future__ import annotations

import numpy as np
import tifffile

from core.imaging import import_image, open_image


def _import(tmp_path, arr, name="src.tif"):
    src = tmp_path / name
    tifffile.imwrite(src, arr)
    stored = import_image(src, tmp_path / "store", name.split(".")[0])
    with open_image(stored.path) as reader:
        return stored, reader.read_level(0)[0]


def test_float32_rescaled_to_uint16(tmp_path, rng):
    arr = rng.uniform(-1.0, 1.0, size=(20, 30)).astype(np.float32)
    arr[0, 0], arr[0, 1] = -2.0, 6.0
    stored, out = _import(tmp_path, arr)
    assert stored.dtype == "uint16" and out.dtype == np.uint16
    assert out[0, 0] == 0 and out[0, 1] == 65535
    expected = np.rint((arr.astype(np.float64) + 2.0) * (65535 / 8.0)).astype(np.uint16)
    np.testing.assert_array_equal(out, expected)
    assert any("float32" in n and "rescaled" in n and "[-2, 6]" in n for n in stored.notes)


def test_float_nan_and_constant(tmp_path):
    arr = np.full((8, 8), 3.5, np.float64)
    arr[1, 1] = np.nan
    stored, out = _import(tmp_path, arr)
    assert stored.dtype == "uint16" and not out.any()


def test_uint32_within_16_bits_is_lossless(tmp_path, rng):
    arr = rng.integers(0, 60000, (10, 12)).astype(np.uint32)
    stored, out = _import(tmp_path, arr)
    np.testing.assert_array_equal(out, arr)
    assert any("unchanged" in n for n in stored.notes)


def test_int32_wide_range_rescaled(tmp_path):
    arr = np.array([[-100000, 0], [50000, 100000]], np.int32)
    stored, out = _import(tmp_path, arr)
    assert out[0, 0] == 0 and out[1, 1] == 65535 and any("rescaled" in n for n in stored.notes)


def test_int16_with_negatives_shifted(tmp_path):
    arr = np.array([[-32768, -1], [0, 32767]], np.int16)
    stored, out = _import(tmp_path, arr)
    np.testing.assert_array_equal(out, arr.astype(np.int32) + 32768)
    assert any("+32768" in n for n in stored.notes)


def test_int8_without_negatives_kept(tmp_path):
    arr = np.array([[0, 5], [100, 127]], np.int8)
    stored, out = _import(tmp_path, arr)
    assert stored.dtype == "uint8"
    np.testing.assert_array_equal(out, arr)


def test_bool_becomes_0_255(tmp_path):
    arr = np.array([[True, False], [False, True]])
    stored, out = _import(tmp_path, arr)
    np.testing.assert_array_equal(out, [[255, 0], [0, 255]])
    assert stored.dtype == "uint8"
