"""The Apply page's "accept these predictions as annotations" panel of one predicted project image (any
result kind: objects become polygons, boxes rectangles; :func:`core.predictions.accept_as_annotations`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from core.db import repo, session_scope
from core.errors import SegStudioError
from core.predictions import accept_as_annotations
from ui.feedback import flash, show_error


def accept_panel(
    ctx: Any, project: Any, item: dict, names: Sequence[str], *, run_id: int, index: int
) -> None:
    """Map each of the model's label ``names`` to a project label, then add the image's predictions as
    annotations (source "prediction")."""
    with session_scope(ctx.engine) as session:
        project_labels = repo.list_labels(session, project.id)
    if not project_labels:
        st.caption("Add labels to the project (Annotate page) to accept these predictions as annotations.")
        return
    with st.expander("Accept these predictions as annotations (to correct them and train again)"):
        label_ids = [lab.id for lab in project_labels]
        label_map = {}
        for name in names:
            default = next((i for i, lab in enumerate(project_labels) if lab.name == name), 0)
            label_map[name] = st.selectbox(
                f"Project label for {name!r}", label_ids, index=default,
                format_func=lambda i: next(lab.name for lab in project_labels if lab.id == i),
                key=f"map_{run_id}_{index}_{name}",
            )
        if st.button("Add as annotations", key=f"accept_{run_id}_{index}"):
            try:
                added = accept_as_annotations(ctx.settings, ctx.engine, run_id, index, label_map)
            except SegStudioError as exc:
                show_error(str(exc))
            else:
                flash(f"Added {added} object(s) to {item['name']}; "
                      "open it on the Annotate page to correct them.")
                st.rerun()
