"""A prediction run through the worker: project image + an upload -> labels, CSV, GeoJSON, ZIP; accept."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest

from core.db import repo, session_scope
from core.demo import DEMO_DIR
from core.jobs.worker import Worker
from core.predictions import accept_as_annotations, available_models, queue_prediction
from tests.jobs.test_worker import _finished, _queue, _wait, demo  # noqa: F401  (fixture)


@pytest.mark.slow  # 22 s (it trains first); the worker applies a model in tests/test_starters.py and tests/browser/test_apply_browser.py, accepting predictions in tests/app/test_apply_page.py
def test_predict_project_image_and_upload_then_accept(settings, engine, demo):  # noqa: F811
    training = _queue(settings, engine, demo, "for apply", 12)
    worker = Worker(settings, poll_seconds=0.5).start()
    try:
        done = _wait(engine, training.id, _finished)
        assert done.status == "succeeded", done.error
        [model] = available_models(settings, engine)
        with session_scope(engine) as s:
            image = repo.list_images(s, demo.id)[0]
        upload = settings.data_dir / "tmp" / "upload.png"
        upload.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEMO_DIR / "images" / "1b6044e4858a9b7c.png", upload)
        bad = settings.data_dir / "tmp" / "bad.tif"
        bad.write_bytes(b"not an image")
        run = queue_prediction(settings, engine, model, image_ids=[image.id],
                               uploads=[("new.png", upload), ("bad.tif", bad)])
        run = _wait(engine, run.id, _finished, get=repo.get_prediction)
    finally:
        worker.shutdown()
    assert run.status == "succeeded", run.error
    first, second, third = run.results["images"]
    assert "error" in third and "bad.tif" in third["error"]  # one bad file loses nothing else
    for item in (first, second):
        for key in ("labels", "csv", "geojson", "zip"):
            assert (settings.data_dir / item[key]).exists(), key
        geo = json.loads((settings.data_dir / item["geojson"]).read_text())
        assert geo["type"] == "FeatureCollection"
        assert sum(item["counts"].values()) == len(geo["features"])
    with zipfile.ZipFile(settings.data_dir / run.results["zip"]) as archive:
        assert any(n.endswith("_objects.csv") for n in archive.namelist())
    with session_scope(engine) as s:
        label = repo.list_labels(s, demo.id)[0]
        before = len(repo.list_shapes(s, image.id))
    added = accept_as_annotations(settings, engine, run.id, 0, {"nucleus": label.id})
    with session_scope(engine) as s:
        shapes = repo.list_shapes(s, image.id)
    # one polygon per connected piece: an object the watershed left in two pieces gives two
    assert added >= sum(first["counts"].values()) and len(shapes) == before + added
    assert all(sh.source == "prediction" for sh in shapes[before:])


def test_a_prediction_run_records_the_views_asked_for_and_refuses_others(settings, engine):
    import pytest

    from core.errors import InvalidInputError
    from core.predictions import ModelChoice

    folder = settings.data_dir / "models" / "m"
    folder.mkdir(parents=True)
    model = ModelChoice("imported:m", "m", folder, None, {"views": 8})
    upload = settings.data_dir / "tmp" / "a.png"
    upload.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO_DIR / "images" / "1b6044e4858a9b7c.png", upload)
    fast = queue_prediction(settings, engine, model, uploads=[("a.png", upload)], views=1)
    default = queue_prediction(settings, engine, model, uploads=[("a.png", upload)])
    assert fast.config["views"] == 1 and default.config["views"] is None  # None: the card's
    with pytest.raises(InvalidInputError, match=r"views=3 must be one of \[1, 2, 4, 8\]"):
        queue_prediction(settings, engine, model, uploads=[("a.png", upload)], views=3)
