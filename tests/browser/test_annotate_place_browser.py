"""Annotate keeps its place and its work in a real browser: the image after Save and after accepting the
assistant's proposal, unsaved shapes across a reload (autosaved drafts), and a stroke drawn right after
switching "Stroke for"."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.db import repo, session_scope
from tests.browser.conftest import canvas_box, click_when_single, to_screen, wait_for_idle

pytestmark = pytest.mark.browser


def _demo(page, app):  # noqa: ANN001, ANN202
    """Home → *Create the demo project* (given 3 minutes: the machine may be busy); engine and rows."""
    from core.db.engine import make_engine

    page.goto(app.url)
    page.get_by_role("button", name="Create the demo project").click()
    page.get_by_text("Created the demo project").wait_for(timeout=180_000)
    wait_for_idle(page)
    engine = make_engine(f"sqlite:///{app.data_dir / 'segstudio.db'}")
    with session_scope(engine) as s:
        project = repo.list_projects(s)[0]
        images = repo.list_images(s, project.id)
        labels = repo.list_labels(s, project.id)
    return engine, project, images, labels


def _drag(page, points) -> None:  # noqa: ANN001
    box = canvas_box(page)
    for _ in range(40):  # the canvas of the other mode may still be leaving the page
        if box is not None:
            break
        page.wait_for_timeout(250)
        box = canvas_box(page)
    xs = [to_screen(box, x, y) for x, y in points]
    page.mouse.move(*xs[0])
    page.mouse.down()
    for x, y in xs[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def _wait_strokes(page, engine, image_id: int, count: int, seconds: float = 20) -> int:  # noqa: ANN001
    stored = 0
    for _ in range(int(seconds * 4)):
        with session_scope(engine) as s:
            stored = len(repo.list_scribbles(s, image_id))
        if stored >= count:
            return stored
        page.wait_for_timeout(250)
    return stored


def _image_picker(page):  # noqa: ANN001, ANN202
    """The image picker (while Streamlit swaps the picker for its new copy, wait for the one left)."""
    picker = page.get_by_role("combobox", name=re.compile("^Image"))
    for _ in range(40):
        if picker.count() == 1:
            break
        page.wait_for_timeout(250)
    return picker.first


def test_a_stroke_right_after_switching_stroke_for_is_kept(running_app, browser_page):
    page = browser_page
    engine, project, images, labels = _demo(page, running_app)
    image, label = images[0], labels[0]
    page.goto(f"{running_app.url}/annotate?image={image.id}")
    wait_for_idle(page)
    page.get_by_text("Assist", exact=True).click()
    wait_for_idle(page)
    page.get_by_text(re.compile("Brush some")).wait_for()
    picker = page.get_by_role("combobox", name=re.compile("Stroke for"))
    assert picker.input_value() == f"● {label.name}"  # not Background: the first stroke is on an object
    _drag(page, [(10, 250), (60, 250)])
    wait_for_idle(page)
    assert _wait_strokes(page, engine, image.id, 1) == 1
    picker.click()
    page.get_by_role("option", name=re.compile("Background")).click()
    # no wait: the stroke follows the switch at once
    _drag(page, [(120, 250), (170, 250)])
    wait_for_idle(page)
    stored = _wait_strokes(page, engine, image.id, 2)
    with session_scope(engine) as s:
        strokes = repo.list_scribbles(s, image.id)
    print("stored", stored, [st.label_id for st in strokes])
    assert [st.label_id for st in strokes] == [label.id, None]


def _open_second_image(page, app, images) -> None:  # noqa: ANN001
    """Annotate without ``?image=``, then the second image through the picker, as a user does."""
    page.goto(f"{app.url}/annotate")
    wait_for_idle(page)
    _image_picker(page).click()
    page.get_by_role("option", name=re.compile(re.escape(images[1].name))).click()
    wait_for_idle(page)
    assert _image_picker(page).input_value().startswith(images[1].name)
    page.wait_for_timeout(1500)  # the first image's canvas leaves the page; draw on the second one's


def _polygon(page) -> None:  # noqa: ANN001
    box = canvas_box(page)
    corners = [(20, 20), (80, 20), (80, 80), (20, 80), (20, 20)]  # image pixels; closed on the first vertex
    for x, y in corners:
        page.mouse.click(*to_screen(box, x, y))
        page.wait_for_timeout(150)
    wait_for_idle(page)
    page.get_by_text("You have unsaved changes on this image.").wait_for()


def _still_on(page, image) -> None:  # noqa: ANN001
    """The picker shows ``image``, also after one more rerun; no unsaved changes are reported elsewhere."""
    assert _image_picker(page).input_value().startswith(image.name), _image_picker(page).input_value()
    page.keyboard.press("Control+Shift+Z")  # any later rerun (a redo with nothing to redo)
    wait_for_idle(page)
    assert _image_picker(page).input_value().startswith(image.name), _image_picker(page).input_value()
    assert page.get_by_text(re.compile("^Unsaved changes on")).count() == 0
    assert f"image={image.id}" in page.url


def test_save_stays_on_the_image(running_app, browser_page):
    page = browser_page
    engine, project, images, labels = _demo(page, running_app)
    _open_second_image(page, running_app, images)
    _polygon(page)
    click_when_single(page, "Save")
    wait_for_idle(page)
    page.get_by_text(re.compile(r"^Saved \d+ shape")).first.wait_for()
    _still_on(page, images[1])


def _stroke_for(page, name: str) -> None:  # noqa: ANN001
    picker = page.get_by_role("combobox", name=re.compile("Stroke for"))
    if picker.input_value() != f"● {name}":
        picker.click()
        page.get_by_role("option", name=re.compile(re.escape(name))).click()
        wait_for_idle(page)


def test_accepting_the_proposal_stays_on_the_image(running_app, browser_page):
    from core.annotations.raster import semantic_masks
    from core.annotations.shapes import ShapeData

    page = browser_page
    engine, project, images, labels = _demo(page, running_app)
    image, label = images[1], labels[0]
    with session_scope(engine) as s:
        shapes = [ShapeData.from_record(r) for r in repo.list_shapes(s, image.id)]
    truth = semantic_masks(shapes, [label.id], (image.height, image.width))[0]
    biggest = max((sh for sh in shapes if sh.kind == "annotation"), key=lambda sh: np.ptp(sh.points[:, 0]))
    cx, cy = biggest.points.mean(axis=0)
    free = np.ones_like(truth)
    for dy in range(-6, 7):
        free &= ~np.roll(truth, dy, axis=0)
    row = int(np.argmax(free.sum(axis=1)))
    cols = np.flatnonzero(free[row])

    _open_second_image(page, running_app, images)
    page.get_by_text("Assist", exact=True).click()
    wait_for_idle(page)
    page.get_by_text(re.compile("Brush some")).wait_for()
    _stroke_for(page, "Background")
    _drag(page, [(cols[0] + 2, row + 0.5), (cols[min(40, len(cols) - 1)] - 2, row + 0.5)])
    wait_for_idle(page)
    assert _wait_strokes(page, engine, image.id, 1) == 1
    _stroke_for(page, label.name)
    _drag(page, [(cx - 2, cy), (cx + 2, cy)])
    wait_for_idle(page)
    assert _wait_strokes(page, engine, image.id, 2) == 2
    page.get_by_text(re.compile(r"Learnt from 2 stroke")).wait_for()
    click_when_single(page, "Accept the proposal")
    wait_for_idle(page)
    page.get_by_text(re.compile(r"Accepted \d+ proposed shape")).wait_for()
    _still_on(page, image)


def test_unsaved_shapes_come_back_after_a_reload(running_app, browser_page):
    page = browser_page
    engine, project, images, labels = _demo(page, running_app)
    image = images[0]
    with session_scope(engine) as s:
        before = len(repo.list_shapes(s, image.id))
    page.goto(f"{running_app.url}/annotate?image={image.id}")
    wait_for_idle(page)
    _polygon(page)
    page.reload()
    wait_for_idle(page)
    page.get_by_text(re.compile(r"Restored 1 unsaved shapes from .*Save to keep them or Discard")).wait_for()
    page.get_by_text("You have unsaved changes on this image.").wait_for()
    click_when_single(page, "Save")
    wait_for_idle(page)
    page.get_by_text(re.compile(r"^Saved \d+ shape")).first.wait_for()
    with session_scope(engine) as s:
        assert len(repo.list_shapes(s, image.id)) == before + 1
        assert repo.get_draft(s, image.id) is None
