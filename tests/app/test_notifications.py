"""The sidebar's notifications: a toast once for a job that ends while the app is open, a counter of the
unseen ones."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _sidebar() -> None:
    """The frame's sidebar part that shows notifications (app.py runs it on every page)."""
    import streamlit as st

    from ui.context import page_context
    from ui.notifications import notifications

    with st.sidebar:
        notifications(page_context())


def _titles(at: AppTest) -> list[str]:
    return [e.label for e in at.sidebar.expander]


def test_a_new_notification_is_toasted_once_and_the_counter_counts_the_unseen(app_env):
    engine = make_engine(app_env.database_url)
    with session_scope(engine) as s:
        repo.notify(s, "Training 'old' finished.", level="success")  # before the app was opened

    frame = AppTest.from_file(APP, default_timeout=60).run()  # the app's frame shows them on every page
    assert not frame.exception, frame.exception
    assert _titles(frame) == ["Notifications (1 new)"]

    at = AppTest.from_function(_sidebar, default_timeout=60).run()
    assert not at.exception, at.exception
    assert not at.toast  # what came before is not toasted on opening ...
    assert _titles(at) == ["Notifications (1 new)"]  # ... but counted as unseen

    with session_scope(engine) as s:
        repo.notify(s, "Training 'new' failed: out of memory.", level="error")  # a job ends meanwhile
    at.run()  # what the sidebar's fragment does every 5 s
    toasts = [(t.value, t.icon) for t in at.toast]
    assert toasts == [("Training 'new' failed: out of memory.", ":material/error:")]
    assert _titles(at) == ["Notifications (1 new)"]  # the toasted one counts as seen
    at.run()
    assert not at.toast  # once only

    at.sidebar.button(key="notifications_read").click().run()
    assert not at.exception, at.exception
    assert _titles(at) == ["Notifications"]
    with session_scope(engine) as s:
        assert repo.count_unread_notifications(s) == 0

    again = AppTest.from_function(_sidebar, default_timeout=60).run()  # a reload: seen stays seen
    assert _titles(again) == ["Notifications"] and not again.toast
    texts = [m.value for m in again.sidebar.markdown]
    assert any(t.startswith(":material/check_circle: Training 'old'") for t in texts), texts
    assert not any(ord(ch) > 0x2000 for t in texts for ch in t), texts  # no emoji (they render as boxes)
