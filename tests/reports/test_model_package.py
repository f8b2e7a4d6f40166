"""model/ in the ZIP is the training's model package: its TorchScript gives the same output as its weights."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import torch

from core.reports import build_report_zip
from core.training.models import build_model
from core.training.package import CARD, TORCHSCRIPT, WEIGHTS, load_model, write_package
from tests.reports.helpers import synthetic_report

pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit:FutureWarning"
)  # the package format uses TorchScript


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model("mobilenet_v2", 3, 1)
    card = {
        "encoder": "mobilenet_v2",
        "in_channels": 3,
        "out_channels": 1,
        "training_type": "semantic",
        "labels": [{"id": 1, "name": "nucleus", "color": "#e6194b"}],
        "distance_head": False,
        "normalization": {"method": "percentile", "low": [0.0] * 3, "high": [255.0] * 3},
    }
    return write_package(tmp_path_factory.mktemp("model") / "package", model, card, trace_size=64)


def test_model_folder_is_copied_and_torchscript_matches_the_weights(tmp_path, package_dir):
    data = synthetic_report(training_type="semantic", n_val=1, n_epochs=2, model_dir=package_dir)
    path = build_report_zip(data, tmp_path / "r.zip")
    with zipfile.ZipFile(path) as zf:
        for name in (WEIGHTS, CARD, TORCHSCRIPT):
            assert zf.read(f"model/{name}") == (package_dir / name).read_bytes()
        assert f"model/{TORCHSCRIPT}" in zf.read("README.txt").decode("utf-8")
        zf.extractall(tmp_path / "unzipped", members=[n for n in zf.namelist() if n.startswith("model/")])
        scripted = torch.jit.load(io.BytesIO(zf.read(f"model/{TORCHSCRIPT}")), map_location="cpu").eval()
    model, card = load_model(tmp_path / "unzipped" / "model")
    assert card == json.loads((package_dir / CARD).read_text(encoding="utf-8"))
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x), rtol=1e-4, atol=1e-5)


def test_failed_training_never_includes_the_model(tmp_path, package_dir):
    data = synthetic_report(status="failed", n_epochs=1, model_dir=package_dir)
    with zipfile.ZipFile(build_report_zip(data, tmp_path / "r.zip")) as zf:
        assert not any(name.startswith("model/") for name in zf.namelist())
