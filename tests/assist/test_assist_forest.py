from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from core.assist import (
    FeatureSpec,
    Proposal,
    ScribbleForest,
    Stroke,
    channel_scale,
    clean_classes,
    metadata_path,
    pixel_features,
    propose,
    read_metadata,
    stroke_map,
    stroke_samples,
)
from core.errors import InvalidInputError, ModelPackageError
from tests.assist.conftest import texture_strokes, two_textures


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_a_few_strokes_on_two_textures_give_iou_above_0_9(textures):
    image, disc, strokes = textures
    forest, proposal = propose(image, channel_scale(image), strokes, (7,))
    shown = clean_classes(proposal.classes)
    assert iou(shown == 1, disc) >= 0.9
    assert forest.label_ids == (7,) and forest.context and forest.n_samples[0] > forest.n_samples[1] > 0
    assert proposal.label_ids == (7,)
    assert proposal.probabilities.shape == (2, 128, 128) and proposal.probabilities.dtype == np.float32
    np.testing.assert_allclose(proposal.probabilities.sum(axis=0), 1.0, atol=1e-5)
    assert proposal.classes.dtype == np.uint8
    assert np.array_equal(proposal.classes, np.argmax(proposal.probabilities, axis=0))
    u = proposal.uncertainty
    assert u.dtype == np.float32 and 0 <= u.min() and u.max() <= 1
    assert u[~disc].mean() < 0.5 and u[60, 70] < 0.2  # sure inside the disc and in the background


@pytest.mark.parametrize("channels", [2, 3])
def test_multichannel_images(channels):
    image, disc = two_textures(seed=1, channels=channels)
    forest, proposal = propose(image, channel_scale(image), texture_strokes(), (3,))
    assert forest.channels == channels
    assert forest.stages[0].n_features_in_ == FeatureSpec().n_features(channels)
    assert iou(clean_classes(proposal.classes) == 1, disc) >= 0.85


def test_region_places_the_pixels_in_the_image(textures):
    image, disc, strokes = textures
    shifted = [Stroke(s.points + [100, 40], s.width, s.class_index) for s in strokes]
    _, at_origin = propose(image, channel_scale(image), strokes, (1,))
    _, placed = propose(image, channel_scale(image), shifted, (1,), region=(40, 100, 128, 128))
    assert np.array_equal(at_origin.classes, placed.classes)
    with pytest.raises(InvalidInputError, match="exactly that region"):
        propose(image, channel_scale(image), strokes, (1,), region=(0, 0, 64, 64))


def test_extra_regions_train_a_view_without_strokes(textures):
    image, disc, strokes = textures
    scale = channel_scale(image)
    other = (pixel_features(image, scale, FeatureSpec()), stroke_map(strokes, (0, 0, 128, 128)))
    twin, _ = two_textures(seed=5)  # another image of the same kind, no stroke on it
    forest, proposal = propose(twin, channel_scale(twin), [], (1,), extra_regions=[other])
    assert forest.n_samples[1] == int((other[1] == 2).sum())
    assert iou(clean_classes(proposal.classes) == 1, disc) >= 0.7  # learnt on one image, applied to another


def test_fit_is_deterministic_for_a_seed(textures):
    image, _, strokes = textures
    scale = channel_scale(image)
    a = propose(image, scale, strokes, (1,), seed=3)[1]
    b = propose(image, scale, strokes, (1,), seed=3)[1]
    assert np.array_equal(a.probabilities, b.probabilities)


def test_threaded_prediction_equals_sklearn_and_leaves_warning_filters_alone(textures, monkeypatch):
    import warnings

    import core.assist.forest as forest_module

    image, _, strokes = textures
    forest, _ = propose(image, channel_scale(image), strokes, (1,))
    feats = pixel_features(image, channel_scale(image), forest.spec)
    monkeypatch.setattr(forest_module, "PREDICT_CHUNK", 1000)  # 17 chunks in parallel threads
    filters = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn warns when its joblib layer runs in parallel threads
        probs = forest._stage_probabilities(0, feats)
    expected = forest.stages[0].predict_proba(feats.reshape(-1, feats.shape[2]))
    assert np.array_equal(probs.reshape(2, -1).T, expected.astype(np.float32))
    assert warnings.filters == filters


def test_refuses_strokes_of_only_one_class(textures):
    image, _, strokes = textures
    scale = channel_scale(image)
    only_label = [s for s in strokes if s.class_index == 1]
    with pytest.raises(InvalidInputError, match="Brush some background and at least one label"):
        propose(image, scale, only_label, (1,))
    only_background = [s for s in strokes if s.class_index == 0]
    with pytest.raises(InvalidInputError, match="no stroke for a label"):
        propose(image, scale, only_background, (1,))
    with pytest.raises(InvalidInputError, match="Brush some background"):
        propose(image, scale, [], (1,))


def test_a_label_without_strokes_is_never_proposed(textures):
    image, disc, strokes = textures
    forest, proposal = propose(image, channel_scale(image), strokes, (4, 9))  # no stroke for label 9
    assert proposal.probabilities.shape[0] == 3 and not proposal.probabilities[2].any()
    assert 2 not in np.unique(proposal.classes) and forest.present == (0, 1)


def test_one_stage_fit_on_samples_and_bad_samples(textures):
    image, disc, strokes = textures
    spec = FeatureSpec()
    feats = pixel_features(image, channel_scale(image), spec)
    X, y = stroke_samples(feats, stroke_map(strokes, (0, 0, 128, 128)))
    forest = ScribbleForest.fit(X, y, label_ids=(2,), spec=spec, channels=1, max_samples_per_class=300)
    assert not forest.context and forest.n_samples == {0: int((y == 0).sum()), 1: int((y == 1).sum())}
    proposal = forest.predict(feats)
    assert isinstance(proposal, Proposal) and iou(proposal.classes == 1, disc) > 0.7
    with pytest.raises(InvalidInputError, match="class indices in y"):
        ScribbleForest.fit(X, y + 1, label_ids=(2,), spec=spec, channels=1)
    with pytest.raises(InvalidInputError, match=r"X must be \(n, 20\)"):
        ScribbleForest.fit(X[:, :5], y, label_ids=(2,), spec=spec, channels=1)
    with pytest.raises(InvalidInputError, match="label_ids"):
        ScribbleForest.fit(X, y, label_ids=(0,), spec=spec, channels=1)
    with pytest.raises(InvalidInputError, match=r"features must be \(H, W, 20\)"):
        forest.predict(feats[..., :3])


def test_save_load_round_trip_predicts_identically(textures, tmp_path: Path):
    image, _, strokes = textures
    scale = channel_scale(image)
    forest, proposal = propose(image, scale, strokes, (5, 6))
    path = tmp_path / "forest.joblib"
    forest.save(path)
    meta = read_metadata(path)
    assert meta["label_ids"] == [5, 6] and meta["channels"] == 1 and meta["stages"] == 2
    assert FeatureSpec.from_dict(meta["spec"]) == forest.spec
    assert meta["n_samples"]["0"] == forest.n_samples[0]
    loaded = ScribbleForest.load(path)
    assert loaded.label_ids == (5, 6) and loaded.spec == forest.spec and loaded.n_samples == forest.n_samples
    again = loaded.predict(pixel_features(image, scale, loaded.spec))
    assert np.array_equal(again.probabilities, proposal.probabilities)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_missing_corrupt_or_foreign_files_give_clear_errors(textures, tmp_path: Path):
    image, _, strokes = textures
    forest, _ = propose(image, channel_scale(image), strokes, (1,))
    path = tmp_path / "forest.joblib"
    with pytest.raises(ModelPackageError, match="does not exist"):
        ScribbleForest.load(path)
    forest.save(path)
    meta_file = metadata_path(path)
    meta = json.loads(meta_file.read_text())

    meta_file.write_text(json.dumps({**meta, "sklearn": "0.1.0"}))
    with pytest.raises(ModelPackageError, match=r"scikit-learn 0\.1\.0.*train the assistant again"):
        ScribbleForest.load(path)
    meta_file.write_text(json.dumps({**meta, "context_sigmas": [1.0]}))
    with pytest.raises(ModelPackageError, match="earlier version"):
        ScribbleForest.load(path)
    meta_file.write_text(json.dumps(meta))

    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelPackageError, match="damaged"):
        ScribbleForest.load(path)
    meta_file.write_text(json.dumps({**meta, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}))
    with pytest.raises(ModelPackageError, match="corrupt"):
        ScribbleForest.load(path)

    meta_file.write_text("{not json")
    with pytest.raises(ModelPackageError, match="unreadable"):
        ScribbleForest.load(path)
    meta_file.unlink()
    with pytest.raises(ModelPackageError, match="metadata file"):
        ScribbleForest.load(path)
