"""A classification model applied through the worker: each image's class and probabilities, the run's
classes.csv and ZIP; then the predictions accepted as the images' classes (real SQLite), existing classes
kept or replaced as chosen, and every image that could not be given a class named with the reason."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.class_accept import accept_as_classes, default_class_map
from core.db import repo, session_scope
from core.db.models import ANNOTATED, NOT_ANNOTATED, SUCCEEDED, Prediction
from core.errors import InvalidInputError, NotFoundError
from core.inference.classes import class_record
from core.jobs.worker import Worker
from core.predictions import MODELS_DIR, available_models, queue_prediction
from core.projects import create_project, import_files
from tests.inference.class_model import (
    CLASSES,
    picture,
    save_picture,
    save_pictures,
    tiny_classifier_package,
)
from tests.jobs.test_worker import _finished, _wait


def _project(settings, engine, tmp_path: Path, kinds: list[str], *, labels=CLASSES):
    project = create_project(settings, engine, "Cells")
    with session_scope(engine) as s:
        label_ids = {name: repo.add_label(s, project.id, name).id for name in labels}
    images = import_files(settings, engine, project.id, save_pictures(tmp_path, kinds)).imported
    return project, label_ids, images


def _run_with(engine, records: list[dict]) -> int:
    """A finished prediction run holding ``records`` as its images' results."""
    with session_scope(engine) as s:
        run = repo.add_prediction(s, Prediction(model_dir="models/m", config={}, status=SUCCEEDED,
                                                results={"images": records}))
    return run.id


def _item(image, cls: str, *, index: int = 0) -> dict:
    probs = np.array([0.8 if c == cls else 0.1 for c in CLASSES])
    return {"index": index, "image_id": image.id, "name": image.name, "result_kind": "classes",
            "prediction": class_record(probs, CLASSES)}


def test_predictions_become_classes_and_existing_classes_are_kept_unless_replaced(settings, engine, tmp_path):
    project, ids, images = _project(settings, engine, tmp_path, ["dark", "medium", "bright"])
    dark, medium, bright = images
    with session_scope(engine) as s:
        repo.set_image_class(s, medium.id, ids["medium"])  # the prediction agrees
        repo.set_image_class(s, bright.id, ids["dark"])  # the user said otherwise
    run_id = _run_with(engine, [_item(dark, "dark"), _item(medium, "medium", index=1),
                                _item(bright, "bright", index=2)])
    class_map = default_class_map(CLASSES, {v: k for k, v in ids.items()})
    assert class_map == ids

    report = accept_as_classes(settings, engine, run_id, [0, 1, 2], class_map, project_id=project.id)
    assert (report.set, report.replaced, report.kept, report.unchanged) == (1, 0, 1, 1)
    with session_scope(engine) as s:
        assert repo.image_classes(s, project.id) == {dark.id: ids["dark"], medium.id: ids["medium"],
                                                     bright.id: ids["dark"]}
        assert repo.get_image(s, dark.id).status == ANNOTATED  # an image with a class is annotated
    text = " ".join(report.sentences())
    assert "Set the class of 1 image(s)" in text
    assert "1 image(s) already had a different class and kept it" in text
    assert "1 image(s) already had the predicted class" in text

    again = accept_as_classes(settings, engine, run_id, [2], class_map, project_id=project.id, replace=True)
    assert (again.set, again.replaced, again.changed) == (0, 1, 1)
    assert "1 of them replaced a different class, as chosen" in again.sentences()[0]
    with session_scope(engine) as s:
        assert repo.get_image(s, bright.id).class_id == ids["bright"]


def test_images_that_cannot_get_a_class_are_named_with_the_reason(settings, engine, tmp_path):
    project, ids, [dark, bright] = _project(settings, engine, tmp_path, ["dark", "bright"],
                                            labels=("dark", "medium"))
    other = create_project(settings, engine, "Other")
    path = tmp_path / "other.png"
    save_picture(path, picture("dark", seed=9))
    [foreign] = import_files(settings, engine, other.id, [(path.name, path)]).imported
    upload = {"index": 3, "name": "upload.png", "stored": "predictions/1/inputs/input3.tif",
              "result_kind": "classes", "prediction": class_record(np.array([0.9, 0.05, 0.05]), CLASSES)}
    failed = {"index": 4, "name": "broken.tif", "error": "cannot be opened"}
    run_id = _run_with(engine, [_item(dark, "dark"), _item(bright, "bright", index=1),
                                _item(foreign, "dark", index=2), upload, failed])
    class_map = default_class_map(CLASSES, {v: k for k, v in ids.items()})
    assert class_map["bright"] is None  # the project has no label "bright"

    report = accept_as_classes(settings, engine, run_id, range(5), class_map, project_id=project.id)
    assert report.set == 1
    assert report.not_mapped == [bright.name]
    assert report.not_in_project == [foreign.name, "upload.png"] and report.failed == ["broken.tif"]
    text = " ".join(report.sentences())
    assert f"No project label was chosen for the predicted class of 1 image(s) ({bright.name})" in text
    assert "are not images of this project" in text
    assert "The prediction failed for 1 image(s) (broken.tif)" in text
    with session_scope(engine) as s:
        assert repo.image_classes(s, project.id) == {dark.id: ids["dark"]}
        assert repo.get_image(s, bright.id).status == NOT_ANNOTATED

    with pytest.raises(InvalidInputError, match="Choose at least one predicted image"):
        accept_as_classes(settings, engine, run_id, [], class_map, project_id=project.id)
    with pytest.raises(NotFoundError, match=r"no image number\(s\) \[9\]"):
        accept_as_classes(settings, engine, run_id, [8], class_map, project_id=project.id)
    with session_scope(engine) as s:
        other_label = repo.add_label(s, other.id, "dark").id
    with pytest.raises(InvalidInputError, match="are not labels of this project"):
        accept_as_classes(settings, engine, run_id, [0], {"dark": other_label}, project_id=project.id)


def test_a_classification_run_through_the_worker_writes_classes_and_its_table(settings, engine, tmp_path):
    project, ids, images = _project(settings, engine, tmp_path, ["bright", "dark"])
    tiny_classifier_package(settings.data_dir / MODELS_DIR / "brightness")
    [model] = available_models(settings, engine)
    assert model.card["training_type"] == "classification"
    upload = settings.data_dir / "tmp" / "big.png"
    upload.parent.mkdir(parents=True, exist_ok=True)
    save_picture(upload, picture("medium", size=(150, 130), seed=5))
    run = queue_prediction(settings, engine, model, image_ids=[im.id for im in images],
                           uploads=[("big.png", upload)])
    worker = Worker(settings, poll_seconds=0.3).start()
    try:
        run = _wait(engine, run.id, _finished, get=repo.get_prediction, poll=0.3)
    finally:
        worker.shutdown()
    assert run.status == SUCCEEDED, run.error
    first, second, third = run.results["images"]
    assert [r["prediction"]["class"] for r in (first, second, third)] == ["bright", "dark", "medium"]
    assert first["result_kind"] == "classes" and (settings.data_dir / first["classes"]).exists()
    assert third["prediction"]["tiles"] > 1 and "tiles" in third["warnings"][0]
    table = settings.data_dir / run.results["table"]
    with open(table, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["image"] for r in rows] == [images[0].name, images[1].name, "big.png"]
    assert [r["class"] for r in rows] == ["bright", "dark", "medium"]
    assert {f"p_{c}" for c in CLASSES} <= set(rows[0])
    with zipfile.ZipFile(settings.data_dir / run.results["zip"]) as archive:
        names = archive.namelist()
    assert "classes.csv" in names and any(n.endswith("_class.csv") for n in names)
    shutil.rmtree(settings.data_dir / MODELS_DIR)  # a later run cannot find its model; this one is done

    report = accept_as_classes(settings, engine, run.id, [0, 1, 2], default_class_map(CLASSES, {
        v: k for k, v in ids.items()}), project_id=project.id)
    assert report.set == 2 and report.not_in_project == ["big.png"]
