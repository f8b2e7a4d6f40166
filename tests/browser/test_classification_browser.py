"""Image classification in a real browser: upload images, add the classes, label every image with the
keyboard on the Annotate page's Classes mode, train a tiny classifier through the wizard, apply it to the
images and download the predicted classes CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import SUCCEEDED
from tests.browser.conftest import (
    RunningApp,
    click_when_single,
    start_app,
    stop_app,
    wait_for_idle,
    wizard_next,
)

pytestmark = pytest.mark.browser
CLASSES = ("disc", "stripes", "checks")  # keys 1, 2, 3 (the labels' order)
PER_CLASS = 4


def _pictures(folder: Path) -> dict[str, str]:
    """Four 48 x 48 RGB pictures of each class, seeded: a red disc, green stripes, blue checks (with noise).
    Returns file name -> class."""
    rng = np.random.default_rng(26)
    yy, xx = np.mgrid[:48, :48]
    shapes = {"disc": (yy - 24) ** 2 + (xx - 24) ** 2 < 14**2, "stripes": (yy // 6) % 2 == 0,
              "checks": ((yy // 8) + (xx // 8)) % 2 == 0}
    folder.mkdir()
    names = {}
    for index in range(PER_CLASS):
        for channel, name in enumerate(CLASSES):
            picture = rng.integers(0, 60, (48, 48, 3)).astype(np.uint8)
            picture[shapes[name], channel] = rng.integers(170, 255)
            file = f"{name}_{index}.png"
            PILImage.fromarray(picture).save(folder / file)
            names[file] = name
    return names


@pytest.fixture
def classify_app(tmp_path: Path) -> Iterator[RunningApp]:
    """The app with a quick training of a few seconds (the classifier's budget)."""
    app = start_app(tmp_path / "data", tmp_path / "streamlit.log", {"SEGSTUDIO_QUICK_SECONDS": "3"})
    yield app
    stop_app(app)


def _shown_image(page) -> str:
    """The name of the image the Classes mode shows (its picture's caption)."""
    return page.locator('[data-testid="stImageCaption"]').first.inner_text().strip()


def _key(name: str) -> str:
    """The key of class ``name``: 1, 2, 3 in the order the classes were added."""
    return str(CLASSES.index(name) + 1)


def _press(page, key: str, then: str) -> None:
    """Press ``key`` and wait until the Classes mode says ``then`` (its rerun drew the image it opened)."""
    page.keyboard.press(key)
    page.get_by_text(then).wait_for()


def test_label_with_the_keyboard_train_a_classifier_and_download_its_classes(classify_app, browser_page,
                                                                             tmp_path):
    page, app = browser_page, classify_app
    truth = _pictures(tmp_path / "pictures")

    # a project, its images (uploaded) and its classes (the labels)
    page.goto(f"{app.url}/projects")
    wait_for_idle(page)
    page.get_by_text("New project").click()
    page.get_by_label("Project name").fill("Shapes")
    page.get_by_role("button", name="Create project").click()
    page.get_by_text("Created project 'Shapes'").wait_for()
    wait_for_idle(page)
    uploader = page.get_by_label(re.compile(r"^Upload images")).get_by_test_id("stFileUploaderDropzoneInput")
    uploader.set_input_files([tmp_path / "pictures" / name for name in truth])
    click_when_single(page, f"Import {len(truth)} file(s)")
    page.get_by_text(f"Imported {len(truth)} image(s).").wait_for()
    wait_for_idle(page)
    page.get_by_role("tab", name="Label set").click()
    for name in CLASSES:
        page.get_by_label("New label").fill(name)
        page.get_by_role("button", name="Add label").click()
        page.get_by_text(f"Added label '{name}'.").wait_for()
        wait_for_idle(page)
    engine = make_engine(f"sqlite:///{app.data_dir / 'segstudio.db'}")
    with session_scope(engine) as s:
        project = repo.list_projects(s)[0]
        images = {im.name: im.id for im in repo.list_images(s, project.id)}
        labels = {lab.name: lab.id for lab in repo.list_labels(s, project.id)}
    assert set(images) == set(truth) and list(labels) == list(CLASSES)

    # Classes mode: N and P move without a change, each class's key saves it and opens the next image,
    # 0 clears a class
    page.goto(f"{app.url}/annotate")
    wait_for_idle(page)
    page.get_by_text("Classes", exact=True).click()
    page.get_by_text("No class yet (image 1 of 12)").wait_for()
    page.locator("h1").click()  # the keys go to the page, not to the mode's radio
    first = _shown_image(page)
    _press(page, "n", "(image 2 of 12)")
    assert _shown_image(page) != first
    _press(page, "p", "(image 1 of 12)")
    assert _shown_image(page) == first
    for position in range(1, len(truth) + 1):
        name = _shown_image(page)
        _press(page, _key(truth[name]), f"(image {position + 1} of 12)" if position < len(truth)
               else f"Class: {truth[name]} (image 12 of 12)")
    page.get_by_text("that was the last image").wait_for()
    last = _shown_image(page)
    with session_scope(engine) as s:
        saved = repo.image_classes(s, project.id)
    assert saved == {images[n]: labels[c] for n, c in truth.items()}
    _press(page, "0", "No class yet (image 12 of 12)")
    with session_scope(engine) as s:
        assert images[last] not in repo.image_classes(s, project.id)
    _press(page, _key(truth[last]), f"Class: {truth[last]} (image 12 of 12)")
    with session_scope(engine) as s:
        assert repo.image_classes(s, project.id) == saved
        assert repo.class_counts(s, project.id) == {labels[c]: PER_CLASS for c in CLASSES}

    # the wizard: classification, the three classes, a random split of every image, a quick training
    page.goto(f"{app.url}/wizard")
    wait_for_idle(page)
    page.get_by_text("Step 1 of 9").wait_for()
    wizard_next(page, 2)
    wizard_next(page, 3)
    page.get_by_text(re.compile(r"^Image classification")).click()
    wait_for_idle(page)
    wizard_next(page, 4)
    for name in CLASSES:
        page.get_by_text(f"{name} — class of {PER_CLASS} image(s)").click()
        wait_for_idle(page)
    wizard_next(page, 5)
    page.get_by_text("stratified by class").wait_for()
    wizard_next(page, 6)
    wizard_next(page, 7)
    wizard_next(page, 8)
    wizard_next(page, 9)
    click_when_single(page, "Start training")
    page.wait_for_url("**/trainings?training=*")
    page.get_by_text("Validation metrics of the kept model").wait_for(timeout=240_000)  # once it finished
    page.get_by_text("Balanced accuracy").first.wait_for()
    page.get_by_text("Confusion matrix").first.wait_for()
    with session_scope(engine) as s:
        (training,) = repo.list_trainings(s)
    assert training.status == SUCCEEDED
    assert training.config["train_config"]["training_type"] == "classification"

    # Apply it to the project's images: the table, then the predicted classes CSV
    page.goto(f"{app.url}/apply")
    wait_for_idle(page)
    picker = page.locator(".st-key-apply_images")
    picker.click()  # every image: Enter picks the first option left
    for _ in range(len(truth)):
        page.keyboard.press("Enter")
        page.wait_for_timeout(60)
    page.keyboard.press("Escape")
    wait_for_idle(page)
    assert picker.locator("[data-tag]").count() == len(truth)  # a chip per image chosen
    page.get_by_role("button", name="Apply the model", disabled=False).click()
    download = page.get_by_role("button", name="Predicted classes (CSV)")
    download.first.wait_for(timeout=180_000)
    page.get_by_text(f"{len(truth)} of {len(truth)} image(s) shown.").wait_for()
    wait_for_idle(page)
    assert page.locator('[data-testid="stDataFrame"]').count() == 2  # images per class, and the table
    with page.expect_download() as info:
        download.first.click()
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert sorted(r["image"] for r in rows) == sorted(truth)
    for row in rows:
        assert row["class"] in CLASSES
        probabilities = [float(row[f"p_{name}"]) for name in CLASSES]
        assert abs(sum(probabilities) - 1.0) < 1e-3
        assert float(row["probability"]) == pytest.approx(max(probabilities), abs=1e-3)
