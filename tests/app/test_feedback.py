"""Flash messages: shown after the next rerun and kept through the reruns of the next few seconds."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _script() -> None:
    import streamlit as st

    from ui.feedback import flash, show_flashes

    show_flashes()
    if st.button("Save"):
        flash("Saved 3 shape(s).")
        st.rerun()


def _messages(at: AppTest) -> list[str]:
    return [s.value for s in at.success]


def test_flash_outlives_a_quick_rerun_then_goes(monkeypatch):
    at = AppTest.from_function(_script).run()
    assert _messages(at) == []
    at.button[0].click().run()
    assert _messages(at) == ["Saved 3 shape(s)."]
    at.run()  # a rerun right after (a component reporting its size) keeps it
    assert _messages(at) == ["Saved 3 shape(s)."]
    at.button[0].click().run()  # the same message again is shown once, not twice
    assert _messages(at) == ["Saved 3 shape(s)."]

    import ui.feedback

    monkeypatch.setattr(ui.feedback, "FLASH_SECONDS", -1.0)  # as if its seconds had passed
    at.run()
    assert _messages(at) == []
    assert "_flash" not in at.session_state
