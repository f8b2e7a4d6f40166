"""Apply with a detection model: the boxes over the image, the counts and boxes tables, the downloads, and the
boxes accepted as rectangle annotations; no measurements (those are for label images)."""

from __future__ import annotations

import shutil

from PIL import Image
from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine
from core.jobs.worker import Worker
from core.predictions import MODELS_DIR
from core.projects import create_project, import_files
from tests.app.test_apply_page import APP, _apply, _wait_finished
from tests.inference.box_model import squares


def test_a_detection_model_shows_boxes_counts_and_downloads_and_accepts_rectangles(
    app_env, tmp_path, tiny_detector_package
):
    engine = make_engine(app_env.database_url)
    shutil.copytree(tiny_detector_package, app_env.data_dir / MODELS_DIR / "boxes")
    project = create_project(app_env, engine, "Smears")
    with session_scope(engine) as s:
        repo.add_label(s, project.id, "square")
        repo.add_label(s, project.id, "bar")
    pixels, _ = squares(7, size=192)
    path = tmp_path / "smear.png"
    Image.fromarray(pixels[0]).save(path)
    [image] = import_files(app_env, engine, project.id, [(path.name, path)]).imported

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project.id
    at.switch_page("pages/apply.py")
    at.run()
    assert not at.exception, at.exception
    assert "detection" in at.selectbox(key="apply_model").format_func(at.selectbox(key="apply_model").value)
    at = _apply(at, image.id)
    with session_scope(engine) as s:
        run = repo.list_predictions(s, limit=1)[0]
    worker = Worker(app_env, poll_seconds=0.3).start()
    try:
        assert _wait_finished(engine, run.id).status == "succeeded"
    finally:
        worker.shutdown()
    at.run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        item = repo.get_prediction(s, run.id).results["images"][0]
    n_boxes = sum(item["counts"].values())
    assert n_boxes > 0
    assert {m.label for m in at.metric} >= {"square objects", "bar objects"}
    counts, boxes = at.dataframe[0].value, at.dataframe[1].value
    assert list(counts["Label"]) == ["square", "bar"] and int(counts["Boxes"].sum()) == n_boxes
    assert list(boxes.columns)[:6] == ["label", "score", "x_min", "y_min", "x_max", "y_max"]
    assert len(boxes) == n_boxes
    captions = [c for img in at.get("image") for c in img.captions]
    assert any(f"{n_boxes} box(es) in view" in c for c in captions), captions  # the whole image is in view
    downloads = {b.proto.label for b in at.get("download_button")}
    wanted = {"Boxes (CSV)", "COCO JSON", "Boxes (GeoJSON, QuPath)", "Overlay (PNG)", "All of it (ZIP)"}
    assert wanted <= downloads
    assert not any("Measurements" in label for label in downloads)  # measurements are for label images

    next(b for b in at.button if b.key == f"box_view_{run.id}_0_zoom_in").click().run()
    assert not at.exception, at.exception
    zoomed = [c for img in at.get("image") for c in img.captions]
    assert zoomed != captions and any("Zoom" in c for c in zoomed)

    next(b for b in at.button if b.key == f"accept_{run.id}_0").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        shapes = repo.list_shapes(s, image.id)
    assert len(shapes) == n_boxes
    assert {(sh.geometry, sh.source) for sh in shapes} == {("rectangle", "prediction")}

