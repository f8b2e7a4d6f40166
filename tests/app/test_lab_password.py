from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.password import hash_password
from ui import sidebar
from ui.sidebar import address_throttle

APP = str(Path(__file__).resolve().parents[2] / "app.py")
WRONG = "That password is not right"


class Clock:
    """The back-off's time, moved by the test (a run of AppTest may take longer than a 1 s lock here)."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """A clock of the test's own, and no failures left by an earlier test: the failures per address live as
    long as the server process (here: pytest)."""
    clock = Clock()
    monkeypatch.setattr(sidebar, "clock", clock)
    address_throttle.clear()
    yield clock
    address_throttle.clear()


def _gate() -> None:
    """app.py's gate and sidebar without its router.

    AppTest runs a multipage app's page file directly on every run after the first, not through app.py, so
    entering the password is driven through this script (and, through app.py, in a real browser:
    tests/browser/test_lab_password_browser.py).
    """
    import streamlit as st

    from ui import sidebar
    from ui.context import page_context

    ctx = page_context()
    if not sidebar.unlocked(ctx):
        sidebar.password_page()
        st.stop()
    sidebar.render(ctx)
    st.subheader("The pages")


def _session() -> AppTest:
    at = AppTest.from_function(_gate, default_timeout=60).run()
    assert not at.exception
    return at


def _enter(at: AppTest, password: str) -> AppTest:
    at.text_input[0].set_value(password)
    at.button[0].click().run()
    assert not at.exception
    return at


def _is_open(at: AppTest) -> bool:
    return any(s.value == "The pages" for s in at.subheader)


def _texts(elements) -> str:
    return " | ".join(e.value for e in elements)


def test_the_app_opens_on_the_password_form(app_env, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_PASSWORD_HASH", hash_password("correct horse"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("protected by a lab password" in m.value for m in at.markdown)
    assert not at.subheader and not at.sidebar.selectbox  # nothing of the pages is shown
    # Entering it: see _gate above.


def test_no_password_configured_means_open(app_env):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("Welcome" in s.value for s in at.subheader)


def test_a_malformed_hash_keeps_the_app_closed_and_says_what_form_is_expected(app_env, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_PASSWORD_HASH", "hunter2")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    errors = _texts(at.error)
    assert "stays closed" in errors and "scrypt:n=16384,r=8,p=1:<salt>:<hash>" in errors
    assert "segstudio password" in errors
    assert not at.text_input and not at.subheader and not at.sidebar.selectbox


def test_the_right_password_with_the_new_hash_opens_the_pages(app_env, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_PASSWORD_HASH", hash_password("correct horse"))
    at = _session()
    assert not _is_open(at)
    _enter(at, "correct hors")
    assert WRONG in _texts(at.error) and not _is_open(at)
    _enter(at, "correct horse")
    assert _is_open(at)
    assert not at.sidebar.warning  # the hash is the new form: nothing to upgrade


def test_the_legacy_hash_still_opens_and_then_tells_how_to_upgrade(app_env, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_PASSWORD_HASH", hashlib.sha256(b"correct horse").hexdigest())
    at = _session()
    assert not at.warning and not at.sidebar.warning  # nothing said to whoever has not logged in
    _enter(at, "wrong")
    assert WRONG in _texts(at.error)
    _enter(at, "correct horse")
    assert _is_open(at)
    warning = _texts(at.sidebar.warning)
    assert "old form" in warning and "segstudio password" in warning and "SEGSTUDIO_PASSWORD_HASH" in warning


def _wait_as_told(at: AppTest, clock: Clock) -> None:
    """Wait out the back-off the form shows."""
    shown = _texts(at.warning)
    clock.now += int(shown.split("Wait ")[1].split(" s")[0])


def test_after_three_wrong_guesses_even_the_right_password_waits(app_env, monkeypatch, clock):
    monkeypatch.setenv("SEGSTUDIO_PASSWORD_HASH", hash_password("correct horse"))
    at = _session()
    for guess in ("a", "b", "c"):
        _enter(at, guess)
        assert WRONG in _texts(at.error)
    assert "Too many wrong passwords. Wait 1 s" in _texts(at.warning)
    _enter(at, "correct horse")  # right, but not checked while locked
    assert not _is_open(at) and WRONG not in _texts(at.error)
    assert "The password was not checked" in _texts(at.warning)
    clock.now += 0.9
    _enter(at, "correct horse")  # still 0.1 s to go
    assert not _is_open(at) and "The password was not checked" in _texts(at.warning)
    _wait_as_told(at, clock)
    _enter(at, "correct horse")
    assert _is_open(at)
    assert at.session_state["_lab_throttle"].failures("session") == 0


def test_guesses_from_one_address_slow_down_its_other_sessions(app_env, monkeypatch, clock):
    # AppTest has no client address: both sessions count as "localhost", as two tabs on one machine would.
    monkeypatch.setenv("SEGSTUDIO_PASSWORD_HASH", hash_password("correct horse"))
    attacker = _session()
    for guess in ("a", "b", "c"):
        _enter(attacker, guess)
    other = _session()  # a fresh session: its own counter is 0, its address's is 3
    assert "Too many wrong passwords" in _texts(other.warning)
    _enter(other, "correct horse")
    assert not _is_open(other) and "The password was not checked" in _texts(other.warning)
    _wait_as_told(other, clock)
    _enter(other, "correct horse")
    assert _is_open(other)
    # The right password took back only its own count: the address still has its 3 failures.
    assert address_throttle().failures("localhost") == 3
