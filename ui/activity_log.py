"""Recording what this session's account did (:mod:`core.activity`), and the Projects page's activity log."""

from __future__ import annotations

import streamlit as st

from core import activity
from ui.context import PageContext, viewer_id


def did(ctx: PageContext, action: str, *, project_id: int | None = None, detail: str = "") -> None:
    """Record ``action`` by this session's account (none with accounts off)."""
    activity.record(ctx.engine, viewer_id(), action, project_id=project_id, detail=detail)


def activity_section(ctx: PageContext, project_id: int) -> None:
    """The project's newest 50 entries: when, who, what."""
    entries = activity.project_log(ctx.engine, project_id)
    with st.expander(f"Activity ({len(entries)} latest)" if entries else "Activity", icon=":material/history:"):
        if not entries:
            st.caption("Nothing recorded yet: imports, annotations saved, trainings, prediction runs and "
                       "deletions appear here with who did them.")
            return
        st.dataframe([{"When": e.when.astimezone().strftime("%Y-%m-%d %H:%M"), "Who": e.who, "What": e.action,
                       "Details": e.detail} for e in entries], hide_index=True)
