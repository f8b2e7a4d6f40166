"""Importing uploaded files on the Projects page: the result, every conversion, and the pages question."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from core import projects as project_ops
from core.errors import SegStudioError
from ui.activity_log import did
from ui.context import PageContext
from ui.feedback import flash, flash_outcome


def _question_key(project_id: int) -> str:
    return f"pages_question_{project_id}"


def import_uploads(
    ctx: PageContext, project_id: int, uploads: Sequence[Any], *, pages_as: str | None = None
) -> dict[str, str]:
    """Import ``uploads`` (file-like objects with a ``name``) and flash what happened, conversions included.

    Returns the multi-page files that need the user's answer (name -> message).
    """
    bar = st.progress(0.0, text="Importing…")
    imported, duplicates, errors, notes, unknown = 0, [], [], [], {}
    for index, upload in enumerate(uploads):
        bar.progress(index / len(uploads), text=f"Importing {upload.name} ({index + 1} of {len(uploads)})")
        upload.seek(0)  # a second try (after the pages question) reads the file again
        try:
            staged = project_ops.stage_upload(ctx.settings, upload.name, upload)
        except SegStudioError as exc:
            errors.append(str(exc))
            continue
        try:
            report = project_ops.import_files(
                ctx.settings, ctx.engine, project_id, [(upload.name, staged)], pages_as=pages_as
            )
        finally:
            project_ops.discard_staged(staged)
        imported += len(report.imported)
        duplicates += report.duplicates
        errors += report.errors
        unknown.update(report.pages_unknown)
        notes += [f"{image.name}: {note}" for image in report.imported for note in image.notes]
    bar.progress(1.0, text="Import finished")
    if imported:
        did(ctx, "imported images", project_id=project_id, detail=f"{imported} image(s)")
    outcome = [("success", f"Imported {imported} image(s).")] if imported else []
    if notes:
        outcome.append(("info", "Converted on import:  \n" + "  \n".join(f"- {note}" for note in notes)))
    outcome += [("warning", message) for message in duplicates] + [("error", message) for message in errors]
    flash_outcome(outcome)
    return unknown


def ask_later(project_id: int, unknown: dict[str, str]) -> None:
    """Keep the files whose pages need an answer for :func:`pages_question` (after the rerun)."""
    if unknown:
        st.session_state[_question_key(project_id)] = unknown
    else:
        st.session_state.pop(_question_key(project_id), None)


def pages_question(ctx: PageContext, project_id: int, uploads: Sequence[Any]) -> bool:
    """Ask whether the pages of the multi-page files refused last time are channels; True while it asks."""
    unknown: dict[str, str] = st.session_state.get(_question_key(project_id), {})
    pending = [upload for upload in uploads if upload.name in unknown]
    if not pending:
        st.session_state.pop(_question_key(project_id), None)
        return False
    with st.container(border=True):
        st.warning(
            f"{len(pending)} file(s) hold several pages and do not say what they are. Are the pages channels "
            "(one per stain or fluorophore)? Z slices or time points cannot be imported: segstudio works on "
            "2D images, so export the one plane you need instead."
        )
        for upload in pending:
            st.caption(unknown[upload.name])
        yes, no = st.columns(2)
        if yes.button("Import the pages as channels", type="primary", key=f"pages_yes_{project_id}"):
            import_uploads(ctx, project_id, pending, pages_as="channels")
            finish_round(project_id)
        if no.button("Don't import them", key=f"pages_no_{project_id}"):
            flash(f"Not imported: {', '.join(u.name for u in pending)}.", kind="warning")
            finish_round(project_id)
    return True


def finish_round(project_id: int) -> None:
    """Forget the question, empty the uploader and show the result."""
    st.session_state.pop(_question_key(project_id), None)
    st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1
    st.rerun()
