"""With lab accounts, every page of the real server asks for a name and a password; a member signs in and out,
and only an admin's navigation has the Accounts page."""

from __future__ import annotations

import pytest

from core import accounts
from core.config import Settings
from core.db.engine import make_engine
from tests.browser.conftest import start_app, stop_app, wait_for_idle

pytestmark = pytest.mark.browser


def _sign_in(page, name: str, password: str) -> None:
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.slow  # 20 s; the login page, its back-off and sessions are AppTests in tests/app/test_accounts_login.py
def test_accounts_gate_every_page_and_only_admins_manage_them(tmp_path, browser_page):
    data = tmp_path / "data"
    data.mkdir()
    engine = make_engine(Settings(data_dir=data).database_url)
    accounts.add_account(engine, "ada", "ada-password", admin=True)
    accounts.add_account(engine, "bob", "bob-password")
    app = start_app(data, tmp_path / "log.txt", {})
    try:
        page = browser_page
        for path in ("/", "/projects", "/trainings", "/accounts"):
            page.goto(app.url + path)
            page.get_by_role("button", name="Sign in").wait_for()
            assert page.get_by_text("Open project").count() == 0
        page.goto(app.url + "/projects")
        _sign_in(page, "bob", "wrong-password")
        page.get_by_text("do not match an enabled account").wait_for()
        _sign_in(page, "bob", "bob-password")
        wait_for_idle(page)
        page.get_by_role("heading", name="Projects").wait_for()
        page.get_by_text("Signed in as").wait_for()
        nav = page.locator('[data-testid="stSidebarNav"]')
        assert nav.get_by_text("Projects").count() == 1 and nav.get_by_text("Accounts").count() == 0
        page.get_by_role("button", name="Log out").click()
        page.get_by_text("You have signed out.").wait_for()
        _sign_in(page, "ada", "ada-password")
        wait_for_idle(page)
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Accounts").click()
        page.get_by_role("heading", name="Accounts").wait_for()
        page.get_by_text("Add an account").wait_for()
        page.locator('[data-testid="stDataFrame"]').wait_for()  # the accounts
    finally:
        stop_app(app)
