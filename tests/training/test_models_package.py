from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.errors import InvalidInputError, ModelPackageError
from core.training.models import ENCODERS, build_model, logits_to_maps, out_channels, output_layout
from core.training.package import FORMAT_VERSION, load_model, load_torchscript, read_card, write_package
from core.training.predict import predict_maps


def _card(training_type="instance", in_channels=2, labels=None, distance=True):
    labels = labels or [{"id": 3, "name": "nucleus", "color": "#ff0000"}]
    return {
        "encoder": "resnet18",
        "in_channels": in_channels,
        "out_channels": out_channels(training_type, len(labels), distance=distance),
        "training_type": training_type,
        "labels": labels,
        "distance_head": distance,
        "output_layout": output_layout(training_type, labels, distance=distance),
        "normalization": {"method": "percentile", "low": [0.0] * in_channels, "high": [255.0] * in_channels},
        "patch_size": 64,
    }


def _model(card):
    torch.manual_seed(0)
    return build_model(card["encoder"], card["in_channels"], card["out_channels"]).eval()


def test_unknown_encoder_lists_the_known_ones():
    with pytest.raises(InvalidInputError) as err:
        build_model("vgg99", 1, 1)
    assert all(name in str(err.value) for name in ENCODERS)
    with pytest.raises(InvalidInputError, match="in_channels=11"):
        build_model("resnet18", 11, 1)


def test_output_layout_and_maps():
    labels = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    layout = output_layout("instance", labels, distance=True)
    assert [c["channel"] for c in layout] == list(range(8))
    assert [(c["label_id"], c["map"]) for c in layout[:3]] == [(1, "background"), (1, "interior"), (1, "boundary")]
    assert [(c["label_id"], c["map"]) for c in layout[6:]] == [(1, "distance"), (2, "distance")]
    maps = logits_to_maps(torch.randn(1, 8, 4, 4), "instance", 2, distance=True)
    total = maps["background"] + maps["interior"] + maps["boundary"]
    assert torch.allclose(total, torch.ones_like(total)) and maps["distance"].shape == (1, 2, 4, 4)


def test_package_round_trip_weights_only_and_torchscript(tmp_path):
    card = _card()
    model = _model(card)
    write_package(tmp_path / "pkg", model, card)
    assert json.loads((tmp_path / "pkg" / "model_card.json").read_text())["format_version"] == FORMAT_VERSION
    state = torch.load(tmp_path / "pkg" / "weights.pt", weights_only=True)
    assert set(state) == set(model.state_dict())
    loaded, loaded_card = load_model(tmp_path / "pkg")
    x = torch.randn(1, 2, 96, 64)  # another size than the one traced
    with torch.no_grad():
        eager = model(x)
        assert torch.equal(loaded(x), eager)
        scripted = load_torchscript(tmp_path / "pkg")
        assert torch.allclose(scripted(x), eager, atol=1e-4)
    assert loaded_card["labels"] == card["labels"]


def test_newer_format_and_mismatched_shapes_are_refused(tmp_path):
    card = _card()
    write_package(tmp_path / "pkg", _model(card), card)
    path = tmp_path / "pkg" / "model_card.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ModelPackageError, match="newer"):
        read_card(tmp_path / "pkg")
    path.write_text(json.dumps({**data, "in_channels": 3, "normalization": {"low": [0] * 3, "high": [1] * 3}}))
    with pytest.raises(ModelPackageError, match="do not fit"):
        load_model(tmp_path / "pkg")
    path.write_text(json.dumps({**data, "out_channels": 5}))
    with pytest.raises(ModelPackageError, match=r"out_channels is 5 .*; expected 4 for 1 instance label"):
        load_model(tmp_path / "pkg")
    path.write_text(json.dumps({**data, "format_version": "1"}))
    with pytest.raises(ModelPackageError, match=r"format_version is '1' \(text\), the wrong type") as caught:
        read_card(tmp_path / "pkg")
    assert "newer than" not in str(caught.value)
    with pytest.raises(ModelPackageError, match="not a model package"):
        load_model(tmp_path / "nothing")


def test_predict_maps_whole_and_tiled():
    card = _card("semantic", in_channels=1, distance=False)
    model = _model(card)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (1, 70, 90)).astype(np.uint8)  # not a multiple of 32: padded
    maps = predict_maps(model, card, image)
    assert set(maps) == {"prob"} and maps["prob"].shape == (1, 70, 90)
    tiled = predict_maps(model, card, image, max_side=32, tile=64, margin=16)
    assert tiled["prob"].shape == (1, 70, 90)
    assert 0 <= tiled["prob"].min() and tiled["prob"].max() <= 1
    with pytest.raises(InvalidInputError, match="expects"):
        predict_maps(model, card, np.zeros((3, 32, 32)))


def test_compact_default_has_no_unused_stage_and_small_files(tmp_path):
    from core.training.encoders import DEFAULT_ENCODER

    assert DEFAULT_ENCODER == "resnet18-compact"
    model = build_model(DEFAULT_ENCODER, 1, 4)
    assert not hasattr(model.encoder, "layer4")  # smp builds it; depth 4 never uses it
    assert sum(p.numel() for p in model.parameters()) < 4_000_000  # 14 MB of float32 weights
    assert model(torch.zeros(1, 1, 64, 64)).shape == (1, 4, 64, 64)
    full = build_model("resnet18", 1, 4)
    assert hasattr(full.encoder, "layer4") and sum(p.numel() for p in full.parameters()) > 12_000_000


def test_edge_rays_train_on_extra_channels_that_the_package_drops():
    from core.training.models import RAY_COUNT, inference_model, ray_logits, training_channels

    assert RAY_COUNT == 16
    assert training_channels("instance", 2, distance=True, rays=True) == 8 + 32
    assert training_channels("instance", 2, distance=True, rays=False) == 8
    assert training_channels("semantic", 2, distance=False, rays=True) == 2
    torch.manual_seed(0)
    model = build_model("resnet18-compact", 1, training_channels("instance", 1, distance=True, rays=True)).eval()
    packaged = inference_model(model, 4)
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        full, cut = model(x), packaged(x)
    assert full.shape[1] == 20 and cut.shape[1] == 4
    assert torch.allclose(full[:, :4], cut, atol=1e-6)
    assert ray_logits(full, 1, distance=True).shape == (1, 16, 64, 64)
    assert model.segmentation_head[0].out_channels == 20  # the training network is left as it is
    assert inference_model(packaged, 4) is packaged
    with pytest.raises(InvalidInputError, match="fewer than"):
        inference_model(packaged, 5)
