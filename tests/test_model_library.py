"""The Models list and its rules: rename (trained: the training's name; imported: the card's display name),
delete (the package only; refused while a prediction run uses it), export."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from core.db import repo, session_scope
from core.db.models import Prediction
from core.errors import InvalidInputError, JobError, ModelPackageError
from core.model_library import delete_model, export_model_zip, find_entry, list_models, rename_model
from core.predictions import find_model
from core.training.package import CARD
from tests.models_helpers import imported_package, trained_model


@pytest.fixture
def project(engine):
    with session_scope(engine) as s:
        return repo.create_project(s, "Nuclei")


def test_the_list_holds_trained_imported_and_broken_models(settings, engine, project):
    t = trained_model(settings, engine, project.id, "first", overall={"iou": 0.81234, "accuracy": 0.99})
    imported_package(settings, "shared-abc", metrics={"mean_iou": 0.7})
    broken = imported_package(settings, "broken-def")
    (broken / "weights.pt").unlink()
    entries = {e.key: e for e in list_models(settings, engine)}
    trained = entries[f"training:{t.id}"]
    assert (trained.name, trained.project, trained.training_type, trained.labels) == (
        "first", "Nuclei", "semantic", ("nucleus",))
    assert trained.score == "IoU 0.812" and trained.size_bytes > 1000 and trained.created.endswith("UTC")
    shared = entries["imported:shared-abc"]
    assert shared.imported and shared.project == "imported" and shared.score == "IoU 0.700"
    bad = entries["imported:broken-def"]
    assert bad.broken and "missing" in bad.broken


def test_renaming_keeps_apply_and_predict_finding_the_model(settings, engine, project):
    t = trained_model(settings, engine, project.id, "first")
    folder = imported_package(settings, "shared-abc")
    assert rename_model(settings, engine, f"training:{t.id}", "  nuclei   v2 ") == "nuclei v2"
    with session_scope(engine) as s:
        assert repo.get_training(s, t.id).name == "nuclei v2"  # the trained model's name is its training's
    assert find_model(settings, engine, "nuclei v2").training_id == t.id

    rename_model(settings, engine, "imported:shared-abc", "Lab nuclei")
    assert json.loads((folder / CARD).read_text())["display_name"] == "Lab nuclei"
    assert find_model(settings, engine, "Lab nuclei").package_dir == folder  # by its new name
    assert find_model(settings, engine, "shared-abc").package_dir == folder  # and by its folder, as before
    assert find_entry(list_models(settings, engine), "Lab nuclei").key == "imported:shared-abc"


def test_renaming_refuses_names_that_would_confuse_the_lookup(settings, engine, project):
    t = trained_model(settings, engine, project.id, "first")
    imported_package(settings, "shared-abc")
    with pytest.raises(InvalidInputError, match="already called"):
        rename_model(settings, engine, f"training:{t.id}", "Shared-ABC")  # another model's folder name
    with pytest.raises(InvalidInputError, match="already called"):
        rename_model(settings, engine, "imported:shared-abc", "FIRST")
    with pytest.raises(InvalidInputError, match="only digits"):
        rename_model(settings, engine, "imported:shared-abc", "42")
    with pytest.raises(InvalidInputError, match="empty"):
        rename_model(settings, engine, "imported:shared-abc", "   ")
    with session_scope(engine) as s:
        assert repo.get_training(s, t.id).name == "first"  # nothing changed


def test_deleting_a_trained_model_keeps_its_training_and_report(settings, engine, project):
    t = trained_model(settings, engine, project.id, "first")
    report = settings.training_dir(t.id) / "report.zip"
    report.write_bytes(b"report")
    deleted = delete_model(settings, engine, f"training:{t.id}")
    assert deleted.name == "first" and not (settings.training_dir(t.id) / "model").exists()
    assert report.exists()
    with session_scope(engine) as s:
        kept = repo.get_training(s, t.id)
    assert kept.model_dir == "" and kept.metrics["overall"]  # the record, its metrics and report stay
    assert [e.key for e in list_models(settings, engine)] == []
    assert not list(settings.training_dir(t.id).glob(".deleting-*"))


def test_a_model_in_use_by_a_prediction_run_is_not_deleted(settings, engine, project):
    folder = imported_package(settings, "shared-abc")
    with session_scope(engine) as s:
        run = repo.add_prediction(s, Prediction(model_dir="models/shared-abc", status="running"))
    with pytest.raises(JobError, match=f"prediction run\\(s\\) {run.id}"):
        delete_model(settings, engine, "imported:shared-abc")
    assert (folder / CARD).exists()
    with session_scope(engine) as s:
        repo.update_prediction(s, run.id, status="succeeded")
    delete_model(settings, engine, "imported:shared-abc")
    assert not folder.exists()


def test_a_broken_package_can_be_deleted_not_renamed_or_exported(settings, engine):
    broken = imported_package(settings, "broken-def")
    (broken / CARD).write_text("{not json", encoding="utf-8")
    [entry] = list_models(settings, engine)
    assert entry.broken and "JSON" in entry.broken
    with pytest.raises(ModelPackageError, match="cannot be renamed"):
        rename_model(settings, engine, entry.key, "fixed")
    with pytest.raises(ModelPackageError, match="cannot be exported"):
        export_model_zip(entry)
    delete_model(settings, engine, entry.key)
    assert not broken.exists() and list_models(settings, engine) == []


def test_export_gives_an_importable_zip_with_the_new_name(settings, engine, project):
    imported_package(settings, "shared-abc")
    rename_model(settings, engine, "imported:shared-abc", "Lab nuclei")
    [entry] = list_models(settings, engine)
    with zipfile.ZipFile(io.BytesIO(export_model_zip(entry))) as zf:
        assert sorted(zf.namelist()) == ["model/model_card.json", "model/weights.pt"]
        assert json.loads(zf.read("model/model_card.json"))["display_name"] == "Lab nuclei"


def test_classifier_packages_are_listed_imported_exported_and_offered_to_apply(settings, engine, project,
                                                                             tmp_path):
    """A real classifier package (the engine's card and weights): imported from a folder (its weights
    loaded by the classifier's own loader), trained, listed with its accuracy, exported and applied."""
    from core.inference.package_io import import_model_package
    from core.predictions import MODELS_DIR, available_models
    from tests.inference.class_model import CLASSES, tiny_classifier_package

    source = tiny_classifier_package(tmp_path / "model")
    folder = import_model_package(source, settings.data_dir / MODELS_DIR)
    t = trained_model(settings, engine, project.id, "cells", overall={"accuracy": 0.9, "macro_f1": 0.85})
    package = settings.data_dir / t.model_dir
    for name in ("model_card.json", "weights.pt"):  # the training's package is a classifier too
        (package / name).write_bytes((source / name).read_bytes())
    entries = {e.key: e for e in list_models(settings, engine)}
    trained, imported = entries[f"training:{t.id}"], entries[f"imported:{folder.name}"]
    for entry in (trained, imported):
        assert entry.training_type == "classification" and entry.labels == CLASSES and not entry.broken
    assert trained.score == "Accuracy 0.900"
    assert imported.score == "Accuracy 1.000"  # the card's validation accuracy
    with zipfile.ZipFile(io.BytesIO(export_model_zip(imported))) as zf:
        files = set(zf.namelist())
    assert {"model/model_card.json", "model/weights.pt", "model/model.torchscript.pt"} <= files
    offered = {m.key: m for m in available_models(settings, engine)}
    assert {trained.key, imported.key} <= set(offered)
    assert offered[imported.key].title.startswith(f"{folder.name} (imported) — classification · dark, medium")
