"""The working scale: the auto choice from object widths, patches read at the scale, maps back at full size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import InvalidInputError, ModelPackageError
from core.training.config import TrainConfig
from core.training.predict import predict_maps
from core.training.sampling import PatchSampler
from core.training.scale import MAX_WIDTH, card_scale, choose_scale, object_widths, resize_labels
from core.training.sources import ArrayImage
from tests.training.synth import config


def _disc_image(key: str, radius: int, *, size: int = 256, centres=((128, 128),), semantic: bool = False):
    yy, xx = np.mgrid[:size, :size]
    inst = np.zeros((size, size), np.int32)
    for i, (cy, cx) in enumerate(centres, start=1):
        inst[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius * radius] = i
    image = (50 + 150 * (inst > 0)).astype(np.uint8)[None]
    if semantic:
        return ArrayImage(key, image, masks=(inst > 0)[None])
    return ArrayImage(key, image, instances=inst[None])


def test_object_width_is_the_diameter_of_a_disc_and_the_border_is_not_an_edge():
    whole = _disc_image("a", 20)
    assert object_widths([whole]) == [pytest.approx(41, abs=1.5)]
    cut = _disc_image("b", 20, centres=((0, 128),))  # half a disc on the top border: still 41 wide
    assert object_widths([cut]) == [pytest.approx(41, abs=1.5)]
    bar = ArrayImage("c", np.zeros((1, 64, 64), np.uint8), masks=np.pad(np.ones((3, 40), bool), ((30, 31), (12, 12)))[None])
    assert object_widths([bar]) == [pytest.approx(4, abs=1)]  # a line is as wide as it is thick


@pytest.mark.parametrize(
    ("radius", "factor"),
    [(6, 1.0), (15, 1.0), (16, 0.5), (30, 0.5), (35, 0.25), (100, 0.25)],
)
def test_auto_halves_the_resolution_while_the_median_object_is_32_pixels_wide_or_more(radius, factor):
    images = [_disc_image(f"im{i}", radius, size=max(256, 4 * radius)) for i in range(3)]
    record = choose_scale("auto", images)
    assert record["factor"] == factor
    assert record["rule"] == "auto" and record["max_width"] == MAX_WIDTH and record["objects_measured"] == 3
    assert record["median_width"] == pytest.approx(2 * radius + 1, abs=1.5)


def test_auto_without_objects_keeps_full_resolution_and_a_number_is_taken_as_given():
    empty = ArrayImage("bg", np.zeros((1, 64, 64), np.uint8), masks=np.zeros((1, 64, 64), bool))
    assert choose_scale("auto", [empty])["factor"] == 1.0
    assert choose_scale(0.5, [empty]) == {"factor": 0.5, "rule": "set by the user"}
    semantic = [_disc_image("s", 30, semantic=True)]
    assert choose_scale("auto", semantic)["factor"] == 0.5  # connected components are the objects


@pytest.mark.parametrize("bad", [0.1, 1.5, 0, "half", True])
def test_a_scale_out_of_range_says_what_is_allowed(bad):
    with pytest.raises(InvalidInputError, match="'auto' or a number from 0.25 to 1"):
        config(scale=bad)
    assert TrainConfig.from_dict(config(scale=0.5).to_dict()).scale == 0.5


def test_cards_without_a_scale_are_full_resolution_and_bad_ones_are_refused():
    assert card_scale({}) == 1.0
    assert card_scale({"scale": {"factor": 0.5, "rule": "auto"}}) == 0.5
    with pytest.raises(ModelPackageError, match="scale"):
        card_scale({"scale": {"factor": 3}})


def test_nearest_resize_keeps_ids_and_dtype():
    labels = np.arange(16, dtype=np.int32).reshape(1, 4, 4)
    small = resize_labels(labels, (2, 2))
    assert small.dtype == np.int32 and small.shape == (1, 2, 2)
    assert set(small.ravel()) <= set(labels.ravel())
    assert resize_labels(np.ones((8, 8), bool), (4, 4)).dtype == bool


def test_patches_at_half_scale_cover_twice_the_width_and_objects_shrink_with_the_pixels():
    image = _disc_image("big", 24, size=256)
    cfg = config("instance", patch_size=64, object_bias=1.0)
    norm = {"method": "percentile", "scope": "dataset", "low": [50.0], "high": [200.0]}
    full = PatchSampler([image], cfg, norm, batch_size=8, augment=None)
    half = PatchSampler([image], cfg, norm, batch_size=8, augment=None, scale=0.5)
    assert (full.window, half.window) == (64, 128)
    batch = half.batch(0)
    assert batch.x.shape == (8, 1, 64, 64) and batch.targets["cls"].shape == (8, 1, 64, 64)
    objects = batch.targets["cls"][:, 0] > 0
    whole = [o for o in objects if o.any() and not (o[[0, -1]].any() or o[:, [0, -1]].any())]
    assert whole, "a patch centred on the disc holds all of it"
    assert whole[0].sum() == pytest.approx(np.pi * 12**2, rel=0.15)  # radius 24 -> 12 working pixels
    # image and targets stay aligned: bright where the targets say object, dark elsewhere
    assert batch.x[:, 0][objects].mean() > 0.9 and batch.x[:, 0][~objects].mean() < 0.1


class _Blur(torch.nn.Module):
    """Semantic logits from a 5x5 mean of the input: some spatial context, deterministic."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 5, padding=2, bias=True)
        with torch.no_grad():
            self.conv.weight.fill_(8.0 / 25)
            self.conv.bias.fill_(-4.0)

    def forward(self, x):
        return self.conv(x)


def test_prediction_at_half_scale_runs_the_network_on_half_the_pixels_and_returns_full_size_maps():
    seen = []
    net = _Blur()
    net.register_forward_hook(lambda _m, inp, _out: seen.append(tuple(inp[0].shape[2:])))
    card = {"training_type": "semantic", "labels": [{"id": 1, "name": "m"}], "in_channels": 1,
            "normalization": {"method": "percentile", "low": [0.0], "high": [1.0]}, "scale": {"factor": 0.5}}
    image = np.zeros((1, 100, 130), np.float32)
    image[:, 20:80, 30:90] = 1.0
    maps = predict_maps(net, card, image)
    assert seen == [(64, 96)]  # padded to 128 x 160, halved to 64 x 80, padded for the network to 64 x 96
    assert maps["prob"].shape == (1, 100, 130)
    assert maps["prob"][0, 50, 60] > 0.9 and maps["prob"][0, 5, 5] < 0.1
    full = predict_maps(net, {**card, "scale": None}, image)
    assert np.mean((full["prob"] > 0.5) == (maps["prob"] > 0.5)) > 0.98
