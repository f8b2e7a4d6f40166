"""The sidebar's notifications: a toast for each job that ends while the app is open, and the latest ones
with a counter of those nobody has seen yet.

"Seen" is the notification row's ``read`` flag, shared by the whole lab (segstudio serves one lab, and the
flag survives reloads and restarts): a notification is seen once a browser has shown it as a toast, or when
someone presses "Mark all as read".
"""

from __future__ import annotations

import streamlit as st

from core.db import repo, session_scope
from ui.context import PageContext, viewer_id
from ui.feedback import user_errors

SHOWN = 8  # notifications listed in the sidebar
_LAST_LOOK = "_seen_notification"  # session key: the newest notification id this session has looked at
#: notification level -> its icon (Streamlit's material icons: emoji can render as empty boxes)
ICONS = {"success": ":material/check_circle:", "error": ":material/error:", "info": ":material/info:"}


def icon_of(level: str) -> str:
    return ICONS.get(level, ICONS["info"])


def _mark_all_read(ctx: PageContext) -> None:
    with user_errors(), session_scope(ctx.engine) as session:
        repo.mark_all_notifications_read(session, viewer_id())


@st.fragment(run_every=5)
def notifications(ctx: PageContext) -> None:
    """Toast what is new since this session's last look (then it counts as seen) and list the latest ones."""
    with user_errors(), session_scope(ctx.engine) as session:  # a fragment rerun is not inside app.py's
        notes = repo.list_notifications(session, limit=SHOWN, account_id=viewer_id())
        last_look = st.session_state.get(_LAST_LOOK)
        # the first look of a session toasts nothing (what came before stays unread in the counter)
        fresh = [n for n in notes if last_look is not None and n.id > last_look]  # type: ignore[operator]
        for note in reversed(fresh):
            st.toast(note.text, icon=icon_of(note.level))
        toasted = {n.id for n in fresh}
        repo.mark_notifications_read(session, [n.id for n in fresh if not n.read])  # type: ignore[misc]
        st.session_state[_LAST_LOOK] = max((n.id for n in notes), default=0)
        unread = repo.count_unread_notifications(session, viewer_id())
    if not notes:
        return
    title = f"Notifications ({unread} new)" if unread else "Notifications"
    with st.expander(title, expanded=False, icon=":material/notifications:"):
        if unread:  # a callback: the counter above is drawn after it has run
            st.button("Mark all as read", key="notifications_read", icon=":material/done_all:",
                      on_click=_mark_all_read, args=(ctx,))
        for note in notes:
            text = note.text.replace("*", r"\*")
            st.markdown(f"{icon_of(note.level)} {text if note.read or note.id in toasted else f'**{text}**'}")
            st.caption(f"{note.created_at:%Y-%m-%d %H:%M} UTC")
