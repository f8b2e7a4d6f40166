"""The image gallery of a project: thumbnails with name, size, dtype, channels, what import converted
(the image's notes) and annotation status."""

from __future__ import annotations

import streamlit as st

from core import projects as project_ops
from core.db import repo, session_scope
from core.db.models import ANNOTATED, BACKGROUND, PROPOSED, Image, Project
from ui.context import PageContext
from ui.feedback import flash

PAGE_SIZE = 24
COLUMNS = 6
STATUS_BADGES = {ANNOTATED: "annotated", BACKGROUND: "background only", PROPOSED: "proposed (to review)"}


def status_badge(status: str) -> str:
    return STATUS_BADGES.get(status, "not annotated")


def image_caption(image: Image) -> str:
    converted = "".join(f"  \nConverted: {note}" for note in image.notes or [])
    size = f"{image.width}×{image.height} · {image.dtype} · {image.channels} ch"
    return f"**{image.name}**  \n{size}{converted}  \n{status_badge(image.status)}"


def image_gallery(ctx: PageContext, project: Project) -> None:
    with session_scope(ctx.engine) as session:
        images = repo.list_images(session, project.id)  # type: ignore[arg-type]
    if not images:
        st.info("No images yet. Upload some above; each needs a label set and annotations before training.")
        return
    pages = (len(images) + PAGE_SIZE - 1) // PAGE_SIZE
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"gallery_page_{project.id}"))
    shown = images[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    for row_start in range(0, len(shown), COLUMNS):
        cols = st.columns(COLUMNS)
        for col, image in zip(cols, shown[row_start : row_start + COLUMNS], strict=False):
            with col:
                thumb = ctx.settings.data_dir / image.thumb_path
                if image.thumb_path and thumb.exists():
                    st.image(str(thumb), width="stretch")
                st.markdown(image_caption(image))
                _delete_button(ctx, image)


def _delete_button(ctx: PageContext, image: Image) -> None:
    key = f"confirm_image_delete_{image.id}"
    if not st.session_state.get(key):
        if st.button("Delete", key=f"delete_image_{image.id}", help="Delete this image and its annotations"):
            st.session_state[key] = True
            st.rerun()
        return
    st.warning("Delete this image and its annotations?")
    yes, no = st.columns(2)
    if yes.button("Yes", key=f"delete_image_yes_{image.id}", type="primary"):
        project_ops.delete_image(ctx.settings, ctx.engine, image.id)  # type: ignore[arg-type]
        st.session_state.pop(key, None)
        flash(f"Deleted {image.name}.")
        st.rerun()
    if no.button("No", key=f"delete_image_no_{image.id}"):
        st.session_state.pop(key, None)
        st.rerun()
