from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import QUEUED
from core.demo import create_demo_project

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _open(project_id: int | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if project_id is not None:
        at.session_state["project_id"] = project_id
    at.switch_page("screens/wizard.py")
    return at.run()


def _button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def _errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


def _next(at: AppTest) -> AppTest:
    assert not _button(at, "wiz_next").disabled, _errors(at)
    _button(at, "wiz_next").click().run()
    assert not at.exception, at.exception
    return at


def test_walk_the_wizard_break_each_rule_and_start(app_env):
    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    with session_scope(engine) as s:
        images = repo.list_images(s, project.id)
        label = repo.list_labels(s, project.id)[0]
        extra = repo.add_label(s, project.id, "mitochondrion")
    at = _open(project.id)
    assert not at.exception
    assert "Step 1 of 8" in at.get("progress")[0].proto.text
    at = _next(at)  # -> project
    assert "6 images · 6 annotated" in " ".join(c.value for c in at.caption)
    at = _next(at)  # -> training type
    at.radio(key="wiz_type").set_value("object_detection").run()
    assert any("not available yet" in w.value for w in at.warning)
    at.radio(key="wiz_type").set_value("instance").run()
    at = _next(at)  # -> labels
    at.checkbox(key=f"wiz_label_{label.id}").uncheck().run()
    assert "Select at least 1 label" in _errors(at) and _button(at, "wiz_next").disabled
    at.checkbox(key=f"wiz_label_{extra.id}").check().run()
    at = _next(at)  # labels step only needs a label; the annotation rule is checked with the images
    at.radio(key="wiz_split").set_value("manual").run()
    at = _next(at)  # -> images (manual)
    assert "training set needs at least 1 annotated image" in _errors(at)
    assert "'mitochondrion' are not annotated" in _errors(at)
    # back to labels: choices are kept
    _button(at, "wiz_back").click().run()
    _button(at, "wiz_back").click().run()
    assert at.checkbox(key=f"wiz_label_{extra.id}").value is True
    at.checkbox(key=f"wiz_label_{extra.id}").uncheck().run()
    at.checkbox(key=f"wiz_label_{label.id}").check().run()
    at = _next(at)
    assert at.radio(key="wiz_split").value == "manual"
    at = _next(at)
    at.multiselect(key="wiz_train").set_value([images[0].id, images[1].id]).run()
    assert "validation set needs at least 1 annotated image" in _errors(at)
    at.multiselect(key="wiz_val").set_value([images[1].id]).run()
    assert "in both the training and the validation set" in _errors(at)
    at.multiselect(key="wiz_val").set_value([images[2].id]).run()
    assert _errors(at) == ""
    at = _next(at)  # -> duration
    assert "about" in at.radio(key="wiz_duration").options[0]
    at = _next(at)  # -> review
    at.text_input(key="wiz_name").set_value("   ").run()
    assert "Give the training a name" in _errors(at) and _button(at, "wiz_start").disabled
    at.text_input(key="wiz_name").set_value("nuclei v1").run()
    _button(at, "wiz_start").click().run()
    assert not at.exception
    assert any("number 1 in the queue" in s.value for s in at.success)
    with session_scope(engine) as s:
        [training] = repo.list_trainings(s, project.id)
    assert training.status == QUEUED and training.name == "nuclei v1"
    assert training.split == {"train": [images[0].id, images[1].id], "val": [images[2].id]}


def test_project_step_explains_missing_annotations(app_env):
    engine = make_engine(app_env.database_url)
    from core.projects import create_project

    project = create_project(app_env, engine, "Empty")
    at = _open(project.id)
    at = _next(at)
    errors = _errors(at)
    assert "no labels" in errors and "annotate at least 2" in errors
    assert _button(at, "wiz_next").disabled
