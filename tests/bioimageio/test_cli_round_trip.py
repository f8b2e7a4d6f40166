"""`segstudio model export --bioimageio`, and the package imported back (`segstudio model import`) as the
complete segstudio model: same card, same weights, same predictions."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from core.cli import main
from core.inference.package_io import import_model_package
from core.model_library import export_bioimageio_zip
from core.predictions import MODELS_DIR
from core.training.package import load_model
from core.training.predict import predict_maps


@pytest.fixture
def cli(app_env, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_exports_for_bioimageio_and_imports_it_back(app_env, cli, instance_package: Path, tmp_path: Path):
    shutil.copytree(instance_package, app_env.data_dir / MODELS_DIR / "nuclei-abc")
    dest = tmp_path / "zoo.zip"
    code, out, err = cli("model", "export", "nuclei-abc", "--out", str(dest), "--bioimageio",
                         "--author", "Ada Lovelace", "--license", "MIT")
    assert code == 0, err
    assert "bioimage.io package" in out and dest.is_file()
    with zipfile.ZipFile(dest) as zf:
        rdf = yaml.safe_load(zf.read("rdf.yaml"))
    assert rdf["authors"] == [{"name": "Ada Lovelace"}] and rdf["license"] == "MIT"

    code, out, err = cli("model", "import", str(dest))
    assert code == 0, err
    imported = next(p for p in (app_env.data_dir / MODELS_DIR).iterdir() if p.name.startswith("tiny-nuclei-"))
    assert json.loads((imported / "model_card.json").read_text()) == json.loads(
        (instance_package / "model_card.json").read_text())
    assert (imported / "weights.pt").read_bytes() == (instance_package / "weights.pt").read_bytes()


def test_round_trip_gives_the_same_predictions(instance_package: Path, tmp_path: Path):
    data = export_bioimageio_zip(instance_package, "nuclei v1")
    (tmp_path / "zoo.zip").write_bytes(data)
    imported = import_model_package(tmp_path / "zoo.zip", tmp_path / "models")
    image = np.random.default_rng(4).integers(0, 255, (1, 96, 130)).astype(np.uint8)
    before = predict_maps(*load_model(instance_package), image)
    after = predict_maps(*load_model(imported), image)
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])


def test_cli_refuses_a_model_the_export_does_not_cover(app_env, cli, instance_package: Path, tmp_path: Path):
    folder = app_env.data_dir / MODELS_DIR / "boxes-abc"
    shutil.copytree(instance_package, folder)
    card = json.loads((folder / "model_card.json").read_text())
    card.update(training_type="detection", out_channels=3, distance_head=False)
    card.pop("output_layout")
    (folder / "model_card.json").write_text(json.dumps(card))
    code, _, err = cli("model", "export", "boxes-abc", "--out", str(tmp_path / "z.zip"), "--bioimageio")
    assert code != 0 and "object detection models give boxes" in err
    assert not (tmp_path / "z.zip").exists()
