"""The classification engine on tiny seeded synthetic data: training, the package, prediction, tiles,
cancel and resume, multichannel and 16-bit inputs."""

import json
import shutil

import numpy as np
import pytest
import torch

from core.classification import train as train_module
from core.classification.examples import ArrayExample
from core.classification.fitting import fit_image
from core.classification.predict import load_classifier
from core.classification.train import train_classifier
from core.errors import InvalidInputError, ModelPackageError
from core.training.checkpoint import LAST
from core.training.loop import CANCELLED, SUCCEEDED
from core.training.package import CARD, TORCHSCRIPT, WEIGHTS, load_torchscript, read_card
from tests.classification.synth import NAMES, config, examples, picture

CURVE_KEYS = {"train_loss", "val_loss", "train_accuracy", "val_accuracy", "train_macro_f1", "val_macro_f1",
              "lr", "seconds"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    workdir = tmp_path_factory.mktemp("classifier")
    seen = []
    result = train_classifier(config(), examples(10), examples(4, start=100), budget_seconds=600,
                              workdir=workdir, on_progress=seen.append)
    return result, workdir, seen


def test_a_short_training_learns_the_classes_and_records_the_curves(trained):
    result, _, seen = trained
    assert result.status == SUCCEEDED and result.steps == 40 and result.batch_size == 12
    assert result.learning_rate == pytest.approx(3e-3)
    assert result.metrics["accuracy"] >= 0.9 and result.metrics["n"] == 12
    assert len(result.history) == 4 and 1 <= result.best_epoch <= 4
    for record in result.history:
        assert CURVE_KEYS <= set(record)
        assert all(isinstance(v, (int, float)) for v in record.values())
    phases = [p.phase for p in seen]
    assert phases[0] == "preparing" and phases[-1] == "done" and "packaging" in phases
    records = [p.record for p in seen if p.record]
    assert records == result.history
    assert all(0.0 <= p.fraction <= 1.0 for p in seen)
    assert "cpu" in result.device or "cuda" in result.device


def test_the_package_is_a_card_the_models_page_reads_with_the_classifier_fields(trained):
    result, workdir, _ = trained
    package = workdir / "model"
    assert result.package_dir == package
    assert {p.name for p in package.iterdir()} == {WEIGHTS, CARD, TORCHSCRIPT}
    card = read_card(package)  # validated against the card schema
    assert card["training_type"] == "classification"
    assert card["out_channels"] == 3 and card["in_channels"] == 1
    assert [lab["name"] for lab in card["labels"]] == list(NAMES)
    assert card["input"]["size"] == 32 and card["input"]["mode"] == "resize"
    assert card["input"]["reference_side"] == 40
    assert card["input_description"].startswith("Each image is resized to 32x32 px")
    assert card["normalization"]["scope"] == "image" and card["normalization"]["dtype"] == "uint8"
    assert "mirroring" in card["augmentation"] and card["imbalance"].startswith("Class imbalance")
    assert card["views"] in (1, 2) and card["metrics"]["accuracy"] == result.metrics["accuracy"]
    assert card["class_counts"]["train"] == dict.fromkeys(NAMES, 10)
    assert card["training"]["steps"] == 40 and card["training"]["images_per_second"] > 0
    assert len(card["split"]["train"]) == 30 and len(card["split"]["val"]) == 12
    methods = card["methods"]
    assert set(methods) == {"network", "input", "augmentation", "imbalance", "training", "selection"}
    assert "randomly initialised (no pretrained weights)" in methods["network"] and "40 steps of 12 images" in methods["training"]
    for row in card["metrics"]["per_class"]:
        assert set(row) == {"class", "precision", "recall", "f1", "support"}


def test_the_loaded_classifier_predicts_new_images(trained):
    _, workdir, _ = trained
    clf = load_classifier(workdir / "model")
    assert clf.class_names == list(NAMES)
    assert "resized to 32x32 px" in clf.describe_input()
    right = 0
    for kind in range(3):
        for seed in (500, 501):
            pred = clf.probabilities(picture(kind, seed))
            assert pred.probabilities.shape == (3,) and pred.probabilities.sum() == pytest.approx(1.0)
            assert pred.tiles == 1 and pred.label == int(np.argmax(pred.probabilities))
            right += pred.label == kind
    assert right >= 5
    many = list(clf.predict_many([picture(k, 600 + k) for k in range(3)] * 30, batch=16))
    one = [clf.probabilities(picture(k, 600 + k)) for k in range(3)] * 30
    assert len(many) == 90
    for a, b in zip(many, one, strict=True):
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=2e-2)  # bf16 batches may differ


def test_the_torchscript_export_gives_the_eager_logits(trained):
    _, workdir, _ = trained
    clf = load_classifier(workdir / "model", device="cpu")
    scripted = load_torchscript(workdir / "model")
    x = torch.from_numpy(np.stack([fit_image(picture(k, 700), 32) for k in range(3)]))
    model = clf.model.float().to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        np.testing.assert_allclose(scripted(x).numpy(), model(x).numpy(), atol=1e-4)


def test_a_large_image_is_cut_into_tiles_whose_probabilities_are_averaged(trained):
    _, workdir, _ = trained
    clf = load_classifier(workdir / "model")
    tiles = [[picture(2, 800 + 4 * r + c) for c in range(4)] for r in range(4)]
    mosaic = np.concatenate([np.concatenate(row, axis=2) for row in tiles], axis=1)  # 160 x 160
    pred = clf.probabilities(mosaic)
    assert pred.tiles == 16 and pred.label == 2
    each = np.mean([clf.probabilities(t).probabilities for row in tiles for t in row], axis=0)
    np.testing.assert_allclose(pred.probabilities, each, atol=2e-2)
    with pytest.raises(InvalidInputError, match="does not fit this classifier"):
        clf.probabilities(np.zeros((3, 40, 40), np.uint8))


def test_a_package_of_another_type_is_refused_by_name(trained, tmp_path):
    _, workdir, _ = trained
    other = tmp_path / "other"
    shutil.copytree(workdir / "model", other)
    card = json.loads((other / CARD).read_text())
    card["architecture"] = "smp.Unet"
    (other / CARD).write_text(json.dumps(card))
    with pytest.raises(ModelPackageError, match="not a classifier"):
        load_classifier(other)


def test_cancel_keeps_a_checkpoint_and_resume_ends_where_a_straight_run_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "AVERAGE_EVERY", 1)  # the weight average is resumed too
    cfg = config(max_steps=12, steps_per_epoch=4, views=1)
    train, val = examples(4), examples(2, start=100)
    straight = train_classifier(cfg, train, val, budget_seconds=600, workdir=tmp_path / "a")
    records = []

    def after_the_first_epoch(progress):
        if progress.record:
            records.append(progress.record)

    first = train_classifier(cfg, train, val, budget_seconds=600, workdir=tmp_path / "b",
                             on_progress=after_the_first_epoch, should_stop=lambda: bool(records))
    assert first.status == CANCELLED and first.package_dir is None and first.steps == 4
    assert (tmp_path / "b" / LAST).exists() and not (tmp_path / "b" / "model").exists()
    resumed = train_classifier(cfg, train, val, budget_seconds=600, workdir=tmp_path / "b", resume=True)
    assert resumed.status == SUCCEEDED and resumed.steps == 12 and resumed.history[0] == first.history[0]
    a = torch.load(tmp_path / "a" / "model" / WEIGHTS, weights_only=True)
    b = torch.load(tmp_path / "b" / "model" / WEIGHTS, weights_only=True)
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)
    averaged = [r.card["metrics"]["weight_average"]["weights"] for r in (straight, resumed)]
    assert averaged[0] == averaged[1] == 7  # steps 6 to 12, across the cancel
    with pytest.raises(InvalidInputError, match="different training configuration"):
        train_classifier(config(max_steps=13), train, val, budget_seconds=600, workdir=tmp_path / "b",
                         resume=True)


def test_cancel_while_reading_the_examples(tmp_path):
    result = train_classifier(config(), examples(3), examples(1, start=100), budget_seconds=600,
                              workdir=tmp_path, should_stop=lambda: True)
    assert result.status == CANCELLED and result.steps == 0 and result.package_dir is None


def test_multichannel_16_bit_and_mixed_depth_examples_train_and_predict(tmp_path):
    train = [*examples(5, channels=2, dtype=np.uint16), *examples(2, start=50, channels=2, prefix="b8")]
    val = examples(2, start=100, channels=2, dtype=np.uint16)
    result = train_classifier(config(max_steps=20), train, val, budget_seconds=600, workdir=tmp_path)
    card = read_card(result.package_dir)
    assert card["in_channels"] == 2 and card["dtype"] == "uint16"
    assert card["normalization"]["mixed_depths"] == {"uint16": 15, "uint8": 6}
    assert len(card["normalization"]["low"]) == 2
    clf = load_classifier(result.package_dir)
    for dtype in (np.uint8, np.uint16, np.float32):
        pred = clf.probabilities(picture(0, 900, channels=2, dtype=np.uint16).astype(dtype))
        assert pred.probabilities.shape == (3,)


def test_a_time_bound_training_finishes_within_its_budget_slices(tmp_path):
    result = train_classifier(config(max_steps=None, steps_per_epoch=None, epochs=2), examples(4),
                              examples(1, start=100), budget_seconds=8, workdir=tmp_path)
    assert result.status == SUCCEEDED and result.steps > 0 and len(result.history) >= 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"train": [ArrayExample("x", np.zeros((1, 40, 40), np.uint8), 3)]}, "class index 3"),
        ({"val": [ArrayExample("y", np.zeros((3, 40, 40), np.uint8), 0)]}, "channel"),
        ({"budget_seconds": 0}, "budget_seconds"),
        ({"config": {"training_type": "classification"}}, "must be a TrainConfig"),
        ({"config": config(labels=({"id": 1, "name": "only"},))}, "at least 2 classes"),
        ({"config": config(encoder="resnet18", patch_size=1024)}, "input size"),
    ],
)
def test_bad_inputs_are_refused_with_a_message(tmp_path, change, words):
    args = {"config": config(), "train": examples(2), "val": examples(1, start=100), "budget_seconds": 60}
    for key, value in change.items():
        args[key] = [*args[key], *value] if key == "train" else value
    with pytest.raises(InvalidInputError, match=words):
        train_classifier(args["config"], args["train"], args["val"], budget_seconds=args["budget_seconds"],
                         workdir=tmp_path)
