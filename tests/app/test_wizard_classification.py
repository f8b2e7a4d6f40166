"""The wizard with image classification, from the type to Start: at least 2 classes, at least 2 images per
class, background-only images left out (it says so), no "ROIs only", and a random split stratified by
class."""

from __future__ import annotations

from collections import Counter

import numpy as np
from PIL import Image as PILImage

from core.classification.defaults import CONFIG_DEFAULTS
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import BACKGROUND, QUEUED
from core.projects import import_files
from tests.app.test_wizard_page import _button, _errors, _next, _open
from tests.training.class_synth import class_project


def test_walk_the_wizard_with_classification_break_its_rules_and_start(app_env, tmp_path):
    engine = make_engine(app_env.database_url)
    cp = class_project(app_env, engine, tmp_path, n_per_class=5, mislabelled=False)
    empty = tmp_path / "empty.png"
    PILImage.fromarray(np.full((40, 40), 25, dtype=np.uint8)).save(empty)
    [background] = import_files(app_env, engine, cp.project_id, [(empty.name, empty)]).imported
    with session_scope(engine) as s:
        repo.set_image_status(s, background.id, BACKGROUND)

    at = _open(cp.project_id)
    at = _next(_next(at))  # -> training type
    at.radio(key="wiz_type").set_value("classification").run()
    assert any("the project's labels are the classes" in c.value for c in at.caption)
    at = _next(at)  # -> classes
    assert "Select only the classes relevant" in " ".join(m.value for m in at.markdown)
    assert at.checkbox(key=f"wiz_label_{cp.bright}").label == "bright — class of 6 image(s)"  # + d0's ROI
    at.checkbox(key=f"wiz_label_{cp.bright}").check().run()
    assert _errors(at) == "Select at least 2 classes (image classification tells them apart)."
    assert _button(at, "wiz_next").disabled
    at.checkbox(key=f"wiz_label_{cp.dark}").check().run()
    at = _next(at)  # -> split
    assert not any(c.key == "wiz_roi" for c in at.checkbox)  # ROIs with a class are examples themselves
    assert any("stratified by class" in c.value for c in at.caption)
    at = _next(at)  # -> images (random split)
    assert set(at.radio(key="wiz_imtype").options) == {"2D (grayscale or RGB)",
                                                        "Multichannel (more than 3 channels)"}
    offered = at.multiselect(key="wiz_images").value
    assert sorted(offered) == sorted(cp.images.values())  # every image with a class; not the background one
    assert any("Background-only images do not apply to image classification" in c.value for c in at.caption)
    assert _errors(at) == ""
    dark = [cp.images[f"d{k}.png"] for k in range(1, 5)]  # d0 also holds a bright ROI
    at.multiselect(key="wiz_images").set_value([i for i in offered if i not in dark]).run()
    assert "'dark' (1) has fewer" in _errors(at) and _button(at, "wiz_next").disabled
    at.multiselect(key="wiz_images").set_value(offered).run()
    assert _errors(at) == ""
    at = _next(at)  # -> start from
    at = _next(at)  # -> duration
    # the network choice is the classifier's encoder (the engine builds on it), described as a classifier
    network = at.selectbox(key="wiz_encoder")
    assert ("resnet18-compact: the resnet18 encoder (its first 4 stages), global average pooling and a linear "
            "layer to the classes") in network.options
    assert not any("decoder" in option for option in network.options)
    network.set_value("resnet18").run()
    at = _next(at)  # -> review
    assert "Network:** CNN classifier: the resnet18 encoder (no U-Net decoder)" in " ".join(
        m.value for m in at.markdown)
    at.text_input(key="wiz_name").set_value("cells v1").run()
    _button(at, "wiz_start").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Trainings"

    with session_scope(engine) as s:
        [training] = repo.list_trainings(s, cp.project_id)
    assert training.status == QUEUED
    assert training.config["train_config"]["training_type"] == "classification"
    assert training.config["train_config"]["use_distance_head"] is False  # segmentation heads do not apply
    # the engine's own defaults (core.classification.defaults) and the chosen network
    assert training.config["train_config"]["patch_size"] == CONFIG_DEFAULTS["patch_size"]
    assert training.config["train_config"]["encoder"] == "resnet18"
    assert set(training.split["train"]) | set(training.split["val"]) == set(cp.images.values())
    names = {i: n for n, i in cp.images.items()}
    # stratified: of each class's 5 images one goes to validation (d0 is a dark image with a bright ROI)
    assert Counter(names[i][0] for i in training.split["val"]) == {"b": 1, "d": 1}
