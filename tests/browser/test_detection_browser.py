"""Object detection in a real browser: draw two boxes, train a tiny detection model through the wizard, apply
it and download its boxes CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest

from core.db import repo, session_scope
from tests.browser.conftest import (
    canvas_box,
    choose_first_option,
    click_when_single,
    open_demo_project,
    to_screen,
    wait_for_idle,
    wizard_next,
)

pytestmark = pytest.mark.browser
CANVAS = 'canvas[data-testid="annotator-canvas"]'


def _draw_box(page, box: dict, corner: tuple[int, int], opposite: tuple[int, int]) -> None:
    page.mouse.move(*to_screen(box, *corner))
    page.mouse.down()
    page.mouse.move(*to_screen(box, *opposite), steps=6)
    page.mouse.up()
    wait_for_idle(page)


@pytest.mark.slow  # 55 s; detection's train, evaluate and report run in tests/cli/test_cli_detection.py, its pages in tests/app/test_trainings_detection.py and test_apply_boxes.py
def test_draw_two_boxes_train_a_detector_and_download_its_boxes(running_app, browser_page):
    page = browser_page
    engine = open_demo_project(page, running_app)
    with session_scope(engine) as s:
        project = repo.list_projects(s)[0]
        image = repo.list_images(s, project.id)[0]
        label = repo.list_labels(s, project.id)[0]
        before = len(repo.list_shapes(s, image.id))

    # two boxes: the rectangle tool (R) in label 1, then Save
    page.goto(f"{running_app.url}/annotate?image={image.id}")
    page.locator(CANVAS).wait_for()
    wait_for_idle(page)
    page.keyboard.press("1")
    page.keyboard.press("r")
    box = canvas_box(page)
    _draw_box(page, box, (20, 20), (60, 70))
    _draw_box(page, box, (120, 150), (170, 190))
    click_when_single(page, "Save")
    page.get_by_text(re.compile(r"^Saved \d+ shape")).first.wait_for()
    with session_scope(engine) as s:
        rectangles = [sh for sh in repo.list_shapes(s, image.id) if sh.geometry == "rectangle"]
        assert len(repo.list_shapes(s, image.id)) == before + 2
    assert len(rectangles) == 2 and {sh.label_id for sh in rectangles} == {label.id}

    # the wizard: object detection, the rest as it comes
    page.goto(f"{running_app.url}/wizard")
    wait_for_idle(page)
    page.get_by_text("Step 1 of 9").wait_for()
    wizard_next(page, 2)
    wizard_next(page, 3)
    page.get_by_text(re.compile(r"^Object detection")).click()
    wait_for_idle(page)
    page.get_by_text("counts as its bounding box").wait_for()
    for step in range(4, 10):
        wizard_next(page, step)
    page.get_by_label("Training name").fill("boxes run")
    page.get_by_label("Training name").press("Enter")
    wait_for_idle(page)
    click_when_single(page, "Start training")
    page.wait_for_url("**/trainings?training=*")
    page.get_by_text("finished ·").first.wait_for(timeout=360_000)
    page.get_by_text("mAP@0.5").first.wait_for()

    # Apply the detector to the first image and download the boxes
    page.goto(f"{running_app.url}/apply")
    wait_for_idle(page)
    choose_first_option(page, "apply_images")
    page.get_by_role("button", name="Apply the model", disabled=False).click()
    download = page.get_by_role("button", name="Boxes (CSV)")
    download.first.wait_for(timeout=240_000)
    wait_for_idle(page)
    with page.expect_download() as info:
        download.first.click()
    text = info.value.path().read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    header = next(csv.reader(io.StringIO(text)))
    assert header[:8] == ["label", "score", "x_min", "y_min", "x_max", "y_max", "centre_x", "centre_y"]
    assert all(r["label"] == label.name and 0.0 <= float(r["score"]) <= 1.0 for r in rows)
