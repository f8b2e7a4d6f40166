"""With a lab password set, every page of the real server stays closed until it is entered."""

from __future__ import annotations

import pytest

from core.password import hash_password
from tests.browser.conftest import start_app, stop_app, wait_for_idle

pytestmark = pytest.mark.browser


@pytest.mark.slow  # 12 s; the password form and its gate are AppTests in tests/app/test_lab_password.py
def test_lab_password_gates_every_page(tmp_path, browser_page):
    env = {"SEGSTUDIO_PASSWORD_HASH": hash_password("s3cret")}  # as `segstudio password` makes it
    app = start_app(tmp_path / "data", tmp_path / "log.txt", env)
    try:
        page = browser_page
        for path in ("/", "/projects", "/annotate", "/wizard", "/trainings"):
            page.goto(app.url + path)
            page.get_by_text("protected by a lab password").wait_for()
            assert page.get_by_text("Open project").count() == 0
        page.goto(app.url + "/projects")
        page.get_by_text("protected by a lab password").wait_for()
        page.get_by_label("Lab password").fill("wrong")
        page.get_by_role("button", name="Open").click()
        page.get_by_text("That password is not right").wait_for()
        page.get_by_label("Lab password").fill("s3cret")
        page.get_by_role("button", name="Open").click()
        wait_for_idle(page)
        page.get_by_role("heading", name="Projects").wait_for()
    finally:
        stop_app(app)
