"""The annotate page's own canvas in a real browser: ready time, wheel zoom about the cursor, drag pan, the
keyboard shortcuts, vertex editing, deleting a selected shape, a tool switch that keeps the canvas mounted,
and click-to-segment (with the stand-in proposer of ``click_segment_stub``)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.db import repo, session_scope
from tests.browser.conftest import (
    RunningApp,
    canvas_box,
    canvas_view,
    click_when_single,
    start_app,
    stop_app,
    to_screen,
    wait_for_idle,
)

pytestmark = pytest.mark.browser
CANVAS = 'canvas[data-testid="annotator-canvas"]'


def _wait_for_address(page, pattern: str, seconds: float = 60) -> None:  # noqa: ANN001
    """Wait until the address matches ``pattern``: the page changes it in place (no load event to wait for)."""
    for _ in range(int(seconds * 4)):
        if re.search(pattern, page.url):
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"the address {page.url} never matched {pattern}")


@pytest.fixture
def stub_app(tmp_path: Path) -> Iterator[RunningApp]:
    # The page's flow of click-to-segment (click, dashed proposal, Enter) with a stand-in proposer: the real one
    # needs a trained model or Assist strokes, and is tested on its own in tests/annotations/test_click_segment.py.
    env = {"SEGSTUDIO_QUICK_SECONDS": "20", "SEGSTUDIO_CLICK_SEGMENT_MODULE": "tests.browser.click_segment_stub"}
    app = start_app(tmp_path / "data", tmp_path / "streamlit.log", env)
    yield app
    stop_app(app)


def _demo(page, app):  # noqa: ANN001, ANN202
    from core.db.engine import make_engine

    page.goto(app.url)
    page.get_by_role("button", name="Create the demo project").click()
    page.get_by_text("Created the demo project").wait_for(timeout=180_000)
    wait_for_idle(page)
    engine = make_engine(f"sqlite:///{app.data_dir / 'segstudio.db'}")
    with session_scope(engine) as s:
        project = repo.list_projects(s)[0]
        return engine, repo.list_images(s, project.id), repo.list_labels(s, project.id)


def _draft(engine, image_id: int) -> list[dict]:  # noqa: ANN001
    with session_scope(engine) as s:
        draft = repo.get_draft(s, image_id)
        return list(draft.shapes) if draft is not None else [
            sh.to_record() if hasattr(sh, "to_record") else {"points": sh.points} for sh in repo.list_shapes(s, image_id)]


def _wait_draft(page, engine, image_id: int, count: int) -> list[dict]:  # noqa: ANN001
    shapes: list[dict] = []
    for _ in range(120):
        with session_scope(engine) as s:
            draft = repo.get_draft(s, image_id)
            shapes = list(draft.shapes) if draft is not None else []
        if draft is not None and len(shapes) == count:
            return shapes
        page.wait_for_timeout(250)
    raise AssertionError(f"the draft has {len(shapes)} shape(s), expected {count}")


def _same_node(page, handle) -> bool:  # noqa: ANN001
    return page.locator(CANVAS).evaluate("(c, old) => c === old && c.isConnected", handle)


def _select(page, box, point, index: int) -> None:  # noqa: ANN001
    """Click ``point`` with the select tool until shape ``index`` is selected (a click that lands while the
    canvas takes a rerun's data is tried again)."""
    for _ in range(3):
        assert page.locator(CANVAS).get_attribute("data-tool") == "select"
        page.mouse.click(*to_screen(box, *point))
        page.wait_for_timeout(200)
        if page.locator(CANVAS).get_attribute("data-selected") == str(index):
            return
        wait_for_idle(page)
    raise AssertionError(f"shape {index} was not selected: {page.locator(CANVAS).evaluate('c => ({...c.dataset})')}")


def test_view_shortcuts_and_edits(stub_app, browser_page):
    page = browser_page
    engine, images, labels = _demo(page, stub_app)
    image, label = images[0], labels[0]
    with session_scope(engine) as s:
        saved = len(repo.list_shapes(s, image.id))

    # ready time: from navigation to the canvas having drawn the image
    started = time.monotonic()
    page.goto(f"{stub_app.url}/annotate?image={image.id}")
    ready = f"""() => {{ const c = document.querySelector('{CANVAS}')
        || [...document.querySelectorAll('*')].map(e => e.shadowRoot && e.shadowRoot.querySelector('{CANVAS}'))
           .find(Boolean);
        return c && c.dataset.ready === '1'; }}"""
    page.wait_for_function(ready, timeout=60_000, polling=20)
    first = time.monotonic() - started
    wait_for_idle(page)
    started = time.monotonic()
    page.reload()
    page.wait_for_function(ready, timeout=60_000, polling=20)
    print(f"canvas ready {first:.2f} s after the first navigation, {time.monotonic() - started:.2f} s after a reload")
    wait_for_idle(page)
    node = page.locator(CANVAS).element_handle()
    box = canvas_box(page)
    main = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
    assert box["width"] > 0.66 * main["width"] and box["width"] > 768  # the page's width, not a fixed 768

    # wheel zoom about the cursor: the image point under the cursor stays under it
    cursor = (round(box["left"] + box["width"] * 0.6), round(box["top"] + box["height"] * 0.4))
    before = canvas_view(page)
    under = ((cursor[0] - box["left"]) / before["scale"] + before["x0"],
             (cursor[1] - box["top"]) / before["scale"] + before["y0"])
    page.mouse.move(*cursor)
    page.mouse.wheel(0, -400)
    page.wait_for_timeout(400)
    after = canvas_view(page)
    assert after["scale"] > before["scale"] * 1.3
    half_pixel = 0.5 / before["scale"]  # the browser reports the mouse in whole screen pixels
    assert (cursor[0] - box["left"]) / after["scale"] + after["x0"] == pytest.approx(under[0], abs=half_pixel)
    assert (cursor[1] - box["top"]) / after["scale"] + after["y0"] == pytest.approx(under[1], abs=half_pixel)

    # space+drag pans by the dragged distance, and draws nothing
    page.keyboard.down(" ")
    page.mouse.down()
    page.mouse.move(cursor[0] + 100, cursor[1] + 50, steps=5)
    page.mouse.up()
    page.keyboard.up(" ")
    panned = canvas_view(page)
    assert panned["x0"] == pytest.approx(after["x0"] - 100 / after["scale"], abs=0.05)
    assert panned["y0"] == pytest.approx(after["y0"] - 50 / after["scale"], abs=0.05)
    page.keyboard.press("f")  # fit again
    box = canvas_box(page)

    # tool letters and number keys switch without remounting the canvas
    for key, tool in (("b", "brush"), ("r", "rect"), ("v", "select"), ("p", "polygon")):
        page.keyboard.press(key)
        assert page.locator(CANVAS).get_attribute("data-tool") == tool
    click_when_single(page, "Rectangle (R)")
    assert page.locator(CANVAS).get_attribute("data-tool") == "rect"
    page.keyboard.press("0")
    assert page.locator(CANVAS).get_attribute("data-label") == "0"
    page.keyboard.press("1")
    assert page.locator(CANVAS).get_attribute("data-label") == str(label.id)
    assert _same_node(page, node)

    # Escape cancels a polygon
    page.keyboard.press("p")
    page.mouse.click(*to_screen(box, 10, 10))
    page.mouse.click(*to_screen(box, 30, 10))
    assert page.locator(CANVAS).get_attribute("data-draft") == "2"
    page.keyboard.press("Escape")
    assert page.locator(CANVAS).get_attribute("data-draft") == "0"

    # an ROI rectangle (0, R), then Ctrl+Z and Ctrl+Shift+Z
    page.keyboard.press("0")
    page.keyboard.press("r")
    page.mouse.move(*to_screen(box, 5, 5))
    page.mouse.down()
    page.mouse.move(*to_screen(box, 60, 40), steps=6)
    page.mouse.up()
    shapes = _wait_draft(page, engine, image.id, saved + 1)
    assert shapes[-1]["kind"] == "roi" and shapes[-1]["geometry"] == "rectangle"
    wait_for_idle(page)
    page.keyboard.press("Control+z")
    for _ in range(80):
        with session_scope(engine) as s:
            draft = repo.get_draft(s, image.id)
        if draft is not None and len(draft.shapes) == saved:
            break
        page.wait_for_timeout(250)
    else:
        raise AssertionError("Ctrl+Z did not undo the rectangle")
    wait_for_idle(page)
    page.keyboard.press("Control+Shift+Z")
    assert _wait_draft(page, engine, image.id, saved + 1)[-1]["kind"] == "roi"
    wait_for_idle(page)

    # a polygon of label 1, then drag one of its corners with the select tool
    page.keyboard.press("1")
    page.keyboard.press("p")
    corners = [(100, 100), (140, 100), (140, 140), (100, 140)]
    for x, y in [*corners, corners[0]]:
        page.mouse.click(*to_screen(box, x, y))
        page.wait_for_timeout(100)
    shapes = _wait_draft(page, engine, image.id, saved + 2)
    assert shapes[-1]["geometry"] == "polygon" and shapes[-1]["label_id"] == label.id
    wait_for_idle(page)
    page.keyboard.press("v")
    _select(page, box, (120, 120), saved + 1)
    page.mouse.move(*to_screen(box, 140, 140))
    page.mouse.down()
    page.mouse.move(*to_screen(box, 150, 155), steps=6)
    page.mouse.up()
    for _ in range(80):
        shapes = _wait_draft(page, engine, image.id, saved + 2)
        points = np.asarray(shapes[-1]["points"])
        if np.min(np.hypot(points[:, 0] - 150, points[:, 1] - 155)) < 0.6:
            break
        page.wait_for_timeout(250)
    else:
        raise AssertionError(f"the dragged corner did not move: {shapes[-1]['points']}")
    assert np.min(np.hypot(points[:, 0] - 140, points[:, 1] - 140)) > 5
    wait_for_idle(page)
    click_when_single(page, "Save")
    wait_for_idle(page)
    page.get_by_text(re.compile(r"^Saved \d+ shape")).first.wait_for()
    with session_scope(engine) as s:
        stored = [np.asarray(sh.points) for sh in repo.list_shapes(s, image.id) if sh.geometry == "polygon"]
    assert any(np.min(np.hypot(p[:, 0] - 150, p[:, 1] - 155)) < 0.6 for p in stored)  # saved coordinates

    # select and Delete
    box = canvas_box(page)
    page.keyboard.press("v")
    _select(page, box, (125, 125), saved + 1)
    page.keyboard.press("Delete")
    _wait_draft(page, engine, image.id, saved + 1)
    wait_for_idle(page)
    assert _same_node(page, node)  # the canvas stayed mounted through every rerun

    # click-to-segment: one click proposes an outline (dashed), Enter makes it a polygon of the label
    page.keyboard.press("s")
    box = canvas_box(page)
    where = to_screen(box, 200, 60)
    page.mouse.click(*where)
    for _ in range(120):
        if page.locator(CANVAS).get_attribute("data-proposal") == "1":
            break
        page.wait_for_timeout(250)
    else:
        raise AssertionError("no proposed outline was shown: "
                             + str(page.locator(CANVAS).evaluate("c => ({...c.dataset})"))
                             + page.locator(".ann-status").inner_text() + " | " + page.locator(".ann-proposal").inner_text())
    page.keyboard.press("Enter")
    shapes = _wait_draft(page, engine, image.id, saved + 2)
    assert shapes[-1]["geometry"] == "polygon" and shapes[-1]["label_id"] == label.id
    points = np.asarray(shapes[-1]["points"])
    assert points.mean(axis=0) == pytest.approx([200, 60], abs=1.0)
    wait_for_idle(page)

    # PageDown opens the next image, PageUp the previous one
    page.keyboard.press("PageDown")
    _wait_for_address(page, rf"image={images[1].id}\b")
    wait_for_idle(page)
    canvas_box(page)  # the next image is drawn: the canvas takes keys again
    page.keyboard.press("PageUp")
    _wait_for_address(page, rf"image={image.id}\b")
    assert _same_node(page, node)
