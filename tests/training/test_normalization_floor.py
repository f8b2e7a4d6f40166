"""The stretch floor of per-image normalisation: nearly empty images are not blown up (hand-computed)."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ModelPackageError
from core.inference.predictor import Predictor
from core.training.normalization import (
    FLOOR_FRACTION,
    apply_normalization,
    compute_normalization,
    floor_warning,
    image_normalization,
)
from core.training.sources import ArrayImage
from tests.inference.helpers import Pointwise, pointwise_card


def _two_level(lo: float, hi: float, channels: int = 1, size: int = 20) -> np.ndarray:
    """(C, size, size) uint16 (the training images' type): the left half ``lo``, the right half ``hi``
    (exact percentiles 0 and 100)."""
    image = np.full((channels, size, size), lo, dtype=np.uint16)
    image[:, :, size // 2 :] = hi
    return image


def _image(key: str, pixels: np.ndarray) -> ArrayImage:
    return ArrayImage(key, pixels.astype(np.uint16), masks=np.zeros((1, *pixels.shape[1:]), bool))


def _training_record(scope: str = "image") -> dict:
    """Three training images with ranges 100, 200 and 400 (percentiles 0 and 100): median range 200,
    floor 0.25 x 200 = 50."""
    images = [_image(f"t{i}", _two_level(0, top)) for i, top in enumerate((100, 200, 400))]
    return compute_normalization(images, low=0.0, high=100.0, scope=scope)


def test_the_card_records_the_training_images_median_values_and_the_floor():
    norm = _training_record()
    assert norm["reference"] == {"low": [0.0], "high": [200.0], "stretch": [200.0], "images": 3}
    assert FLOOR_FRACTION == 0.25 and norm["floor_fraction"] == 0.25 and norm["stretch_floor"] == [50.0]
    assert norm["low"] == [0.0] and norm["high"] == [400.0]  # the pooled values, unchanged


def test_a_nearly_empty_image_is_scaled_with_the_floor_and_says_so():
    norm = _training_record()
    empty = _two_level(10, 30)  # range 20 < floor 50: low 10, high 10 + the median range 200
    record = image_normalization(_image("empty", empty), norm)
    assert record["low"] == [10.0] and record["high"] == [210.0] and record["floored"] == [0]
    assert record["own_stretch"] == [20.0]
    out = apply_normalization(empty, norm)  # the whole image (validation) gives the same
    assert np.allclose(np.unique(out), [0.0, 0.1])  # (30 - 10) / 200, not 1
    warning = floor_warning(record)
    assert "nearly empty" in warning and "range 20" in warning and "typically 200" in warning
    assert "25%" in warning


def test_images_at_or_above_the_floor_are_normalised_exactly_as_before():
    norm = _training_record()
    for top in (50, 60, 400, 4000):  # range 50 equals the floor: not floored
        image = _two_level(0, top)
        record = image_normalization(_image("x", image), norm)
        assert record["low"] == [0.0] and record["high"] == [float(top)] and record["floored"] == []
        assert floor_warning(record) is None
        assert np.allclose(np.unique(apply_normalization(image, norm)), [0.0, 1.0])


def test_a_record_without_a_floor_keeps_the_plain_per_image_stretch():
    new_keys = ("reference", "stretch_floor", "floor_fraction")
    old = {k: v for k, v in _training_record().items() if k not in new_keys}
    empty = _two_level(10, 30)
    record = image_normalization(_image("empty", empty), old)
    assert record["high"] == [30.0] and "floored" not in record and floor_warning(record) is None
    assert np.allclose(np.unique(apply_normalization(empty, old)), [0.0, 1.0])


def test_dataset_scope_uses_the_training_values_for_every_image():
    norm = _training_record(scope="dataset")
    empty = _two_level(10, 30)
    assert image_normalization(_image("empty", empty), norm) is norm
    assert np.allclose(np.unique(apply_normalization(empty, norm)), [10 / 400, 30 / 400])


def test_the_floor_is_per_channel():
    images = [_image(f"t{i}", _two_level(0, top, channels=2)) for i, top in enumerate((100, 200, 400))]
    norm = compute_normalization(images, low=0.0, high=100.0, scope="image")
    image = np.concatenate([_two_level(10, 30), _two_level(0, 300)])  # channel 1 empty, channel 2 bright
    record = image_normalization(_image("mixed", image), norm)
    assert record["floored"] == [0] and record["low"] == [10.0, 0.0] and record["high"] == [210.0, 300.0]
    assert "channel 1:" in floor_warning(record) and "channel 2:" not in floor_warning(record)


def test_a_floor_for_the_wrong_channel_count_is_a_damaged_card():
    norm = {**_training_record(), "stretch_floor": [50.0, 50.0]}
    with pytest.raises(ModelPackageError, match="stretch_floor"):
        apply_normalization(_two_level(10, 30), norm)
    norm = {**_training_record(), "reference": {}}
    with pytest.raises(ModelPackageError, match="reference stretch"):
        apply_normalization(_two_level(10, 30), norm)


def test_training_validation_and_inference_resolve_the_same_record():
    norm = _training_record()
    empty = _two_level(10, 30, size=40).astype(np.uint16)
    training = image_normalization(_image("empty", empty), norm)  # what the patch sampler applies
    card = {**pointwise_card("semantic"), "normalization": norm}
    predictor = Predictor(Pointwise("semantic"), card)

    def read(y: int, x: int, h: int, w: int) -> np.ndarray:
        return empty[:, y : y + h, x : x + w]

    inference = predictor.image_normalization(empty.shape, read)
    assert inference == training
    region = predictor.normalize(empty[:, 5:25, 10:30], inference)
    whole = apply_normalization(empty, norm)  # what validation's whole-image pass applies
    assert np.array_equal(region, whole[:, 5:25, 10:30])
