"""Draw a polygon with the mouse on the canvas, save, reload: it is still there, stored in image coordinates."""

from __future__ import annotations

import re

import pytest

from core.db import repo, session_scope
from tests.browser.conftest import canvas_box, click_when_single, open_demo_project, to_screen, wait_for_idle

pytestmark = pytest.mark.browser


def test_draw_polygon_save_and_reload(running_app, browser_page):
    page = browser_page
    engine = open_demo_project(page, running_app)
    with session_scope(engine) as s:
        project = repo.list_projects(s)[0]
        image = repo.list_images(s, project.id)[0]
        before = len(repo.list_shapes(s, image.id))

    page.goto(f"{running_app.url}/annotate?image={image.id}")
    wait_for_idle(page)
    box = canvas_box(page)
    corners = [(20, 20), (80, 20), (80, 80), (20, 80)]  # image pixels
    for x, y in corners:
        page.mouse.click(*to_screen(box, x, y))
        page.wait_for_timeout(150)
    page.mouse.click(*to_screen(box, *corners[0]))  # close on the first vertex
    wait_for_idle(page)
    page.get_by_text("You have unsaved changes on this image.").wait_for()
    click_when_single(page, "Save")
    wait_for_idle(page)
    page.get_by_text(re.compile(r"^Saved \d+ shape")).first.wait_for()

    page.reload()
    wait_for_idle(page)
    with session_scope(engine) as s:
        shapes = repo.list_shapes(s, image.id)
    assert len(shapes) == before + 1
    points = shapes[-1].points
    assert shapes[-1].geometry == "polygon"
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert min(xs) == pytest.approx(20, abs=0.5) and max(xs) == pytest.approx(80, abs=0.5)
    assert min(ys) == pytest.approx(20, abs=0.5) and max(ys) == pytest.approx(80, abs=0.5)
    page.get_by_text("polygon, 4 points").first.wait_for()  # listed again after the reload
