"""bioimage.io export: bioimageio.core's own test passes on exported semantic and instance packages (offline),
the exported network computes what segstudio computes, and what cannot be exported says why."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from core.bioimageio import export_bioimageio, export_refusal
from core.bioimageio.architecture import SegstudioUNet
from core.bioimageio.tensors import spec_normalize
from core.errors import InvalidInputError, ModelPackageError
from core.training.models import build_model, out_channels, output_layout
from core.training.package import load_model
from core.training.predict import predict_maps
from tests.bioimageio.conftest import tiny_card, tiny_package


@pytest.fixture(scope="session")
def semantic_zip(semantic_package: Path, tmp_path_factory) -> Path:
    return export_bioimageio(semantic_package, tmp_path_factory.mktemp("out") / "semantic.zip",
                             authors=["Ada Lovelace", {"name": "Grace Hopper", "affiliation": "Navy"}])


@pytest.fixture(scope="session")
def instance_zip(instance_package: Path, tmp_path_factory) -> Path:
    return export_bioimageio(instance_package, tmp_path_factory.mktemp("out") / "instance.zip",
                             name="Kerne (Zellkerne) ü/β")


def _rdf(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return yaml.safe_load(zf.read("rdf.yaml"))


def _bioimageio_test(path: Path):
    from bioimageio.core import test_model as run_test  # (not collected by pytest)

    return run_test(path)


@pytest.mark.parametrize("which", ["semantic_zip", "instance_zip"])
def test_bioimageio_core_test_passes(which: str, request: pytest.FixtureRequest):
    summary = _bioimageio_test(request.getfixturevalue(which))
    failed = [(d.name, [e.msg[:300] for e in d.errors]) for d in summary.details if d.status != "passed"]
    assert summary.status == "passed", failed
    names = " ".join(d.name for d in summary.details)
    for weights in ("pytorch_state_dict", "torchscript"):
        assert f"Reproduce test outputs from test inputs ({weights})" in names


def test_package_files_and_description(semantic_zip: Path, instance_zip: Path, semantic_package: Path):
    with zipfile.ZipFile(semantic_zip) as zf:
        names = set(zf.namelist())
        card = json.loads((semantic_package / "model_card.json").read_text())
        assert json.loads(zf.read("model_card.json")) == card
        assert zf.read("weights.pt") == (semantic_package / "weights.pt").read_bytes()
        readme = zf.read("README.md").decode()
    assert {"rdf.yaml", "README.md", "cover.png", "segstudio_unet.py", "environment.yaml", "weights.pt",
            "torchscript.pt", "model_card.json", "test_input.npy", "test_output_probabilities.npy",
            "sample_input.tif", "sample_output_probabilities.tif"} <= names
    rdf = _rdf(semantic_zip)
    assert rdf["format_version"].startswith("0.5.") and rdf["type"] == "model"
    assert [a["name"] for a in rdf["authors"]] == ["Ada Lovelace", "Grace Hopper"]
    assert rdf["attachments"] == [{"source": "model_card.json", "sha256": rdf["attachments"][0]["sha256"]}]
    assert rdf["inputs"][0]["preprocessing"] == [{"id": "scale_range", "kwargs": {
        "axes": ["y", "x"], "min_percentile": 1.0, "max_percentile": 99.8, "eps": 1e-6}}]
    (out,) = rdf["outputs"]
    assert out["id"] == "probabilities" and out["postprocessing"] == [{"id": "sigmoid"}]
    assert out["axes"][1]["channel_names"] == ["nucleus", "cytoplasm"]
    kwargs = rdf["weights"]["pytorch_state_dict"]["architecture"]["kwargs"]
    assert kwargs["factor"] == 0.5 and kwargs["splits"] == [[0, 2]]
    # what the spec cannot say is in the README, with the tuned values
    for words in ("Working scale", "Nearly empty images", "probability > 0.4", "probability > 0.6",
                  "# Validation", "mean IoU 0.710"):
        assert words in readme, words

    rdf = _rdf(instance_zip)
    assert rdf["name"] == "Kerne (Zellkerne)"
    assert rdf["inputs"][0]["preprocessing"] == [{"id": "fixed_zero_mean_unit_variance", "kwargs": {
        "axis": "channel", "mean": [12.0], "std": [198.0]}}]
    assert [(o["id"], o["postprocessing"][0]["id"]) for o in rdf["outputs"]] == [
        ("classes", "softmax"), ("distance", "sigmoid")]
    assert rdf["weights"]["pytorch_state_dict"]["architecture"]["kwargs"]["splits"] == [[0, 3], [3, 4]]


@pytest.mark.parametrize("scale", [None, 0.5])
def test_exported_network_computes_segstudio_maps(scale: float | None, tmp_path: Path):
    """The architecture file's forward pass (padding, working scale, split) on the spec's normalisation
    gives segstudio's own probability maps (exactly at scale 1; at 0.5 segstudio resizes the probabilities
    and the export the logits, which differ slightly)."""
    card = tiny_card("instance", labels=[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], distance=True,
                     scale=scale)
    package = tiny_package(tmp_path / "model", card, seed=2)
    model, card = load_model(package)
    net = SegstudioUNet("resnet18", 1, 8, 4, [128, 64, 32, 16], factor=scale or 1.0,
                        splits=[[0, 3], [3, 6], [6, 8]])
    net.load_state_dict(model.state_dict(), strict=True)
    image = np.random.default_rng(0).integers(0, 255, (1, 100, 75)).astype(np.uint8)
    with torch.no_grad():
        classes1, classes2, distance = net.eval()(torch.from_numpy(spec_normalize(image, card)[None]))
    ours = predict_maps(model, card, image)
    first = torch.softmax(classes1, dim=1)[0].numpy()
    tolerance = 1e-4 if scale is None else 0.05
    assert classes1.shape == (1, 3, 100, 75) and distance.shape == (1, 2, 100, 75)
    np.testing.assert_allclose(first[1], ours["interior"][0], atol=tolerance)
    second = torch.softmax(classes2, dim=1)[0].numpy()
    np.testing.assert_allclose(second[2], ours["boundary"][1], atol=tolerance)
    np.testing.assert_allclose(torch.sigmoid(distance)[0].numpy(), ours["distance"], atol=tolerance)


def test_sample_image_is_used_for_test_tensors(instance_package: Path, tmp_path: Path):
    sample = np.random.default_rng(3).integers(0, 255, (300, 420)).astype(np.uint8)
    dest = export_bioimageio(instance_package, tmp_path / "x.zip", sample=sample)
    with zipfile.ZipFile(dest) as zf:
        with zf.open("test_input.npy") as fh:
            test_input = np.load(fh)
    assert test_input.shape == (1, 1, 288, 416)  # the largest valid sizes (160 + 32 k) inside the sample
    np.testing.assert_array_equal(test_input[0, 0], sample[6:294, 2:418])
    with pytest.raises(InvalidInputError, match=r"expects \(C=1, H, W\)"):
        export_bioimageio(instance_package, tmp_path / "y.zip", sample=np.zeros((2, 300, 300)))
    with pytest.raises(InvalidInputError, match="at least 160x160"):
        export_bioimageio(instance_package, tmp_path / "y.zip", sample=np.zeros((100, 300)))
    assert not (tmp_path / "y.zip").exists()


def test_models_without_label_images_are_refused(tmp_path: Path):
    labels = [{"id": 1, "name": "cell"}]
    card = {**tiny_card("semantic"), "training_type": "detection",
            "out_channels": out_channels("detection", 1, distance=False),
            "output_layout": output_layout("detection", labels, distance=False), "labels": labels}
    torch.manual_seed(0)
    from core.training.package import write_package

    package = write_package(tmp_path / "model", build_model(card["encoder"], 1, card["out_channels"]), card)
    with pytest.raises(ModelPackageError, match="object detection models give boxes, not label images"):
        export_bioimageio(package, tmp_path / "d.zip")
    assert not (tmp_path / "d.zip").exists()
    assert "image classification models give classes" in export_refusal({"training_type": "classification"})
    assert export_refusal(tiny_card("instance")) is None


def test_importing_the_package_loads_no_bioimageio():
    import subprocess

    heavy = ("bioimageio.spec", "bioimageio.core", "xarray", "pandas")
    probe = f"import sys, core.bioimageio; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "[]"


def test_a_licence_the_spec_does_not_know_is_refused(instance_package: Path, tmp_path: Path):
    with pytest.raises(InvalidInputError, match="license 'my own licence' is not an SPDX licence identifier"):
        export_bioimageio(instance_package, tmp_path / "x.zip", license="my own licence")
    assert not (tmp_path / "x.zip").exists()
