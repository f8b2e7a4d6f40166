"""Fixtures of the inference tests: tiny fitted U-Nets (built once per session)."""

from __future__ import annotations

import pytest

from core.inference.predictor import Predictor
from tests.inference.helpers import tiny_unet


@pytest.fixture(scope="session")
def instance_predictor() -> Predictor:
    model, card = tiny_unet("instance")
    return Predictor(model, card, batch_size=4)


@pytest.fixture(scope="session")
def semantic_predictor() -> Predictor:
    model, card = tiny_unet("semantic")
    return Predictor(model, card, batch_size=4)
