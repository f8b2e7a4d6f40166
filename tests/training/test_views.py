"""Test-time views: each view is turned back exactly, the mean is over the views asked for, cards and
configurations carry the count, and whole-image prediction and tiled inference average alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import InvalidInputError, ModelPackageError
from core.training.config import TrainConfig
from core.training.predict import predict_maps
from core.training.views import averaged_maps, card_views
from tests.training.synth import config


def _identity(batch: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"prob": batch.clone()}


def _position(batch: torch.Tensor) -> dict[str, torch.Tensor]:
    """Not equivariant: the running sum along rows depends on which way the image faces."""
    return {"prob": torch.cumsum(batch, dim=-1)}


def _dihedral(x: np.ndarray) -> list[np.ndarray]:
    """The eight views of the last two axes, as (view, undo) pairs' results of a running sum along rows."""
    out = []
    for k in range(4):
        for mirror in (False, True):
            view = np.rot90(x, k, axes=(-2, -1))
            if mirror:
                view = view[..., ::-1]
            y = np.cumsum(view, axis=-1)
            if mirror:
                y = y[..., ::-1]
            out.append(np.rot90(y, -k, axes=(-2, -1)))
    return out


@pytest.mark.parametrize("views", [1, 2, 4, 8])
def test_every_view_is_turned_back_so_an_equivariant_network_is_unchanged(views):
    batch = torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    out = averaged_maps(_identity, batch, views)
    torch.testing.assert_close(out["prob"], batch)


def test_the_mean_is_over_the_rotations_and_mirrorings():
    x = np.random.default_rng(1).random((1, 1, 32, 32)).astype(np.float32)
    expected = np.mean(_dihedral(x), axis=0)
    out = averaged_maps(_position, torch.from_numpy(x), 8)["prob"].numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    # two and four views only mirror (no transposes), so rectangular batches keep their shape cheaply
    two = averaged_maps(_position, torch.from_numpy(x), 2)["prob"].numpy()
    np.testing.assert_allclose(two, np.mean([_dihedral(x)[0], _dihedral(x)[1]], axis=0), rtol=1e-5, atol=1e-5)


def test_view_counts_are_checked_and_cards_without_views_use_one():
    assert card_views({}) == 1 and card_views({"views": 8}) == 8
    with pytest.raises(ModelPackageError, match="views"):
        card_views({"views": 3})
    for bad in (0, 3, 16, "8", True, 2.0):
        with pytest.raises(InvalidInputError, match=r"views=.* must be one of \[1, 2, 4, 8\]"):
            TrainConfig.from_dict({**config("semantic").to_dict(), "views": bad})
    assert config("semantic").views == 8  # the default: every flip and rotation


class _Ramp(torch.nn.Module):
    """Semantic logits that depend on the position: a left-to-right ramp added to a 3x3 mean."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(1.0 / 9)

    def forward(self, x):
        ramp = torch.linspace(-2.0, 2.0, x.shape[-1], device=x.device)
        return 4.0 * self.conv(x) - 2.0 + ramp


def test_whole_image_prediction_averages_the_card_s_views():
    card = {"training_type": "semantic", "labels": [{"id": 1, "name": "m"}], "in_channels": 1,
            "normalization": {"method": "percentile", "low": [0.0], "high": [1.0]}}
    image = np.random.default_rng(2).random((1, 64, 64)).astype(np.float32)
    net = _Ramp()
    single = predict_maps(net, card, image)["prob"]
    eight = predict_maps(net, {**card, "views": 8}, image)["prob"]
    assert not np.allclose(single, eight, atol=1e-3)  # the ramp makes every view different
    manual = []
    for k in range(4):
        for mirror in (False, True):
            view = np.rot90(image, k, axes=(1, 2))
            view = view[:, :, ::-1] if mirror else view
            prob = predict_maps(net, card, np.ascontiguousarray(view))["prob"]
            prob = prob[:, :, ::-1] if mirror else prob
            manual.append(np.rot90(prob, -k, axes=(1, 2)))
    np.testing.assert_allclose(eight, np.mean(manual, axis=0), atol=1e-5)
    # an explicit count overrides the card's
    np.testing.assert_allclose(predict_maps(net, {**card, "views": 8}, image, views=1)["prob"], single, atol=1e-6)
