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
    at.switch_page("pages/wizard.py")
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
    assert "Step 1 of 9" in at.get("progress")[0].proto.text
    at = _next(at)  # -> project
    assert "6 images · 6 annotated" in " ".join(c.value for c in at.caption)
    at = _next(at)  # -> training type
    at.radio(key="wiz_type").set_value("classification").run()  # available: its hint says what it trains on
    assert any("the project's labels are the classes" in c.value for c in at.caption)
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
    at = _next(at)  # -> start from (random weights by default)
    assert at.selectbox(key="wiz_start_from").value == ""
    at = _next(at)  # -> duration
    assert "about" in at.radio(key="wiz_duration").options[0]
    at = _next(at)  # -> review
    at.text_input(key="wiz_name").set_value("   ").run()
    assert "Give the training a name" in _errors(at) and _button(at, "wiz_start").disabled
    at.text_input(key="wiz_name").set_value("nuclei v1").run()
    _button(at, "wiz_start").click().run()
    assert not at.exception
    with session_scope(engine) as s:
        [training] = repo.list_trainings(s, project.id)
    # the user lands on the Trainings page, on that training, with the confirmation there
    assert at.title[0].value == "Trainings"
    assert any("number 1 in the queue" in i.value for i in at.info)
    assert at.selectbox(key="training_detail_picker").value == training.id
    assert at.query_params["training"] == str(training.id)
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


def _steps(at: AppTest) -> str:
    return at.get("progress")[0].proto.text


def test_a_projects_only_label_is_selected_already(app_env):
    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    with session_scope(engine) as s:
        [label] = repo.list_labels(s, project.id)
    at = _open(project.id)
    for _ in range(3):
        at = _next(at)
    assert "Step 4 of 9" in _steps(at)
    assert at.checkbox(key=f"wiz_label_{label.id}").value is True
    assert _errors(at) == "" and not _button(at, "wiz_next").disabled


def test_a_reload_keeps_the_step_and_the_choices(app_env):
    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    with session_scope(engine) as s:
        [label] = repo.list_labels(s, project.id)
        extra = repo.add_label(s, project.id, "mitochondrion")
    at = _open(project.id)
    at = _next(_next(at))  # -> training type
    at.radio(key="wiz_type").set_value("semantic").run()
    at = _next(at)  # -> labels
    at.checkbox(key=f"wiz_label_{label.id}").check().run()
    at = _next(at)  # -> split
    at.radio(key="wiz_split").set_value("manual").run()
    assert "Step 5 of 9" in _steps(at)
    address = {k: at.query_params[k] for k in ("step", "choices")}

    reloaded = AppTest.from_file(APP, default_timeout=60)  # a new session: nothing in session state
    reloaded.switch_page("pages/wizard.py")
    for name, value in address.items():
        reloaded.query_params[name] = value
    reloaded.run()
    assert not reloaded.exception, reloaded.exception
    assert "Step 5 of 9" in _steps(reloaded)
    assert reloaded.radio(key="wiz_split").value == "manual"
    _button(reloaded, "wiz_back").click().run()
    assert reloaded.checkbox(key=f"wiz_label_{label.id}").value is True
    assert reloaded.checkbox(key=f"wiz_label_{extra.id}").value is False
    _button(reloaded, "wiz_back").click().run()
    assert reloaded.radio(key="wiz_type").value == "semantic"


def test_an_unreadable_address_starts_again_with_a_word(app_env):
    engine = make_engine(app_env.database_url)
    create_demo_project(app_env, engine)
    for step, choices, expected in (("x", "{", "Step 1 of 9"), ("3", '{"label_ids": "all", "roi_only": true}',
                                                                  "Step 3 of 9")):
        at = AppTest.from_file(APP, default_timeout=60)
        at.switch_page("pages/wizard.py")
        at.query_params["step"], at.query_params["choices"] = step, choices
        at.run()
        assert not at.exception, at.exception
        assert expected in _steps(at)
        assert any("could not be read" in w.value for w in at.warning)


def test_mixed_bit_depths_are_accepted_and_a_small_validation_set_is_warned_about(app_env):
    from core.db.models import Image

    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    with session_scope(engine) as s:
        images = repo.list_images(s, project.id)
        row = s.get(Image, images[0].id)
        row.dtype = "uint16" if row.dtype != "uint16" else "uint8"  # one image of another bit depth
        s.add(row)
        s.commit()
    at = _open(project.id)
    for _ in range(4):  # intro -> project -> type -> labels -> split
        at = _next(at)
    at.radio(key="wiz_split").set_value("manual").run()
    at = _next(at)  # -> images
    ids = [im.id for im in images]
    at.multiselect(key="wiz_train").set_value(ids[:-1]).run()
    at.multiselect(key="wiz_val").set_value(ids[-1:]).run()
    assert _errors(at) == "" and not _button(at, "wiz_next").disabled  # it used to refuse: "one bit depth"
    assert any("different bit depths" in i.value and "own percentiles" in i.value for i in at.info)
    assert any("validation set is small (1 image with" in w.value for w in at.warning)
    at = _next(at)  # -> start from
    at = _next(at)  # -> duration
    at = _next(at)  # -> review: the warning again, before the start
    assert any("validation set is small" in w.value for w in at.warning)
    assert not _button(at, "wiz_start").disabled


def test_a_detection_training_is_configured_on_the_boxes_of_the_outlines(app_env):
    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    at = _open(project.id)
    at = _next(_next(at))  # -> training type
    at.radio(key="wiz_type").set_value("detection").run()
    assert not at.warning and any("counts as its bounding box" in c.value for c in at.caption)
    for _ in range(6):  # labels, split, images, start from, duration -> review
        at = _next(at)
    assert "object detection" in at.markdown[-1].value or "detection" in " ".join(m.value for m in at.markdown)
    at.text_input(key="wiz_name").set_value("nuclei boxes").run()
    _button(at, "wiz_start").click().run()
    assert not at.exception
    with session_scope(engine) as s:
        [training] = repo.list_trainings(s, project.id)
    config = training.config["train_config"]
    assert config["training_type"] == "detection" and config["augment"]["elastic"] is False
