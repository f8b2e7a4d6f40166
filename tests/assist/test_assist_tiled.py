from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from core.assist import (
    FeatureSpec,
    channel_scale,
    clean_classes,
    pixel_features,
    predict_image,
    predict_region,
    propose,
    stroke_map,
    stroke_regions,
    stroke_samples,
)
from core.assist.forest import ScribbleForest
from core.errors import InvalidInputError
from core.imaging import open_image
from tests.assist.conftest import texture_strokes, two_textures

SPEC = FeatureSpec(sigmas=(1.0, 2.0, 4.0))


@pytest.fixture
def stored(tmp_path: Path):
    """A 2-channel 200 x 230 tiled TIFF of two textures and a forest fitted on its strokes."""
    image, _ = two_textures(200, seed=2, channels=2)
    image = np.pad(image, ((0, 0), (0, 0), (0, 30)), mode="reflect")
    path = tmp_path / "image.tif"
    tifffile.imwrite(path, image, photometric="minisblack", tile=(64, 64))
    scale = channel_scale(image)
    forest, _ = propose(image, scale, texture_strokes(200), (5,), spec=SPEC)
    return path, image, scale, forest


def test_tiled_prediction_equals_whole_image_prediction(stored):
    path, image, scale, forest = stored
    whole = clean_classes(forest.predict(pixel_features(image, scale, forest.spec)).classes)
    fractions = []
    with open_image(path) as reader:
        tiled = predict_image(reader, forest, tile=64, progress=fractions.append)
        assert np.array_equal(predict_image(reader, forest, tile=100), whole)
        region = predict_region(reader, forest, (37, 101, 90, 70), scale=scale)
    assert tiled.dtype == np.uint8 and tiled.shape == image.shape[1:]
    assert np.array_equal(tiled, whole)  # exactly, not only 99.9 % of the pixels
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) == 4 * 4 + 1
    full = forest.predict(pixel_features(image, scale, forest.spec))
    assert np.array_equal(region.probabilities, full.probabilities[:, 37:127, 101:171])


def test_channel_mismatch_too_large_and_stop(stored, tmp_path: Path):
    path, image, scale, forest = stored
    single = tmp_path / "single.tif"
    tifffile.imwrite(single, image[0], tile=(64, 64))
    with open_image(single) as reader, pytest.raises(InvalidInputError, match="1 channel.*images with 2"):
        predict_image(reader, forest)
    with open_image(path) as reader:
        with pytest.raises(InvalidInputError, match=r"230 x 200 px .*max_megapixels|more than"):
            predict_image(reader, forest, max_megapixels=0.01)
        calls = []

        def stop_after_two() -> bool:
            calls.append(1)
            return len(calls) > 2

        with pytest.raises(InterruptedError):
            predict_image(reader, forest, tile=64, should_stop=stop_after_two)
        assert len(calls) == 3
        with pytest.raises(InvalidInputError, match="tile"):
            predict_image(reader, forest, tile=8)


def test_stroke_regions_fit_the_same_forest_as_whole_image_features(stored):
    path, image, scale, _ = stored
    strokes = texture_strokes(200)
    with open_image(path) as reader:
        regions = stroke_regions(reader, strokes, scale, SPEC, tile=64)
    assert regions and all(smap.any() for _, smap in regions)
    feats = pixel_features(image, scale, SPEC)
    # the tiles' samples are the whole image's samples (features read with context are exact)
    X_tiles = np.concatenate([stroke_samples(f, smap)[0] for f, smap in regions])
    X_whole = stroke_samples(feats, stroke_map(strokes, (0, 0, *image.shape[1:])))[0]
    assert np.array_equal(X_tiles[np.lexsort(X_tiles.T)], X_whole[np.lexsort(X_whole.T)])
    forest = ScribbleForest.fit_regions(regions, label_ids=(5,), spec=SPEC, channels=2)
    one_stage = ScribbleForest.fit_regions(regions, label_ids=(5,), spec=SPEC, channels=2, context=False)
    assert forest.context and not one_stage.context
    X_total = sum(int((smap > 0).sum()) for _, smap in regions)
    assert sum(forest.n_samples.values()) == X_total
    assert forest.predict(feats).classes.shape == image.shape[1:]
