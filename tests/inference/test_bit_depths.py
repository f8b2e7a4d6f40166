"""Issue 24: a model trained on 8-bit images segments a 16-bit image of the same scene (its own
percentiles scale it), and says what was done; a training set may mix bit depths."""

from __future__ import annotations

import numpy as np
import tifffile

from core.inference.job import predict_file
from core.inference.predictor import Predictor
from core.training.normalization import compute_normalization, image_normalization
from core.training.sources import ArrayImage
from tests.inference.helpers import Pointwise, pointwise_card, synthetic_cells


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_a_model_for_8_bit_images_segments_the_same_scene_saved_as_16_bit(tmp_path):
    train = [synthetic_cells((96, 96), seed=s) for s in range(3)]
    card = pointwise_card("semantic", min_size=10)
    card["normalization"] = compute_normalization(
        [ArrayImage(f"t{i}", im, instances=lab[None]) for i, (im, lab) in enumerate(train)], scope="dataset")
    card["dtype"] = "uint8"
    predictor = Predictor(Pointwise("semantic"), card)
    scene, truth = synthetic_cells((128, 128), seed=9)
    found = {}
    for name, pixels in (("8bit", scene), ("16bit", scene.astype(np.uint16) * 257),  # full 16-bit range
                         ("12bit", scene.astype(np.uint16) * 16)):  # a 12-bit camera in a 16-bit file
        tifffile.imwrite(tmp_path / f"{name}.tif", pixels[0])
        result = predict_file(predictor, tmp_path / f"{name}.tif", tmp_path / name, name, pixel_size_um=None)
        found[name] = (tifffile.imread(result["labels"]) > 0, result["warnings"])
    eight, warnings = found["8bit"]
    assert warnings == [] and _iou(eight, truth > 0) > 0.9
    for name in ("16bit", "12bit"):  # it used to refuse: "the model expects 1 channel of uint8"
        labels, warnings = found[name]
        assert _iou(labels, eight) > 0.9, name
        assert len(warnings) == 1 and "uint16 while the model was trained on uint8" in warnings[0]
        assert "scaled with its own percentiles 1 and 99.8" in warnings[0]


def test_a_training_set_of_mixed_bit_depths_is_scaled_per_image():
    eight, lab = synthetic_cells((64, 64), seed=1)
    images = [ArrayImage("a", eight, instances=lab[None]), ArrayImage("b", eight.copy(), instances=lab[None]),
              ArrayImage("c", eight.astype(np.uint16) * 257, instances=lab[None])]
    norm = compute_normalization(images, scope="dataset")
    assert norm["scope"] == "image" and norm["mixed_depths"] == {"uint16": 1, "uint8": 2}
    assert norm["dtype"] == "uint8" and norm["reference"]["images"] == 2  # the floor: 8-bit units
    same = image_normalization(images[0], norm)
    other = image_normalization(images[2], norm)
    assert "depth" not in same and other["depth"] == {"model": "uint8", "image": "uint16", "scope": "image"}
    assert "floored" not in other  # the floor is in 8-bit units: not applied to the 16-bit image
    assert np.allclose(np.asarray(other["low"]) / 257, same["low"], atol=1)
    assert np.allclose(np.asarray(other["high"]) / 257, same["high"], atol=1)
