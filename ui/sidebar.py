"""The shared sidebar (current project, notifications) and the optional lab password gate."""

from __future__ import annotations

import hashlib
import hmac

import streamlit as st

from core.db import repo, session_scope
from ui.context import PageContext, project_picker
from ui.feedback import user_errors


def password_hash(password: str) -> str:
    """The form in which SEGSTUDIO_PASSWORD_HASH is given: sha256 hex of the password."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def unlocked(ctx: PageContext) -> bool:
    """True when the pages may be shown: no lab password configured, or it was entered in this session."""
    return not ctx.settings.lab_password_hash.strip() or bool(st.session_state.get("_lab_ok"))


def password_page() -> None:
    """The only page while the app is locked (app.py routes every URL here)."""
    from ui.context import page_context

    expected = page_context().settings.lab_password_hash.strip().lower()
    st.title("segstudio")
    st.write("This dashboard is protected by a lab password.")
    with st.form("lab_password"):
        entered = st.text_input("Lab password", type="password")
        if st.form_submit_button("Open"):
            if hmac.compare_digest(password_hash(entered), expected):
                st.session_state["_lab_ok"] = True
                st.rerun()
            st.error("That password is not right. Ask the person who runs segstudio in your lab.")


def render(ctx: PageContext) -> None:
    with st.sidebar:
        project = project_picker(ctx, key="sidebar_project")
        if project is None:
            st.caption("No project yet: create one on the Projects page.")
        notifications(ctx)


@st.fragment(run_every=5)
def notifications(ctx: PageContext) -> None:
    """The list of finished jobs, and a toast for each one that finished since the last look."""
    notes = []
    with user_errors(), session_scope(ctx.engine) as session:  # a fragment rerun is not inside app.py's
        notes = repo.list_notifications(session, limit=8)
    newest = max((n.id for n in notes), default=0)
    seen = st.session_state.get("_seen_notification")
    if seen is not None:
        for note in reversed([n for n in notes if n.id > seen]):
            st.toast(note.text, icon="✅" if note.level == "success" else "ℹ️" if note.level == "info" else "❌")
    st.session_state["_seen_notification"] = newest
    if notes:
        with st.expander(f"Notifications ({len(notes)})", expanded=False):
            for note in notes:
                icon = {"success": "✅", "error": "❌"}.get(note.level, "ℹ️")
                st.text(f"{icon} {note.text}")
                st.caption(f"{note.created_at:%Y-%m-%d %H:%M} UTC")
