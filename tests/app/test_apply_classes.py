"""Apply with a classification model: one table for the run (each image's predicted class, its probability,
the runner-up, every class's probability, tiles), counts per class, the filter by predicted class, the CSV
downloads, the pictures, and the predictions accepted as the images' classes (kept or replaced as chosen)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine
from core.jobs.worker import Worker
from core.predictions import MODELS_DIR
from core.projects import create_project, import_files
from tests.app.test_apply_page import APP, _wait_finished
from tests.inference.class_model import save_pictures, tiny_classifier_package

KINDS = ["dark", "bright", "bright", "medium"]


def _table(at: AppTest):
    return next(df.value for df in at.dataframe if "second_class" in df.value.columns)


def test_a_classification_model_shows_a_table_filtered_by_class_and_accepts_classes(app_env, tmp_path):
    engine = make_engine(app_env.database_url)
    tiny_classifier_package(app_env.data_dir / MODELS_DIR / "brightness")
    project = create_project(app_env, engine, "Blood")
    images = import_files(app_env, engine, project.id, save_pictures(tmp_path, KINDS)).imported
    with session_scope(engine) as s:
        ids = {name: repo.add_label(s, project.id, name).id for name in ("dark", "bright")}  # no "medium"
        repo.set_image_class(s, images[2].id, ids["dark"])  # the user said dark; the model will say bright

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project.id
    at.switch_page("pages/apply.py")
    at.run()
    assert not at.exception, at.exception
    model = at.selectbox(key="apply_model")
    assert "classification" in model.format_func(model.value)
    assert not at.get("radio")  # no flipped views to choose for a classifier
    at.multiselect(key="apply_images").set_value([im.id for im in images]).run()
    next(b for b in at.button if b.key == "apply_start").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        run = repo.list_predictions(s, limit=1)[0]
    worker = Worker(app_env, poll_seconds=0.3).start()
    try:
        assert _wait_finished(engine, run.id).status == "succeeded"
    finally:
        worker.shutdown()
    at.run()
    assert not at.exception, at.exception

    table = _table(at)
    assert list(table["image"]) == [im.name for im in images]
    assert list(table["class"]) == KINDS
    assert {"probability", "second_class", "second_probability", "tiles", "p_dark", "p_medium",
            "p_bright"} <= set(table.columns)
    assert (table["probability"] > 0.5).all() and (table["tiles"] == 1).all()
    counts = next(df.value for df in at.dataframe if list(df.value.columns) == ["Class", "Images"])
    assert dict(zip(counts["Class"], counts["Images"], strict=True)) == {"dark": 1, "medium": 1, "bright": 2}
    downloads = {b.proto.label for b in at.get("download_button")}
    assert {"Download everything (ZIP)", "Predicted classes (CSV)"} <= downloads
    assert not any("Measurements" in label for label in downloads)  # measurements are for label images
    assert len(at.get("image")) == len(images)  # the pictures of the images shown, with their class
    assert any(f"**{images[0].name}**" in m.value and "dark (" in m.value for m in at.markdown)

    at.multiselect(key=f"class_filter_{run.id}").set_value(["bright"]).run()
    assert not at.exception, at.exception
    assert list(_table(at)["image"]) == [images[1].name, images[2].name]
    assert len(at.get("image")) == 2
    assert any("2 of 4 image(s) shown" in c.value for c in at.caption)
    assert "The images shown (CSV)" in {b.proto.label for b in at.get("download_button")}

    # the model's "medium" has no project label: it maps to "do not set" unless the user picks one
    assert at.selectbox(key=f"class_map_{run.id}_medium").value is None
    assert at.selectbox(key=f"class_map_{run.id}_bright").value == ids["bright"]
    accept = next(b for b in at.button if b.key == f"accept_classes_{run.id}")
    assert accept.label == "Accept the 2 shown prediction(s) as classes"
    accept.click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        classes = repo.image_classes(s, project.id)
    assert classes == {images[1].id: ids["bright"], images[2].id: ids["dark"]}  # the user's class was kept
    said = " ".join(m.value for m in [*at.success, *at.info])
    assert "Set the class of 1 image(s)" in said and "already had a different class and kept it" in said

    at.radio(key=f"class_replace_{run.id}").set_value(True).run()
    next(b for b in at.button if b.key == f"accept_classes_{run.id}").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        assert repo.image_classes(s, project.id)[images[2].id] == ids["bright"]
    assert any("replaced a different class, as chosen" in m.value for m in at.success)
