from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from core.assist import FeatureSpec, channel_scale, pixel_features
from core.errors import InvalidInputError
from core.imaging import open_image


def test_spec_round_trip_names_and_halo():
    spec = FeatureSpec(sigmas=(1, 3), texture=False)
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    assert spec.sigmas == (1.0, 3.0)
    assert spec.per_channel == 4 and spec.n_features(3) == 12 and len(spec.names(3)) == 12
    assert spec.halo == int(3.5 * 3 + 0.5) + 1
    assert FeatureSpec().halo >= max(FeatureSpec().sigmas) * 3


@pytest.mark.parametrize(
    "kwargs, match",
    [({"sigmas": ()}, "sigmas"), ({"sigmas": (0,)}, "sigmas"), ({"sigmas": ("a",)}, "numbers"),
     ({"intensity": False, "edges": False, "texture": False}, "at least one")],
)
def test_spec_refuses_bad_values(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        FeatureSpec(**kwargs)


def test_from_dict_refuses_unknown_keys():
    with pytest.raises(InvalidInputError, match="unknown keys"):
        FeatureSpec.from_dict({"sigmas": [1], "colour": True})


def test_features_shape_dtype_and_any_input_dtype(rng):
    pixels = rng.integers(0, 4000, size=(2, 30, 40)).astype(np.uint16)
    scale = channel_scale(pixels)
    spec = FeatureSpec(sigmas=(1.0, 2.0))
    feats = pixel_features(pixels, scale, spec)
    assert feats.shape == (30, 40, spec.n_features(2)) and feats.dtype == np.float32
    assert np.isfinite(feats).all()
    as_float = pixel_features(pixels.astype(np.float64), scale, spec)
    np.testing.assert_allclose(as_float, feats, rtol=1e-5, atol=1e-6)


def test_tiled_features_equal_whole_image_features(rng):
    pixels = rng.normal(100, 20, size=(1, 90, 110)).astype(np.float32)
    spec = FeatureSpec(sigmas=(1.0, 4.0))
    scale = channel_scale(pixels)
    whole = pixel_features(pixels, scale, spec)
    h = spec.halo
    y, x, th, tw = 30, 35, 20, 25  # an inner tile, read with its halo
    window = pixels[:, y - h : y + th + h, x - h : x + tw + h]
    tiled = pixel_features(window, scale, spec)[h : h + th, h : h + tw]
    assert np.array_equal(tiled, whole[y : y + th, x : x + tw])
    corner = pixel_features(pixels[:, : 20 + h, : 20 + h], scale, spec)[:20, :20]  # at the image border
    assert np.array_equal(corner, whole[:20, :20])


def test_features_refuse_bad_pixels_and_scale():
    with pytest.raises(InvalidInputError, match=r"\(C, H, W\)"):
        pixel_features(np.zeros((8, 8)), ((0, 1),))
    with pytest.raises(InvalidInputError, match="scale has 1 channel"):
        pixel_features(np.zeros((2, 8, 8)), ((0, 1),))
    with pytest.raises(InvalidInputError, match="high > low"):
        pixel_features(np.zeros((1, 8, 8)), ((1, 1),))


def test_channel_scale_of_array_flat_channel_and_nan():
    pixels = np.stack([np.arange(1000, dtype=np.float32).reshape(20, 50), np.full((20, 50), 7.0)])
    (lo0, hi0), (lo1, hi1) = channel_scale(pixels)
    assert lo0 == pytest.approx(np.percentile(np.arange(1000), 1)) and hi0 == pytest.approx(
        np.percentile(np.arange(1000), 99.8))
    assert (lo1, hi1) == (7.0, 8.0)  # a flat channel still scales without dividing by zero
    with pytest.raises(InvalidInputError, match="no finite value"):
        channel_scale(np.full((1, 4, 4), np.nan))


def test_channel_scale_of_reader_matches_array_and_samples_large_levels(tmp_path: Path, rng, monkeypatch):
    image = rng.integers(0, 255, size=(200, 300)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "a.tif", image, tile=(64, 64))
    with open_image(tmp_path / "a.tif") as reader:
        assert channel_scale(reader) == channel_scale(image[None])
        import core.assist.scale as scale_module

        monkeypatch.setattr(scale_module, "WHOLE_LEVEL_PIXELS", 1000)  # force the window sampling
        sampled = channel_scale(reader)
    assert len(sampled) == 1 and 0 <= sampled[0][0] < sampled[0][1] <= 255
