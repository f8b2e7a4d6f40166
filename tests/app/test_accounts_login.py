"""Signing in with lab accounts: the login page, wrong passwords and their back-off, log out, sessions that
end, changing one's own password, and the admins' Accounts page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import accounts
from core.db.engine import make_engine
from tests.app.test_lab_password import Clock
from ui import login, sidebar

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = Path(__file__).resolve().parents[2] / "pages"
WRONG = "do not match an enabled account"


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(sidebar, "clock", clock)
    sidebar.address_throttle.clear()
    login.name_throttle.clear()
    yield clock
    sidebar.address_throttle.clear()
    login.name_throttle.clear()


def _gate() -> None:
    """app.py's gate and sidebar without its router (AppTest runs a multipage app's page file directly after
    the first run; through app.py in a real browser: tests/browser/test_accounts_browser.py)."""
    import streamlit as st

    from core.accounts import accounts_on
    from ui import login, sidebar
    from ui.context import page_context

    ctx = page_context()
    if accounts_on(ctx.settings, ctx.engine):
        member = login.current_member(ctx)
        if member is None:
            login.login_page()
            st.stop()
        with st.sidebar:
            login.account_panel(ctx, member)
    elif not sidebar.unlocked(ctx):
        sidebar.password_page()
        st.stop()
    st.subheader("The pages")


def _session() -> AppTest:
    at = AppTest.from_function(_gate, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="sign_in_name").set_value(name)
    at.text_input(key="sign_in_password").set_value(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, at.exception
    return at


def _is_open(at: AppTest) -> bool:
    return any(s.value == "The pages" for s in at.subheader)


def _texts(elements) -> str:
    return " | ".join(e.value for e in elements)


def test_with_accounts_off_nothing_changes(app_env):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("Welcome" in s.value for s in at.subheader) and "Signed in" not in _texts(at.sidebar.caption)


def test_switched_on_without_accounts_the_app_says_how_to_add_the_first_admin(app_env, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_ACCOUNTS", "on")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "segstudio user add NAME --admin" in _texts(at.warning)
    assert not at.text_input and not at.sidebar.selectbox  # nothing of the pages is shown


def test_a_first_admin_turns_accounts_on_and_signs_in_and_out(app_env):
    engine = make_engine(app_env.database_url)
    accounts.add_account(engine, "ada", "ada-password", admin=True)
    at = AppTest.from_file(APP, default_timeout=60).run()  # through app.py: the login page on any URL
    assert not at.exception and any(b.label == "Sign in" for b in at.button)
    assert not at.sidebar.selectbox

    at = _session()
    _sign_in(at, "ada", "not-her-password")
    assert WRONG in _texts(at.error) and not _is_open(at)
    _sign_in(at, "ADA", "ada-password")
    assert _is_open(at) and "Signed in as **ada** (admin)" in _texts(at.sidebar.caption)
    at.sidebar.button(key="sign_out").click().run()
    assert not _is_open(at) and "You have signed out." in _texts(at.info)


def test_guessing_one_accounts_password_waits_also_from_a_new_session(app_env, clock):
    engine = make_engine(app_env.database_url)
    accounts.add_account(engine, "ada", "ada-password", admin=True)
    at = _session()
    for guess in ("guess-one", "guess-two", "guess-three"):
        _sign_in(at, "ada", guess)
    assert "Wait 1 s" in _texts(at.warning)
    _sign_in(at, "ada", "ada-password")  # right, but not checked while locked
    assert not _is_open(at) and "not checked" in _texts(at.warning)
    fresh = _session()  # another browser session: the back-off of the name (and the address) holds there too
    _sign_in(fresh, "ada", "ada-password")
    assert not _is_open(fresh) and "not checked" in _texts(fresh.warning)
    clock.now += 5
    _sign_in(fresh, "ada", "ada-password")
    assert _is_open(fresh)


def test_a_session_ends_when_an_admin_resets_the_password_or_disables_the_account(app_env):
    engine = make_engine(app_env.database_url)
    accounts.add_account(engine, "ada", "ada-password", admin=True)
    accounts.add_account(engine, "bob", "bob-password")
    at = _sign_in(_session(), "bob", "bob-password")
    assert _is_open(at) and "(admin)" not in _texts(at.sidebar.caption)
    accounts.set_password(engine, "bob", "bob-new-password")
    at.run()
    assert not _is_open(at) and "Your session has ended" in _texts(at.info)
    _sign_in(at, "bob", "bob-new-password")
    assert _is_open(at)
    accounts.set_disabled(engine, "bob")
    at.run()
    assert not _is_open(at)
    _sign_in(at, "bob", "bob-new-password")
    assert WRONG in _texts(at.error)


def test_changing_ones_own_password_keeps_this_session(app_env):
    engine = make_engine(app_env.database_url)
    accounts.add_account(engine, "ada", "ada-password", admin=True)
    at = _sign_in(_session(), "ada", "ada-password")
    fields = at.sidebar.text_input
    fields[0].set_value("ada-password")
    fields[1].set_value("ada-new-password")
    fields[2].set_value("ada-other-password")
    next(b for b in at.sidebar.button if b.label == "Change my password").click().run()
    assert "differ" in _texts(at.sidebar.error)
    fields = at.sidebar.text_input
    fields[0].set_value("ada-password")
    fields[1].set_value("ada-new-password")
    fields[2].set_value("ada-new-password")
    next(b for b in at.sidebar.button if b.label == "Change my password").click().run()
    assert not at.exception and _is_open(at)  # this session goes on
    assert accounts.authenticate(engine, "ada", "ada-new-password") is not None


def _accounts_page(app_env, member_id: int) -> AppTest:
    from core.db.models import utcnow

    at = AppTest.from_file(str(PAGES / "accounts.py"), default_timeout=60)
    at.session_state[login.SIGNED_IN] = {"id": member_id, "at": utcnow().isoformat()}
    return at.run()


def test_the_accounts_page_is_for_admins_and_manages_the_accounts(app_env):
    engine = make_engine(app_env.database_url)
    ada = accounts.add_account(engine, "ada", "ada-password", admin=True)
    bob = accounts.add_account(engine, "bob", "bob-password")

    at = _accounts_page(app_env, bob.id)
    assert "Only an admin" in _texts(at.error) and not at.dataframe

    at = _accounts_page(app_env, ada.id)
    assert list(at.dataframe[0].value["Name"]) == ["ada", "bob"]
    add = at.text_input
    add[0].set_value("grace")
    add[1].set_value("short")
    next(b for b in at.button if b.label == "Add").click().run()
    assert "too short" in _texts(at.error)
    at.text_input[0].set_value("grace")
    at.text_input[1].set_value("grace-password")
    at.checkbox[0].check()
    next(b for b in at.button if b.label == "Add").click().run()
    assert not at.exception and "Added admin account 'grace'" in _texts(at.success)
    assert accounts.authenticate(engine, "grace", "grace-password").is_admin

    at.selectbox(key="account_reset_name").set_value("bob")
    at.text_input(key="account_reset_password").set_value("bob-reset-password")
    next(b for b in at.button if b.label == "Set the new password").click().run()
    assert accounts.authenticate(engine, "bob", "bob-reset-password") is not None

    at.selectbox(key="account_toggle_name").set_value("bob").run()
    at.button(key="account_toggle").click().run()
    assert "Disabled 'bob'" in _texts(at.success)
    assert accounts.authenticate(engine, "bob", "bob-reset-password") is None
