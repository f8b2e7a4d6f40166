"""The annotate page's notes on an image's draft: restored unsaved shapes, or a draft of older annotations
that waits for the user's choice."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from ui import annotation_session as work_store
from ui.annotation_session import WorkingCopy
from ui.feedback import flash


def _when(note: work_store.DraftNote) -> str:
    return note.written.strftime("%Y-%m-%d %H:%M:%S")


def draft_notes(engine: Engine, work: WorkingCopy) -> None:
    """Above the canvas: what was restored from a draft, or the choice a stale draft needs."""
    if work.pending is not None:
        note, _ = work.pending
        st.warning(
            f"Unsaved changes from {_when(note)} ({note.count} new or changed shape(s), {note.removed} "
            "deleted) were drawn on older annotations: this image was saved since, from another tab or by an "
            "import. Restore them (saving then replaces the newer annotations) or keep the saved annotations "
            "(the draft is deleted).",
            icon=":material/history:",
        )
        c1, c2 = st.columns(2)
        if c1.button("Restore the unsaved changes", key="draft_restore", width="stretch"):
            work_store.restore_pending(engine, work)
            st.rerun()
        if c2.button("Keep the saved annotations", key="draft_drop", width="stretch"):
            work_store.discard(engine, work.image_id)
            flash("Deleted the draft; the saved annotations are shown.", kind="info")
            st.rerun()
    elif work.restored is not None and work.dirty:
        note = work.restored
        parts = [f"{note.count} unsaved shapes"] if note.count or not note.removed else []
        parts += [f"{note.removed} unsaved deletion(s)"] if note.removed else []
        lost = f" {note.dropped} shape(s) of labels deleted since were left out." if note.dropped else ""
        st.info(f"Restored {' and '.join(parts)} from {_when(note)}; Save to keep them or Discard.{lost}",
                icon=":material/restore:")
