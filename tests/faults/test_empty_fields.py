"""Issue 23, empty fields: an image with no objects (background and noise only, far below the training
images' range) must come out (nearly) empty, not with its noise stretched into objects.

The fast tests run the real prediction path (card -> Predictor -> tiled prediction -> label TIFF) with a
network without spatial context (objects = normalised intensity above 0.55), so what they check is the
normalisation alone. The slow test trains a small real model on synthetic nuclei and applies it.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from scipy import ndimage

from core.imaging import import_image
from core.inference.job import predict_file
from core.inference.predictor import Predictor
from core.inference.tiled import predict_image
from core.training.normalization import compute_normalization
from core.training.sources import ArrayImage
from tests.inference.helpers import Pointwise, pointwise_card

#: (background level, background swing, pixel noise, nuclei brightness range) per bit depth
LEVELS = {
    np.uint16: (150.0, 25.0, 8.0, (2000.0, 5000.0)),
    np.uint8: (15.0, 4.0, 1.5, (120.0, 250.0)),
}


def field(seed: int, dtype: type, *, nuclei: int, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """``(image (1, size, size) dtype, instances (1, size, size) int32)``: a smoothly uneven background
    with pixel noise (an empty field when ``nuclei`` is 0) and ``nuclei`` bright discs."""
    rng = np.random.default_rng(seed)
    level, swing, noise, (dim, bright) = LEVELS[dtype]
    haze = ndimage.gaussian_filter(rng.normal(0, 1, (size, size)), 12)
    image = level + swing * haze / np.abs(haze).max() + rng.normal(0, noise, (size, size))
    inst = np.zeros((size, size), np.int32)
    yy, xx = np.mgrid[:size, :size]
    placed = 0
    for _ in range(500):
        if placed == nuclei:
            break
        cy, cx = rng.integers(12, size - 12, size=2)
        r = int(rng.integers(6, 10))
        if (inst[(yy - cy) ** 2 + (xx - cx) ** 2 <= (r + 4) ** 2] > 0).any():
            continue
        placed += 1
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        inst[disc] = placed
        image[disc] += rng.uniform(dim, bright)
    top = np.iinfo(dtype).max
    return np.clip(image, 0, top).astype(dtype)[None], inst[None]


def _training_images(dtype: type) -> list[ArrayImage]:
    images = []
    for seed in range(4):
        image, inst = field(seed, dtype, nuclei=8)
        images.append(ArrayImage(f"t{seed}", image, instances=inst))
    return images


def _predictor(dtype: type) -> Predictor:
    """The intensity-threshold network with a card whose normalisation was computed on training images
    of nuclei (per-image scope, as "auto" picks when brightness varies between images)."""
    card = pointwise_card("semantic", min_size=10)
    card["normalization"] = compute_normalization(_training_images(dtype), scope="image")
    card["dtype"] = np.dtype(dtype).name
    return Predictor(Pointwise("semantic"), card)


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8], ids=["16-bit", "8-bit"])
def test_an_empty_field_comes_out_empty_with_a_warning(dtype):
    predictor = _predictor(dtype)
    empty, _ = field(100, dtype, nuclei=0)
    if dtype == np.uint16:
        assert 190 <= empty.max() <= 215  # like the empty BBBC039 field (maximum 208)
    result = predict_image(empty, predictor)
    foreground = float((result.labels > 0).mean())
    assert foreground < 0.01 and result.counts[0] <= 1, (foreground, result.counts)
    assert len(result.warnings) == 1 and "nearly empty" in result.warnings[0]


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8], ids=["16-bit", "8-bit"])
def test_an_image_with_nuclei_still_gives_its_nuclei_and_no_warning(dtype):
    predictor = _predictor(dtype)
    image, inst = field(200, dtype, nuclei=6)
    result = predict_image(image, predictor)
    assert result.counts[0] == 6 and result.warnings == []
    found = result.labels[0] > 0
    truth = inst[0] > 0
    assert (found & truth).sum() / (found | truth).sum() > 0.8


def test_a_dim_field_with_nuclei_is_not_floored():
    """Nuclei 3x dimmer than the training images' dimmest: above the floor, stretched as before."""
    predictor = _predictor(np.uint16)
    image, _ = field(300, np.uint16, nuclei=5)
    background = np.median(image)
    dim = (background + (image.astype(np.float64) - background) / 3).astype(np.uint16)
    result = predict_image(dim, predictor)
    assert result.counts[0] == 5 and result.warnings == []


def test_the_prediction_files_carry_the_warning(tmp_path):
    """The stored-image path that the prediction job and ``segstudio predict`` take."""
    predictor = _predictor(np.uint16)
    empty, _ = field(101, np.uint16, nuclei=0)
    source = tmp_path / "empty_field.tif"
    tifffile.imwrite(source, empty[0])
    stored = import_image(source, tmp_path / "stored", "in0")
    out = predict_file(predictor, stored.path, tmp_path / "out", "empty_field", pixel_size_um=None)
    assert out["counts"] == {"label0": 0}
    assert len(out["warnings"]) == 1 and "nearly empty" in out["warnings"][0]
    labels = tifffile.imread(out["labels"])
    assert labels.max() == 0
    assert not list((tmp_path / "out").glob("*.tmp")) and not list((tmp_path / "out").glob("*.part"))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.uint16, np.uint8], ids=["16-bit", "8-bit"])
def test_a_trained_model_finds_nothing_in_an_empty_field(tmp_path, dtype):
    import torch

    from core.training.loop import SUCCEEDED, train
    from tests.training.synth import config

    torch.set_num_threads(1)
    images = _training_images(dtype)
    cfg = config("semantic", max_steps=60, steps_per_epoch=20, batch_size=4, views=1, normalization="image")
    result = train(cfg, images[:3], images[3:], budget_seconds=300, workdir=tmp_path, device="cpu")
    assert result.status == SUCCEEDED
    predictor = Predictor.from_package(result.package_dir, device="cpu")
    assert predictor.card["normalization"]["stretch_floor"]
    image, _ = field(200, dtype, nuclei=6)
    assert predict_image(image, predictor).counts[0] >= 4
    empty, _ = field(100, dtype, nuclei=0)
    result = predict_image(empty, predictor)
    assert float((result.labels > 0).mean()) < 0.01 and result.counts[0] <= 1
    assert result.warnings
    # the same model with the card of before (no floor) stretches the noise: ~97-99 % "foreground"
    predictor.card["normalization"].pop("stretch_floor")
    assert float((predict_image(empty, predictor).labels > 0).mean()) > 0.5
