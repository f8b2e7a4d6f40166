"""Models shipped with segstudio (core.starters): listed after the trainings, never renamed or deleted, the
default start of a nuclei training, applied by the worker from where they live; the real nuclei starter's
package, credits and results on the demo images."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from core.db import repo, session_scope
from core.demo import DEMO_DIR
from core.errors import InvalidInputError
from core.model_library import delete_model, list_models, rename_model
from core.model_starts import default_start
from core.predictions import model_catalog, queue_prediction
from core.starters import STARTERS, Starter
from core.training.package import CARD
from core.training.types import training_type
from tests.bioimageio.conftest import tiny_card, tiny_package
from tests.models_helpers import imported_package, trained_model

NUCLEI = STARTERS["nuclei"]


@pytest.fixture
def shipped(settings, monkeypatch, tmp_path):
    """The shipped models on, with a tiny package (real weights, random) in place of the nuclei starter's."""
    folder = tiny_package(tmp_path / "starters" / "nuclei", tiny_card("instance", distance=True, name="Nuclei"))
    monkeypatch.setitem(STARTERS, "nuclei", Starter(NUCLEI.key, NUCLEI.name, folder, NUCLEI.training_types,
                                                    NUCLEI.words, NUCLEI.summary))
    return settings.with_(shipped_models=True)


def test_a_shipped_model_is_listed_after_the_trainings_and_before_imported_ones(shipped, engine):
    with session_scope(engine) as s:
        project = repo.create_project(s, "Cells")
    t = trained_model(shipped, engine, project.id, "mine")
    imported_package(shipped, "lab-model")
    keys = [m.key for m in model_catalog(shipped, engine).models]
    assert keys == [f"training:{t.id}", "shipped:nuclei", "imported:lab-model"]
    assert "shipped:nuclei" not in [m.key for m in model_catalog(shipped.with_(shipped_models=False), engine).models]
    entry = next(e for e in list_models(shipped, engine) if e.key == "shipped:nuclei")
    assert (entry.name, entry.project, entry.shipped, entry.imported) == (
        "Nuclei starter", "shipped with segstudio", True, False)


def test_a_shipped_model_is_neither_renamed_nor_deleted(shipped, engine):
    for change in (lambda: rename_model(shipped, engine, "shipped:nuclei", "Mine"),
                   lambda: delete_model(shipped, engine, "shipped:nuclei")):
        with pytest.raises(InvalidInputError, match="shipped with segstudio; it cannot be .*Export it and import"):
            change()
    assert (STARTERS["nuclei"].folder / CARD).exists()


def test_a_nuclei_training_starts_from_the_starter_by_default(shipped, engine):
    options = model_catalog(shipped, engine).models
    instance, semantic, detection = (training_type(n) for n in ("instance", "semantic", "detection"))
    assert default_start(options, instance, ["Nuclei"], 1) == "shipped:nuclei"
    assert default_start(options, semantic, ["DAPI"], 1) == "shipped:nuclei"
    assert default_start(options, instance, ["cytoplasm"], 1) == ""  # not what the starter learnt
    assert default_start(options, instance, ["nucleus"], 3) == ""  # RGB: not the starter's one channel
    assert default_start(options, detection, ["nucleus"], 1) == ""  # another network
    assert default_start(model_catalog(shipped.with_(shipped_models=False), engine).models,
                         instance, ["nucleus"], 1) == ""


def test_the_worker_applies_a_shipped_model_from_where_it_lives(shipped, engine):
    from core.jobs.worker import Worker
    from tests.jobs.test_worker import _finished, _wait

    model = next(m for m in model_catalog(shipped, engine).models if m.key == "shipped:nuclei")
    upload = shipped.data_dir / "tmp" / "cells.png"
    upload.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO_DIR / "images" / "1b6044e4858a9b7c.png", upload)
    run = queue_prediction(shipped, engine, model, uploads=[("cells.png", upload)], views=1)
    assert Path(run.model_dir).is_absolute() and Path(run.model_dir) == model.package_dir
    worker = Worker(shipped, poll_seconds=0.3).start()
    try:
        run = _wait(engine, run.id, _finished, get=repo.get_prediction)
    finally:
        worker.shutdown()
    assert run.status == "succeeded", run.error
    assert (shipped.data_dir / run.results["images"][0]["labels"]).exists()


# --- the real starter in the repository ---------------------------------------------------------------


def test_the_nuclei_starter_is_in_the_repository_with_its_credits():
    folder = NUCLEI.folder
    card = json.loads((folder / CARD).read_text(encoding="utf-8"))
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert size <= 30_000_000  # the limit for weights in the repository
    assert card["training_type"] == "instance" and card["in_channels"] == 1
    assert [lab["name"] for lab in card["labels"]] == ["nucleus"]
    assert card["normalization"]["scope"] == "image"  # 8- and 16-bit images alike
    assert set(card["shipped"]["data"]) == {"dsb2018_fluo", "bbbc039_u2os_16bit", "stardist_wheel_sample",
                                            "dsb2018_rgb_histo"}
    assert card["shipped"]["command"].startswith("python bench/build_starter.py")
    credits = (folder.parent / "CREDITS.md").read_text(encoding="utf-8")
    for name in card["shipped"]["data"]:
        assert name in credits


def test_the_nuclei_starter_finds_the_demo_nuclei_without_any_training():
    """F1@0.5 as the reports score it, on the demo project's six images (CC0 DSB2018 images the starter may
    have seen: this shows that the shipped package loads and works, not how well it generalises; the bench
    does that)."""
    from PIL import Image

    from core.training.assessment import assess
    from core.training.config import LabelSpec, TrainConfig
    from core.training.outcome import validation_samples
    from core.training.package import load_model
    from core.training.sources import ArrayImage

    images = []
    for path in sorted((DEMO_DIR / "images").glob("*.png")):
        pixels = np.asarray(Image.open(path))
        pixels = pixels[..., 0] if pixels.ndim == 3 else pixels
        truth = tifffile.imread(DEMO_DIR / "masks" / f"{path.stem}.tif").astype(np.int32)
        images.append(ArrayImage(path.stem, pixels[None], instances=truth[None]))
    cfg = TrainConfig(training_type="instance", labels=(LabelSpec(1, "nucleus", "#ff0000"),))
    model, card = load_model(NUCLEI.folder, "cpu")
    overall = assess(model, card, validation_samples(images, cfg)).overall()
    assert overall["f1"] >= 0.8, overall
