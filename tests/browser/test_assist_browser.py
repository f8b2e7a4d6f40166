"""Assist mode in a real browser: brush background and a nucleus with the mouse, see the proposal, accept, save."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.annotations.raster import semantic_masks
from core.annotations.shapes import ShapeData
from core.db import repo, session_scope
from tests.browser.conftest import canvas_box, click_when_single, open_demo_project, to_screen, wait_for_idle
from tests.browser.test_journey import shot

pytestmark = pytest.mark.browser


def _drag(page, points) -> None:  # noqa: ANN001
    """A freehand stroke through image-pixel points, on the canvas once it is ready."""
    box = canvas_box(page)
    xs = [to_screen(box, x, y) for x, y in points]
    page.mouse.move(*xs[0])
    page.mouse.down()
    for x, y in xs[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    wait_for_idle(page)


def _stroke(page, engine, image_id: int, points, count: int) -> None:  # noqa: ANN001
    """Brush a stroke and wait until the image has ``count`` strokes stored. A stroke that reached nothing in
    15 s is brushed once more (and said so); should both arrive after all, the count check fails loudly."""
    for attempt in range(2):
        _drag(page, points)
        for _ in range(60):
            with session_scope(engine) as s:
                stored = len(repo.list_scribbles(s, image_id))
            if stored >= count:
                assert stored == count
                return
            page.wait_for_timeout(250)
        print(f"stroke {count} was not stored after attempt {attempt + 1}")  # shown when the test fails
    raise AssertionError(f"the canvas did not store stroke {count}")


def test_strokes_proposal_accept_and_save(running_app, browser_page, tmp_path):
    page = browser_page
    engine = open_demo_project(page, running_app)
    with session_scope(engine) as s:
        project = repo.list_projects(s)[0]
        image = repo.list_images(s, project.id)[0]
        label = repo.list_labels(s, project.id)[0]
        shapes = [ShapeData.from_record(r) for r in repo.list_shapes(s, image.id)]
    truth = semantic_masks(shapes, [label.id], (image.height, image.width))[0]
    # the largest nucleus and a background row far from any nucleus, from the demo's own annotations
    biggest = max((sh for sh in shapes if sh.kind == "annotation"), key=lambda sh: np.ptp(sh.points[:, 0]))
    cx, cy = biggest.points.mean(axis=0)
    free = np.ones_like(truth)
    for dy in range(-6, 7):
        free &= ~np.roll(truth, dy, axis=0)
    row = int(np.argmax(free.sum(axis=1)))
    cols = np.flatnonzero(free[row])

    page.goto(f"{running_app.url}/annotate?image={image.id}")
    wait_for_idle(page)
    page.get_by_text("Assist", exact=True).click()
    wait_for_idle(page)
    page.get_by_text(re.compile("Brush some")).wait_for()
    page.get_by_role("combobox", name=re.compile("Stroke for")).click()  # it starts on the first label
    page.get_by_role("option", name=re.compile("Background")).click()
    wait_for_idle(page)
    _stroke(page, engine, image.id, [(cols[0] + 2, row + 0.5), (cols[min(40, len(cols) - 1)] - 2, row + 0.5)], 1)
    page.get_by_text(re.compile(r"1 stroke\(s\) here")).wait_for()
    page.get_by_role("combobox", name=re.compile("Stroke for")).click()
    page.get_by_role("option", name=re.compile(label.name)).click()
    wait_for_idle(page)
    _stroke(page, engine, image.id, [(cx - 2, cy), (cx + 2, cy)], 2)  # inside the nucleus
    page.get_by_text(re.compile(r"Learnt from 2 stroke")).wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    shot(page, "03b_assist", tmp_path)
    with session_scope(engine) as s:
        strokes = repo.list_scribbles(s, image.id)
    assert [st.label_id for st in strokes] == [None, label.id]
    assert abs(np.mean(np.asarray(strokes[1].points)[:, 1]) - cy) < 2  # stored in image pixels

    click_when_single(page, "Accept the proposal")
    wait_for_idle(page)
    page.get_by_text(re.compile(r"Accepted \d+ proposed shape")).wait_for()
    click_when_single(page, "Save")
    wait_for_idle(page)
    page.get_by_text(re.compile(r"^Saved \d+ shape")).first.wait_for()
    with session_scope(engine) as s:
        saved = [ShapeData.from_record(r) for r in repo.list_shapes(s, image.id)]
    proposed = [sh for sh in saved if sh.source == "proposal"]
    assert proposed
    found = semantic_masks(proposed, [label.id], (image.height, image.width))[0]
    assert found[int(cy), int(cx)]  # the stroked nucleus is in the accepted proposal
