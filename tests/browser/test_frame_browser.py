"""Every page's URL, opened directly in a fresh tab (a bookmark), shows the app's frame on that page."""

from __future__ import annotations

import pytest

from core.config import Settings
from core.db.engine import make_engine
from core.demo import create_demo_project
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, wait_for_idle

pytestmark = pytest.mark.browser

# URL path -> the page's own heading; the navigation shows the titles of app.py, never file names.
PAGES = {"annotate": "Annotate", "apply": "Apply a model", "home": "segstudio", "projects": "Projects",
         "trainings": "Trainings", "wizard": "Train a model", "compare": "Compare trainings",
         "models": "Models"}
TITLES = ["Home", "Projects", "Annotate", "Train", "Trainings", "Compare", "Models", "Apply"]


def test_each_page_url_opens_inside_the_frame(running_app):
    from playwright.sync_api import sync_playwright

    engine = make_engine(f"sqlite:///{running_app.data_dir / 'segstudio.db'}")
    create_demo_project(Settings(data_dir=running_app.data_dir), engine)
    engine.dispose()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # The first page opened after the server started is not the root: that one used to run bare.
            for path, heading in PAGES.items():
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.set_default_timeout(60_000)
                page.goto(f"{running_app.url}/{path}")
                wait_for_idle(page)
                page.get_by_role("heading", name=heading, exact=True).first.wait_for()
                links = [text.split("\n")[-1].strip() for text in
                         page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]
                assert links == TITLES, (path, links)
                picker = page.locator('[data-testid="stSidebar"] .st-key-sidebar_project input')
                assert picker.input_value() == "Demo: fluorescent nuclei", path  # the project picker
                assert page.get_by_text("Choose or create a project first").count() == 0, path
                width = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()["width"]
                assert width > 900, f"{path}: the layout is not wide ({width:.0f} px)"
                context.close()
        finally:
            browser.close()
