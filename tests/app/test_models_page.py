"""The Models page: every model listed; rename, delete (with a confirmation), export, and Apply with the
model preselected."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine
from core.training.package import CARD
from tests.models_helpers import imported_package, trained_model

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _open() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/models.py")
    return at.run()


def _button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def _seed(settings):
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        project = repo.create_project(s, "Nuclei")
    trained = trained_model(settings, engine, project.id, "first", overall={"iou": 0.81234})
    shared = imported_package(settings, "shared-abc")
    broken = imported_package(settings, "broken-def")
    (broken / CARD).write_text("{not json", encoding="utf-8")
    return engine, project, trained, shared, broken


def test_the_list_rename_and_export(app_env):
    engine, _, trained, shared, _ = _seed(app_env)
    at = _open()
    assert not at.exception, at.exception
    [table] = at.dataframe
    assert list(table.value["Name"]) == ["first", "shared-abc", "broken-def"]
    assert list(table.value["Validation score"])[:1] == ["IoU 0.812"]
    assert list(table.value["State"]) == ["usable", "usable", "broken"]
    assert any("cannot be used" in e.value for e in at.error)  # the broken one says why
    assert not any(b.key == "apply_imported_broken-def" for b in at.button)  # and offers only Delete

    export = next(b for b in at.get("download_button") if b.key == f"export_training_{trained.id}")
    assert export.proto.deferred_file_id and export.proto.ignore_rerun  # made when clicked, no rerun

    _button(at, "rename_imported_shared-abc").click().run()
    at.text_input(key="rename_name_imported_shared-abc").set_value("Lab nuclei")
    _button(at, "FormSubmitter:rename_form_imported_shared-abc-Save the name").click().run()
    assert not at.exception, at.exception
    assert json.loads((shared / CARD).read_text())["display_name"] == "Lab nuclei"
    assert "Lab nuclei" in list(at.dataframe[0].value["Name"])

    _button(at, f"rename_training_{trained.id}").click().run()
    at.text_input(key=f"rename_name_training_{trained.id}").set_value("Lab nuclei")  # taken: refused
    _button(at, f"FormSubmitter:rename_form_training_{trained.id}-Save the name").click().run()
    assert any("already called" in e.value for e in at.error)
    with session_scope(engine) as s:
        assert repo.get_training(s, trained.id).name == "first"


def test_delete_asks_first_and_keeps_the_training(app_env):
    engine, _, trained, shared, broken = _seed(app_env)
    at = _open()
    _button(at, "delete_imported_broken-def").click().run()
    assert broken.exists() and any("Delete the imported model" in w.value for w in at.warning)
    _button(at, "delete_no_imported_broken-def").click().run()
    assert broken.exists() and not any("Delete the imported model" in w.value for w in at.warning)
    _button(at, "delete_imported_broken-def").click().run()
    _button(at, "delete_yes_imported_broken-def").click().run()
    assert not at.exception and not broken.exists()

    _button(at, f"delete_training_{trained.id}").click().run()
    assert any("The training stays" in w.value for w in at.warning)
    _button(at, f"delete_yes_training_{trained.id}").click().run()
    assert not at.exception, at.exception
    assert not (app_env.training_dir(trained.id) / "model").exists()
    with session_scope(engine) as s:
        assert repo.get_training(s, trained.id).metrics  # the training is kept
    assert list(at.dataframe[0].value["Name"]) == ["shared-abc"]


def test_apply_opens_the_apply_page_with_the_model_chosen(app_env):
    _, project, trained, _, _ = _seed(app_env)
    at = _open()
    at.session_state["project_id"] = project.id
    _button(at, "apply_imported_shared-abc").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="apply_model").value == "imported:shared-abc"  # not the first (the trained one)
    assert at.query_params["model"] == "imported:shared-abc"  # a reload keeps it
    # choosing another model there is kept (the address follows it; it does not pull the choice back), and
    # choosing a model other than the first no longer fails (the select box was made once per model passed)
    at.switch_page("pages/apply.py")  # AppTest's next run goes back to its own page otherwise
    at.selectbox(key="apply_model").set_value(f"training:{trained.id}").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="apply_model").value == f"training:{trained.id}"
    assert at.query_params["model"] == f"training:{trained.id}"


def test_bioimageio_download_or_the_reason_why_not(app_env):
    """Segmentation models offer "Download for bioimage.io (ZIP)" (made when clicked, no rerun); a detection
    model says in one line why it has none."""
    _, _, trained, _, _ = _seed(app_env)
    boxes = imported_package(app_env, "boxes-ghi")
    card = json.loads((boxes / CARD).read_text())
    card.update(training_type="detection", out_channels=3)
    (boxes / CARD).write_text(json.dumps(card), encoding="utf-8")
    at = _open()
    assert not at.exception, at.exception
    zoo = {b.key: b for b in at.get("download_button") if b.key.startswith("bioimageio_")}
    assert set(zoo) == {f"bioimageio_training_{trained.id}", "bioimageio_imported_shared-abc"}
    button = zoo[f"bioimageio_training_{trained.id}"]
    assert button.proto.label == "Download for bioimage.io (ZIP)"
    assert button.proto.deferred_file_id and button.proto.ignore_rerun
    reasons = [c.value for c in at.caption if c.value.startswith("No bioimage.io download")]
    assert reasons == ["No bioimage.io download: object detection models give boxes, not label images; the "
                       "bioimage.io export covers semantic and instance segmentation models."]
