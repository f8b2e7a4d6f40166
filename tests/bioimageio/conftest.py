"""Tiny real segstudio packages (random weights, valid cards) and bioimageio kept offline."""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from core.training.models import build_model, out_channels, output_layout
from core.training.package import write_package

ENCODER = "resnet18-compact"
LABELS = [{"id": 3, "name": "nucleus", "color": "#ff0000"},
          {"id": 5, "name": "cytoplasm", "color": "#00ff00"}]


def tiny_card(training_type: str, *, labels: list[dict] | None = None, distance: bool = False,
              channels: int = 1, scope: str = "dataset", scale: float | None = None,
              name: str = "tiny nuclei", postprocess: list[dict] | None = None) -> dict:
    labels = labels or LABELS[:1]
    norm = {"method": "percentile", "scope": scope, "low_percentile": 1.0, "high_percentile": 99.8,
            "low": [12.0] * channels, "high": [210.0] * channels, "dtype": "uint8"}
    if scope == "image":
        norm |= {"reference": {"low": [12.0] * channels, "high": [210.0] * channels,
                               "stretch": [198.0] * channels, "images": 3},
                 "floor_fraction": 0.25, "stretch_floor": [49.5] * channels}
    card = {
        "encoder": ENCODER, "in_channels": channels,
        "out_channels": out_channels(training_type, len(labels), distance=distance),
        "training_type": training_type, "labels": labels, "distance_head": distance,
        "output_layout": output_layout(training_type, labels, distance=distance),
        "normalization": norm, "patch_size": 64, "name": name, "dtype": "uint8",
        "created_at": "2026-01-02T03:04:05+00:00",
        "metrics": {"mean_iou": 0.71},
        "training": {"steps": 10, "epochs": 1, "batch_size": 2, "device": "CPU", "seconds": 3.0},
    }
    if scale is not None:
        card["scale"] = {"factor": scale, "rule": "set by the user"}
    if postprocess is not None:
        card["postprocess"] = postprocess
    return card


def tiny_package(folder: Path, card: dict, *, seed: int = 0) -> Path:
    """A segstudio package of ``card`` with seeded random weights (the head biased so that maps vary)."""
    torch.manual_seed(seed)
    model = build_model(card["encoder"], int(card["in_channels"]), int(card["out_channels"]))
    return write_package(folder, model, card)


@pytest.fixture(autouse=True)
def offline_bioimageio(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """bioimageio without the network: every HTTP(S) request goes to a closed local port (and fails at
    once), and its cache is a temporary folder."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    from bioimageio.spec import settings

    monkeypatch.setattr(settings, "cache_path", tmp_path_factory.mktemp("bioimageio-cache"))


@pytest.fixture(scope="session")
def semantic_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two labels, per-image normalisation with the stretch floor, working scale 0.5."""
    card = tiny_card("semantic", labels=LABELS, scope="image", scale=0.5,
                     postprocess=[{"threshold": 0.4, "min_size": 5}, {"threshold": 0.6, "min_size": 0}])
    return tiny_package(tmp_path_factory.mktemp("semantic") / "model", card)


@pytest.fixture(scope="session")
def instance_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One label with the distance head, dataset normalisation."""
    card = tiny_card("instance", distance=True,
                     postprocess=[{"threshold": 0.5, "seed_threshold": 0.6, "min_size": 8}])
    return tiny_package(tmp_path_factory.mktemp("instance") / "model", card, seed=1)


@pytest.fixture(scope="session")
def exported(instance_package: Path, tmp_path_factory) -> Path:
    from core.bioimageio import export_bioimageio

    return export_bioimageio(instance_package, tmp_path_factory.mktemp("zoo") / "instance.zip")


@pytest.fixture(scope="session")
def foreign(exported: Path, tmp_path_factory) -> Path:
    """A bioimage.io package made "elsewhere": segstudio's export without segstudio's own card."""
    return rezip(exported, tmp_path_factory.mktemp("zoo") / "foreign.zip", drop=("model_card.json",))


def rezip(src: Path, dest: Path, *, drop: tuple[str, ...] = (), replace: dict[str, bytes] | None = None,
          rdf: Callable[[dict], None] | None = None, links: tuple[str, ...] = ()) -> Path:
    """A copy of the ZIP ``src`` without ``drop``, with files replaced, its rdf.yaml changed by ``rdf``,
    and symbolic link entries ``links``."""
    replace = dict(replace or {})
    with zipfile.ZipFile(src) as zf:
        files = {name: zf.read(name) for name in zf.namelist() if name not in drop}
    if rdf is not None:
        description = yaml.safe_load(files["rdf.yaml"])
        rdf(description)
        replace["rdf.yaml"] = yaml.safe_dump(description).encode()
    files.update(replace)
    with zipfile.ZipFile(dest, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return dest
