"""The bioimage.io processing steps segstudio runs, against the spec's formulas on seeded arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.bioimageio import processing
from core.errors import ModelPackageError

AXES = ("batch", "channel", "y", "x")


def _steps(raw: list[dict], allowed=processing.PREPROCESSING, channels: int = 2) -> tuple[dict, ...]:
    return processing.check_steps(raw, allowed, where="input 'raw'", axes=AXES, channels=channels,
                                  tensor_id="raw")


def _run(raw: list[dict], image: np.ndarray) -> np.ndarray:
    fixed = processing.resolve(_steps(raw, channels=image.shape[0]), image.reshape(image.shape[0], -1))
    return processing.apply_fixed(image, fixed)


@pytest.fixture
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.stack([rng.normal(100, 20, (12, 9)), rng.normal(5, 1, (12, 9))])


def test_statistics_per_channel_or_over_all_channels(image: np.ndarray):
    out = _run([{"id": "zero_mean_unit_variance", "kwargs": {"axes": ["y", "x"]}}], image)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 1, atol=1e-4)
    joint = _run([{"id": "zero_mean_unit_variance"}], image)  # no axes: every axis together
    np.testing.assert_allclose(joint, (image - image.mean()) / (image.std() + 1e-6), atol=1e-5)
    ranged = _run([{"id": "scale_range", "kwargs": {"axes": ["batch", "y", "x"], "min_percentile": 1,
                                                    "max_percentile": 99.8}}], image)
    low = np.percentile(image, 1, axis=(1, 2))[:, None, None]
    high = np.percentile(image, 99.8, axis=(1, 2))[:, None, None]
    np.testing.assert_allclose(ranged, (image - low) / (high - low + 1e-6), atol=1e-5)


def test_fixed_steps_in_order(image: np.ndarray):
    out = _run([
        {"id": "scale_linear", "kwargs": {"axis": "channel", "gain": [2.0, 3.0], "offset": [1.0, -1.0]}},
        {"id": "fixed_zero_mean_unit_variance", "kwargs": {"mean": 10.0, "std": 4.0}},
        {"id": "clip", "kwargs": {"min": -1.0, "max": 40.0}},
        {"id": "ensure_dtype", "kwargs": {"dtype": "uint8"}},
    ], image)
    expected = image * np.array([2.0, 3.0])[:, None, None] + np.array([1.0, -1.0])[:, None, None]
    expected = np.clip((expected - 10.0) / (4.0 + 1e-6), -1.0, 40.0)
    np.testing.assert_allclose(out, np.clip(np.trunc(expected), 0, 255), atol=1e-4)
    clip = {"id": "clip", "kwargs": {"min_percentile": 5, "max_percentile": 95, "axes": ["y", "x"]}}
    clipped = _run([clip], image)
    np.testing.assert_allclose(clipped.max(axis=(1, 2)), np.percentile(image, 95, axis=(1, 2)), rtol=1e-5)


def test_output_steps():
    logits = torch.tensor([[[[0.0]], [[2.0]], [[-1.0]]]])  # (1, 3, 1, 1)
    post = _steps([{"id": "softmax", "kwargs": {"axis": "channel"}}], processing.POSTPROCESSING, channels=3)
    np.testing.assert_allclose(processing.apply_output(logits, post)[0, :, 0, 0].numpy(),
                               torch.softmax(logits[0, :, 0, 0], 0).numpy(), rtol=1e-6)
    post = _steps([{"id": "sigmoid"}, {"id": "binarize", "kwargs": {"threshold": 0.6}}],
                  processing.POSTPROCESSING, channels=3)
    assert processing.apply_output(logits, post)[0, :, 0, 0].tolist() == [0.0, 1.0, 0.0]


@pytest.mark.parametrize(("raw", "allowed", "match"), [
    ([{"id": "stardist_postprocessing"}], processing.POSTPROCESSING, "which segstudio does not run"),
    ([{"id": "scale_range", "kwargs": {"reference_tensor": "other"}}], processing.PREPROCESSING,
     "from another tensor"),
    ([{"id": "scale_range", "kwargs": {"axes": ["x"]}}], processing.PREPROCESSING, "include y and x"),
    ([{"id": "scale_linear", "kwargs": {"axis": "channel", "gain": [1.0, 2.0, 3.0]}}],
     processing.PREPROCESSING, "one per channel"),
    ([{"id": "softmax", "kwargs": {"axis": "x"}}], processing.POSTPROCESSING, "along the channel axis"),
    ([{"id": "clip", "kwargs": {"max_percentile": 99}}], processing.POSTPROCESSING, "fixed values only"),
    ([{"id": "fixed_zero_mean_unit_variance", "kwargs": {"mean": 1.0, "std": float("nan")}}],
     processing.PREPROCESSING, "finite numbers"),
    ("scale_range", processing.PREPROCESSING, "expected a list"),
])
def test_steps_segstudio_does_not_run_are_refused_with_the_reason(raw, allowed, match):
    with pytest.raises(ModelPackageError, match=match):
        _steps(raw, allowed)
