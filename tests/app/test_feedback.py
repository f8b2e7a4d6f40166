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


def _two_buttons() -> None:
    import streamlit as st

    from core.errors import InvalidInputError
    from ui.feedback import flash, show_flashes, user_errors

    show_flashes()
    if st.button("Save"):
        flash("Saved 3 shape(s).")
        st.rerun()
    if st.button("Import"):
        with user_errors():
            raise InvalidInputError("The file cast.tif is not an image; choose a TIFF or PNG file.")
    if st.button("Delete"):
        flash("Could not delete: the image is in use.", kind="error")
        st.rerun()


def test_an_error_takes_away_the_success_message_before_it(monkeypatch):
    at = AppTest.from_function(_two_buttons).run()
    at.button[0].click().run()
    assert _messages(at) == ["Saved 3 shape(s)."]
    at.button[1].click().run()  # within the seconds the success would stay: the error replaces it
    assert [e.value for e in at.error] == ["The file cast.tif is not an image; choose a TIFF or PNG file."]
    assert _messages(at) == []
    at.run()
    assert _messages(at) == [] and not at.error  # and it does not come back

    at.button[2].click().run()  # an error flash waiting to be shown ...
    assert [e.value for e in at.error] == ["Could not delete: the image is in use."]
    at.button[0].click().run()  # ... goes when a later action succeeds
    assert _messages(at) == ["Saved 3 shape(s)."] and not at.error
    at.button[2].click().run()  # and an error flash drops a success that was still on show
    assert _messages(at) == [] and [e.value for e in at.error] == ["Could not delete: the image is in use."]
