"""Fine-tuning (core.training.transfer): what is copied, how the first layer adapts to another channel
count, the label mapping of the output layer, the refusals in words, and the engine's record of the start."""

from __future__ import annotations

import json

import pytest
import torch

from core.classification.model import build_classifier
from core.errors import InvalidInputError
from core.training.config import LabelSpec
from core.training.loop import SUCCEEDED, train
from core.training.models import build_model
from core.training.package import load_model
from core.training.transfer import (
    StartModel,
    adapt_input_weight,
    apply_transfer,
    check_label_map,
    check_start,
    default_label_map,
    load_start,
    plan_transfer,
)
from core.training.types import training_type
from tests.training.synth import config, make_images

ENCODER = "resnet18-compact"


def _layout(kind: str, labels: dict[int, str], distance: bool = True) -> list[dict]:
    entry = training_type(kind)
    return entry.output_layout([{"id": i, "name": n} for i, n in labels.items()], distance=entry.distance(distance))


def _card(kind: str, labels: dict[int, str], *, in_channels: int = 1, architecture: str = "smp.Unet") -> dict:
    return {"architecture": architecture, "encoder": ENCODER, "in_channels": in_channels, "training_type": kind,
            "labels": [{"id": i, "name": n} for i, n in labels.items()], "output_layout": _layout(kind, labels)}


def _start(model: torch.nn.Module, card: dict, label_map: dict[int, int]) -> StartModel:
    return StartModel({k: v.clone() for k, v in model.state_dict().items()}, card, "training:1", "Nuclei v1",
                      "ab" * 32, label_map)


def test_the_first_layer_adapts_so_that_equal_channels_give_the_same_response():
    torch.manual_seed(0)
    grey = torch.randn(8, 1, 3, 3)
    rgb = adapt_input_weight(grey, 3)
    assert rgb.shape == (8, 3, 3, 3) and torch.allclose(rgb, grey.repeat(1, 3, 1, 1) / 3)
    image = torch.rand(1, 1, 9, 9)
    same = torch.nn.functional.conv2d(image, grey)
    assert torch.allclose(torch.nn.functional.conv2d(image.repeat(1, 3, 1, 1), rgb), same, atol=1e-6)
    back = adapt_input_weight(rgb, 1)  # three channels to one: their sum
    assert torch.allclose(back, grey, atol=1e-6)


def test_a_same_type_start_keeps_every_weight_and_maps_the_outputs_by_label():
    torch.manual_seed(0)
    old = build_model(ENCODER, 1, 2)  # semantic: one channel per label
    card = _card("semantic", {1: "nucleus", 2: "cytoplasm"})
    torch.manual_seed(1)
    new = build_model(ENCODER, 1, 2)
    fresh_bias = new.segmentation_head[0].bias.detach().clone()
    labels = {10: "nuclei", 11: "debris"}
    transfer = apply_transfer(new, _start(old, card, {10: 1}), layout=_layout("semantic", labels), in_channels=1,
                              labels=labels, training_type="semantic")
    for name, tensor in new.state_dict().items():
        if not name.startswith("segmentation_head"):
            assert torch.equal(tensor, old.state_dict()[name]), name
    head, old_head = new.segmentation_head[0], old.segmentation_head[0]
    assert torch.equal(head.weight[0], old_head.weight[0]) and head.bias[0] == old_head.bias[0]  # 10 <- 1
    assert head.bias[1] == fresh_bias[1]  # "debris" is not mapped: its output starts fresh
    assert transfer.kept[0].startswith("the encoder and decoder (resnet18-compact)")
    assert "the output of the model's 'nucleus' for 'nuclei'" in transfer.kept
    assert transfer.new == ("the output for 'debris' (not mapped to one of the model's labels: learnt from "
                            "scratch)",)


def test_a_grey_start_gives_an_rgb_network_the_same_maps_for_a_grey_image():
    torch.manual_seed(0)
    old = build_model(ENCODER, 1, 1).eval()
    card = _card("semantic", {1: "nucleus"})
    new = build_model(ENCODER, 3, 1)
    transfer = apply_transfer(new, _start(old, card, {1: 1}), layout=_layout("semantic", {1: "nucleus"}),
                              in_channels=3, labels={1: "nucleus"}, training_type="semantic")
    assert transfer.adapted >= 1 and any("adapted from 1 to 3 input channel(s)" in k for k in transfer.kept)
    image = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(new.eval()(image.repeat(1, 3, 1, 1)), old(image), atol=1e-4)


def test_a_semantic_start_for_an_instance_training_keeps_the_body_and_says_the_outputs_are_new():
    old = build_model(ENCODER, 1, 1)
    card = _card("semantic", {1: "nucleus"})
    labels = {1: "nucleus"}
    new = build_model(ENCODER, 1, 4)
    transfer = apply_transfer(new, _start(old, card, {1: 1}), layout=_layout("instance", labels), in_channels=1,
                              labels=labels, training_type="instance")
    assert torch.equal(new.encoder.conv1.weight, old.encoder.conv1.weight)
    assert transfer.new == ("the output for 'nucleus' (the model was trained for semantic, this training is "
                            "instance: learnt from scratch)",)


def test_a_classifier_maps_its_classes_and_keeps_its_encoder():
    torch.manual_seed(0)
    old = build_classifier(ENCODER, 3, 2)
    card = _card("classification", {1: "lymphocyte", 2: "monocyte"}, in_channels=3,
                 architecture="smp.encoder+avgpool+linear")
    new = build_classifier(ENCODER, 3, 3)
    labels = {5: "Monocyte", 6: "Lymphocyte", 7: "platelet"}
    mapping = default_label_map(card, labels)
    assert mapping == {5: 2, 6: 1}  # by name, letter case aside
    transfer = apply_transfer(new, _start(old, card, mapping), layout=_layout("classification", labels),
                              in_channels=3, labels=labels, training_type="classification")
    assert torch.equal(new.head.weight[0], old.head.weight[1]) and torch.equal(new.head.weight[1], old.head.weight[0])
    assert torch.equal(new.encoder.conv1.weight, old.encoder.conv1.weight)
    assert transfer.kept[0].startswith("the encoder (resnet18-compact)")
    assert "'platelet'" in transfer.new[0]


@pytest.mark.parametrize(("card", "kwargs", "words"), [
    (_card("classification", {1: "a", 2: "b"}, architecture="smp.encoder+avgpool+linear"),
     {"architecture": "smp.Unet", "task": "object detection"},
     "is an image classifier (encoder and one linear layer); object detection needs a U-Net"),
    (_card("semantic", {1: "a"}), {"architecture": "smp.encoder+avgpool+linear", "task": "image classification"},
     "is a U-Net (encoder, decoder and output maps; segmentation and detection); image classification needs an "
     "image classifier"),
    (_card("semantic", {1: "a"}), {"architecture": "smp.Unet", "task": "semantic segmentation",
                                   "encoder": "efficientnet-b0"},
     "uses the network 'resnet18-compact', this training 'efficientnet-b0'"),
    (_card("semantic", {1: "a"}, architecture="bioimageio.torchscript"),
     {"architecture": "smp.Unet", "task": "semantic segmentation"},
     "is a bioimage.io model made elsewhere (TorchScript weights without their network's code, which can be "
     "applied but not fine-tuned)"),
])
def test_incompatible_starts_are_refused_in_words(card, kwargs, words):
    with pytest.raises(InvalidInputError, match="choose|Choose") as info:
        check_start(card, name="Cells", **kwargs)
    assert words in str(info.value) and "The model 'Cells'" in str(info.value)


def test_a_label_mapping_must_name_labels_on_both_sides():
    card = _card("semantic", {1: "nucleus"})
    check_label_map(card, {3: 1}, [3, 4])
    with pytest.raises(InvalidInputError, match=r"label id 9, which the model 'M' does not have; its labels are "
                                                r"1 \(nucleus\)"):
        check_label_map(card, {3: 9}, [3], "M")
    with pytest.raises(InvalidInputError, match="names label id 5, which this training does not train"):
        check_label_map(card, {5: 1}, [3])


def test_the_plan_in_words_needs_only_the_cards():
    card = _card("semantic", {1: "nucleus"}, in_channels=3)
    plan = plan_transfer(card, layout=_layout("semantic", {4: "nucleus"}), in_channels=1, label_map={4: 1},
                         labels={4: "nucleus"}, training_type="semantic")
    assert plan.kept == (
        "the encoder and decoder (resnet18-compact) with their normalisation statistics",
        "the first layer, adapted from 3 to 1 input channel(s): each new channel's weights are the mean of the "
        "model's per-channel weights, scaled by 3/1",
        "the output of the model's 'nucleus' for 'nucleus'",
    )
    assert plan.new == ()


def test_the_engine_starts_from_a_package_and_records_the_start_in_the_card(tmp_path):
    images = make_images(3, size=64)
    first = train(config("semantic", max_steps=2, steps_per_epoch=1, views=1), images[:2], images[2:],
                  budget_seconds=300, workdir=tmp_path / "first")
    assert first.status == SUCCEEDED
    start = load_start(first.package_dir, key="training:1", name="Discs v1", label_map={3: 7})
    old_model, _ = load_model(first.package_dir)
    cfg = config("semantic", labels=(LabelSpec(3, "disc", "#00ff00"),), max_steps=1, steps_per_epoch=1,
                 views=1, learning_rate=1e-9, average_from=None)  # one tiny step: the weights stay the start's
    second = train(cfg, images[:2], images[2:], budget_seconds=300, workdir=tmp_path / "second", start=start)
    card = json.loads((second.package_dir / "model_card.json").read_text())
    record = card["start"]
    assert record["key"] == "training:1" and record["name"] == "Discs v1" and len(record["sha256"]) == 64
    assert record["label_map"] == {"3": 7} and record["labels"] == ["nucleus"]
    assert record["kept"][-1] == "the output of the model's 'nucleus' for 'disc'" and record["new"] == []
    new_model, _ = load_model(second.package_dir)
    conv = "encoder.conv1.weight"
    assert torch.allclose(new_model.state_dict()[conv], old_model.state_dict()[conv], atol=1e-5)


def test_a_fine_tuning_that_leaves_the_network_worse_keeps_the_start_as_it_was(tmp_path):
    images = make_images(4, size=64)
    first = train(config("semantic", max_steps=20, steps_per_epoch=10, views=1), images[:3], images[3:],
                  budget_seconds=300, workdir=tmp_path / "first")
    start = load_start(first.package_dir, key="training:1", name="Discs v1", label_map={1: 1})
    # a far too high learning rate wrecks the network in a few steps: the start validates better
    wrecked = train(config("semantic", max_steps=4, steps_per_epoch=2, views=1, learning_rate=0.9,
                           average_from=None), images[:3], images[3:], budget_seconds=300,
                    workdir=tmp_path / "wrecked", start=start)
    record = wrecked.card["metrics"]["start_model"]
    assert record["kept"] is True and record["score"] > record["trained_score"]
    assert wrecked.card["metrics"]["mean_iou"] == pytest.approx(record["score"])
    kept, _ = load_model(wrecked.package_dir)
    started, _ = load_model(first.package_dir)
    conv = "encoder.conv1.weight"
    assert torch.equal(kept.state_dict()[conv], started.state_dict()[conv])  # unchanged
    assert (tmp_path / "wrecked" / "start.pt").exists()  # (the job deletes it with the other checkpoints)
    # a training from scratch has no start to weigh
    scratch = train(config("semantic", max_steps=2, steps_per_epoch=1, views=1), images[:3], images[3:],
                    budget_seconds=300, workdir=tmp_path / "scratch")
    assert scratch.card["metrics"]["start_model"] is None
    # a start that loses even the epochs' quick search is not searched further
    weak = load_start(scratch.package_dir, key="training:3", name="Discs v0", label_map={1: 1})
    tuned = train(config("semantic", max_steps=20, steps_per_epoch=10, views=1), images[:3], images[3:],
                  budget_seconds=300, workdir=tmp_path / "tuned", start=weak)
    record = tuned.card["metrics"]["start_model"]
    assert record["kept"] is False and record["quick_score"] <= record["best_epoch_quick_score"]
    assert "score" not in record
