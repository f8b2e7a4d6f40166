"""Which image the annotate page has open: kept in the session and in the URL (``?image=<id>``), so that a
save, an accepted proposal or any other rerun stays on it, and a reload or a bookmark reopens it."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

QUERY_KEY = "image"


def _state_key(project_id: int) -> str:
    return f"annotate_current_{project_id}"


def current_image(project_id: int, image_ids: Sequence[int], *, picked: int | None = None) -> int:
    """The open image of the project: ``picked`` when the user just chose one, else the one in the URL, else
    the one this session had open, else the first. The URL is kept in step."""
    wanted = st.query_params.get(QUERY_KEY)
    remembered = st.session_state.get(_state_key(project_id))
    candidates = [picked, int(wanted) if wanted and wanted.isdigit() else None, remembered]
    image_id = next((c for c in candidates if c is not None and c in image_ids), image_ids[0])
    st.session_state[_state_key(project_id)] = image_id
    if st.query_params.get(QUERY_KEY) != str(image_id):
        st.query_params[QUERY_KEY] = str(image_id)
    return image_id
