from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from ui.sidebar import password_hash

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_the_app_opens_on_the_password_form(app_env, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_PASSWORD_HASH", password_hash("correct horse"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("protected by a lab password" in m.value for m in at.markdown)
    assert not at.subheader and not at.sidebar.selectbox  # nothing of the pages is shown
    # Entering it is tested in a real browser (tests/browser/test_lab_password_browser.py): AppTest re-runs
    # page scripts directly on later runs, not through app.py's router.


def test_no_password_configured_means_open(app_env):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("Welcome" in s.value for s in at.subheader)
