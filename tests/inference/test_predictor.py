"""The Predictor wrapper, post-processing values from the card, and the receptive field / halo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import InvalidInputError, ModelPackageError
from core.evaluation.postprocess import POSTPROCESS_DEFAULTS
from core.inference import Predictor, default_halo, measure_halo
from core.inference.predictor import postprocess_values
from core.inference.receptive import MIN_HALO, effective_radius, gradient_map, theoretical_radius
from tests.inference.helpers import Pointwise, pointwise_card


def test_forward_returns_the_maps_of_the_training_type(instance_predictor, semantic_predictor):
    batch = np.random.default_rng(0).random((3, 1, 64, 96), dtype=np.float32)
    maps = instance_predictor.forward(batch)
    assert set(maps) == {"interior", "boundary"} and maps["interior"].shape == (3, 1, 64, 96)
    assert maps["interior"].dtype == np.float32 and (maps["interior"] + maps["boundary"] <= 1 + 1e-6).all()
    assert set(semantic_predictor.forward(batch)) == {"prob"}


def test_channels_last_gives_the_same_maps():
    plain = Predictor(Pointwise("semantic"), pointwise_card("semantic"))
    nhwc = Predictor(Pointwise("semantic"), pointwise_card("semantic"), channels_last=True)
    batch = np.random.default_rng(1).random((2, 1, 32, 64), dtype=np.float32)
    np.testing.assert_allclose(plain.forward(batch)["prob"], nhwc.forward(batch)["prob"], rtol=1e-6)


def test_distance_head_adds_a_map():
    card = pointwise_card("instance")
    card["distance_head"] = True
    model = torch.nn.Conv2d(1, 4, 1)
    maps = Predictor(model, card).forward(np.zeros((1, 1, 32, 32), dtype=np.float32))
    assert set(maps) == {"interior", "boundary", "distance"}


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        (np.zeros((1, 2, 32, 32), np.float32), "C=1"),
        (np.zeros((1, 1, 30, 32), np.float32), "multiple of 32"),
        (np.zeros((1, 32, 32), np.float32), "C=1"),
    ],
)
def test_bad_batches(batch, match, semantic_predictor):
    with pytest.raises(InvalidInputError, match=match):
        semantic_predictor.forward(batch)


def test_postprocess_values_from_the_card():
    card = pointwise_card("instance", 2)
    card["postprocess"] = {"label1": {"threshold": 0.3, "min_size": 4}}
    values = postprocess_values(card)
    assert values[0] == POSTPROCESS_DEFAULTS
    assert values[1] == {
        "threshold": 0.3,
        "seed_threshold": POSTPROCESS_DEFAULTS["seed_threshold"],
        "min_size": 4,
        "seed_height": 0.0,  # cards written before h-maxima seeds: threshold seeds, as they were tuned
    }
    card["postprocess"] = {"threshold": 0.4}
    assert [v["threshold"] for v in postprocess_values(card)] == [0.4, 0.4]
    card["postprocess"] = {"threshold": 1.5}
    with pytest.raises(ModelPackageError, match=r"threshold=1\.5"):
        postprocess_values(card)
    card["postprocess"] = {"seed_height": "high"}
    with pytest.raises(ModelPackageError, match="seed_height='high'"):
        postprocess_values(card)
    card["postprocess"] = {"min_size": -1}
    with pytest.raises(ModelPackageError, match="min_size"):
        postprocess_values(card)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"training_type": "panoptic"}, "training_type"),
        ({"labels": []}, "labels"),
        ({"normalization": None}, None),
    ],
)
def test_bad_cards(change, match):
    card = {**pointwise_card("semantic"), **change}
    if match is None:
        card.pop("normalization")
        match = "lacks"
    with pytest.raises(ModelPackageError, match=match):
        Predictor(Pointwise("semantic"), card)
    with pytest.raises(InvalidInputError, match="batch_size"):
        Predictor(Pointwise("semantic"), pointwise_card("semantic"), batch_size=0)


def test_halo_defaults_and_card_override():
    assert default_halo("resnet18") == 192 and default_halo("mobilenet_v2") == MIN_HALO
    assert (
        default_halo({"encoder": "resnet34"}) == 288
        and default_halo({"encoder": "resnet34", "halo": 96}) == 96
    )
    assert default_halo("an-unknown-encoder") == MIN_HALO and default_halo(None) == MIN_HALO


def test_receptive_field_of_a_known_stack():
    torch.manual_seed(0)
    net = torch.nn.Sequential(*[torch.nn.Conv2d(1, 1, 3, padding=1) for _ in range(5)])  # radius 5
    grad = gradient_map(net, 1, size=64)
    assert theoretical_radius(grad) == 5
    assert 1 <= effective_radius(grad, mass=0.9) <= effective_radius(grad, mass=0.999) <= 5
    assert measure_halo(net, 1, size=64) == MIN_HALO
    with pytest.raises(InvalidInputError, match="multiple of 32"):
        gradient_map(net, 1, size=50)
