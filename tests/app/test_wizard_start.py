"""The wizard's "Start from" step (fine-tuning): an earlier training's model with its labels mapped, what is
kept and new, an incompatible model refused in words, the start stored in the training's configuration; and
"Train again from this model" on the Trainings page."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import ANNOTATED, SUCCEEDED, Training, utcnow
from core.demo import create_demo_project
from core.training.package import CARD, WEIGHTS
from core.trainings import WizardChoices
from tests.app.test_wizard_page import _button, _errors, _next
from tests.models_helpers import imported_package

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def _finished_training(settings, engine, project, label, images) -> Training:
    """A succeeded instance training of the demo project with a package (card with the output layout; the
    wizard reads only the card)."""
    wizard = WizardChoices(project_id=project.id, training_type="instance", label_ids=[label.id],
                           image_ids=[im.id for im in images[:4]], name="Nuclei v1").to_dict()
    with session_scope(engine) as s:
        t = repo.add_training(s, Training(
            project_id=project.id, name="Nuclei v1", status=SUCCEEDED, config={"wizard": wizard}, progress=1.0,
            started_at=utcnow(), finished_at=utcnow(), metrics={"overall": {"f1": 0.81}}))
    package = settings.training_dir(t.id) / "model"
    package.mkdir(parents=True)
    layout = [{"channel": c, "label_id": label.id, "label": "nucleus", "map": m,
               "activation": "distance" == m and "sigmoid" or "softmax3"}
              for c, m in enumerate(("background", "interior", "boundary", "distance"))]
    card = {"format_version": 1, "architecture": "smp.Unet", "encoder": "resnet18-compact", "in_channels": 1,
            "out_channels": 4, "training_type": "instance", "distance_head": True,
            "labels": [{"id": label.id, "name": "nucleus", "color": "#e6194b"}], "output_layout": layout,
            "normalization": {"method": "percentile", "low": [0.0], "high": [255.0]}}
    (package / CARD).write_text(json.dumps(card), encoding="utf-8")
    (package / WEIGHTS).write_bytes(b"w" * 100)
    with session_scope(engine) as s:
        return repo.update_training(s, t.id, model_dir=package.relative_to(settings.data_dir).as_posix())


def _to_start_step(project_id: int) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project_id
    at.switch_page("pages/wizard.py")
    at.run()
    for _ in range(6):  # project, type (instance), labels (the only one), split, images -> start from
        at = _next(at)
    assert "Step 7 of 9: Start from" in at.get("progress")[0].proto.text
    return at


def test_start_from_an_earlier_training_maps_the_labels_and_is_stored(app_env):
    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    with session_scope(engine) as s:
        images = repo.list_images(s, project.id)
        label = repo.list_labels(s, project.id)[0]
    earlier = _finished_training(app_env, engine, project, label, images)
    imported_package(app_env, "cells", training_type="semantic")  # another model on offer
    at = _to_start_step(project.id)
    start = at.selectbox(key="wiz_start_from")
    assert start.value == "" and "Nuclei v1 (Demo: fluorescent nuclei) — instance · nucleus · 1 channel(s)" in start.options
    start.set_value(f"training:{earlier.id}").run()
    assert not at.exception, at.exception
    # the only label maps to the model's "nucleus" (same name); what is kept and what is new, in words
    mapping = at.selectbox(key=f"wiz_map_training:{earlier.id}_{label.id}")
    assert mapping.value == label.id
    text = _text(at)
    assert "the encoder and decoder (resnet18-compact)" in text and "the output of the model's 'nucleus'" in text
    mapping.set_value(0).run()  # learn the label from scratch instead
    assert "New:" in _text(at) and "not mapped to one of the model's labels" in _text(at)
    mapping.set_value(label.id).run()
    at = _next(at)  # -> duration: the network is the model's
    assert not [s for s in at.selectbox if s.key == "wiz_encoder"]
    assert any("the network of the model this training starts from" in c.value for c in at.caption)
    at = _next(at)  # -> review
    assert "**Start from:** Nuclei v1" in _text(at) and "Kept from the model" in _text(at)
    at.text_input(key="wiz_name").set_value("Nuclei v2").run()
    _button(at, "wiz_start").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        queued = next(t for t in repo.list_trainings(s, project.id) if t.name == "Nuclei v2")
    config = queued.config["train_config"]
    assert config["start"] == {"key": f"training:{earlier.id}", "label_map": [[label.id, label.id]]}
    assert config["encoder"] == "resnet18-compact"


def test_a_classifier_cannot_start_an_instance_training_and_the_wizard_says_why(app_env):
    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    package = imported_package(app_env, "blood cells", training_type="semantic")
    card = json.loads((package / CARD).read_text())
    card.update(architecture="smp.encoder+avgpool+linear", training_type="classification", out_channels=2,
                labels=[{"id": 1, "name": "lymphocyte", "color": "#e6194b"},
                        {"id": 2, "name": "monocyte", "color": "#3cb44b"}])
    (package / CARD).write_text(json.dumps(card), encoding="utf-8")
    at = _to_start_step(project.id)
    at.selectbox(key="wiz_start_from").set_value("imported:blood cells").run()
    assert not at.exception, at.exception
    assert ("is an image classifier (encoder and one linear layer); instance segmentation needs a U-Net"
            in _errors(at))
    assert _button(at, "wiz_next").disabled
    at.selectbox(key="wiz_start_from").set_value("").run()  # random weights: fine again
    assert _errors(at) == "" and not _button(at, "wiz_next").disabled


def test_train_again_from_this_model_opens_the_review_with_the_new_images(app_env):
    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)
    with session_scope(engine) as s:
        images = repo.list_images(s, project.id)
        label = repo.list_labels(s, project.id)[0]
    earlier = _finished_training(app_env, engine, project, label, images)  # trained on 4 of the 6 images
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project.id
    at.session_state["training_detail"] = earlier.id
    at.switch_page("pages/trainings.py")
    at.run()
    _button(at, "train_again_from_model").click().run()
    assert not at.exception, at.exception
    assert "Step 9 of 9: Review and start" in at.get("progress")[0].proto.text
    assert "**Start from:** Nuclei v1" in _text(at) and "Kept from the model" in _text(at)
    assert at.text_input(key="wiz_name").value == "Nuclei v1 (run 2)"
    at.switch_page("pages/wizard.py")  # AppTest reruns the page it was sent to; the browser is on the wizard
    _button(at.run(), "wiz_start").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        again = next(t for t in repo.list_trainings(s, project.id) if t.name == "Nuclei v1 (run 2)")
        annotated = [im.id for im in repo.list_images(s, project.id) if im.status == ANNOTATED]
    assert sorted(again.split["train"] + again.split["val"]) == sorted(annotated)  # every annotated image now
    assert again.config["train_config"]["start"]["key"] == f"training:{earlier.id}"


def _shipped_starter(monkeypatch, tmp_path) -> None:
    """The shipped models on, with a tiny package (random weights) standing in for the nuclei starter."""
    from core.starters import STARTERS, Starter
    from tests.bioimageio.conftest import tiny_card, tiny_package

    real = STARTERS["nuclei"]
    folder = tiny_package(tmp_path / "starters" / "nuclei", tiny_card("instance", distance=True))
    monkeypatch.setitem(STARTERS, "nuclei", Starter(real.key, real.name, folder, real.training_types, real.words,
                                                    real.summary))
    monkeypatch.setenv("SEGSTUDIO_SHIPPED_MODELS", "on")


def test_a_nuclei_training_starts_from_the_shipped_starter_unless_the_user_says_otherwise(
        app_env, monkeypatch, tmp_path):
    _shipped_starter(monkeypatch, tmp_path)
    engine = make_engine(app_env.database_url)
    project = create_demo_project(app_env, engine)  # its label is "nucleus", its images one channel
    with session_scope(engine) as s:
        label = repo.list_labels(s, project.id)[0]
    at = _to_start_step(project.id)
    start = at.selectbox(key="wiz_start_from")
    assert start.value == "shipped:nuclei" and "Nuclei starter (shipped with segstudio)" in start.format_func(
        start.value)
    assert at.selectbox(key=f"wiz_map_shipped:nuclei_{label.id}").value != 0  # "nucleus" -> the starter's
    assert "Kept from the model" in _text(at)
    start.set_value("").run()  # random weights: the user's choice stays
    _button(at, "wiz_back").click().run()
    at = _next(at)
    assert at.selectbox(key="wiz_start_from").value == ""


def test_home_offers_segment_nuclei_now_with_the_starter_chosen_on_apply(app_env, monkeypatch, tmp_path):
    _shipped_starter(monkeypatch, tmp_path)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    links = [el for el in at.get("page_link") if "Segment nuclei now" in el.proto.label]
    assert links and links[0].proto.query_string in ("model=shipped%3Anuclei", "model=shipped:nuclei")
    monkeypatch.setenv("SEGSTUDIO_SHIPPED_MODELS", "off")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not [el for el in at.get("page_link") if "Segment nuclei now" in el.proto.label]
