"""The image gallery of a project: thumbnails with name, size, dtype, channels, what import converted
(the image's notes) and annotation status; with classes, each image's class (set here), and the gallery
filtered and counted by class."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timezone

import streamlit as st

from core import projects as project_ops
from core.db import repo, session_scope
from core.db.models import ANNOTATED, BACKGROUND, PROPOSED, Image, LabelClass, Project
from ui.activity_log import did
from ui.context import PageContext
from ui.feedback import flash, user_errors

PAGE_SIZE = 24
COLUMNS = 6
STATUS_BADGES = {ANNOTATED: "annotated", BACKGROUND: "background only", PROPOSED: "proposed (to review)"}
ALL, NO_CLASS = "all", "none"  # the class filter's choices besides the label ids


def status_badge(status: str) -> str:
    return STATUS_BADGES.get(status, "not annotated")


def image_caption(image: Image, annotator: str | None = None) -> str:
    """Name, size, conversions, status; with lab accounts, who saved its annotations last and when."""
    converted = "".join(f"  \nConverted: {note}" for note in image.notes or [])
    size = f"{image.width}×{image.height} · {image.dtype} · {image.channels} ch"
    by = ""
    if annotator:
        when = image.updated_at if image.updated_at.tzinfo else image.updated_at.replace(tzinfo=timezone.utc)
        by = f" · by {annotator}, {when.astimezone():%Y-%m-%d %H:%M}"
    return f"**{image.name}**  \n{size}{converted}  \n{status_badge(image.status)}{by}"


def class_filter_options(images: Sequence[Image], labels: Sequence[LabelClass]) -> dict[str | int, str]:
    """The class filter's choices (all, no class, each class) with how many images each shows."""
    counts = Counter(image.class_id for image in images)
    options: dict[str | int, str] = {ALL: f"All images ({len(images):,})",
                                     NO_CLASS: f"No class ({counts[None]:,})"}
    options.update({lab.id: f"{lab.name} ({counts[lab.id]:,})" for lab in labels})  # type: ignore[misc]
    return options


def filter_by_class(images: Sequence[Image], choice: str | int) -> list[Image]:
    if choice == ALL:
        return list(images)
    wanted = None if choice == NO_CLASS else choice
    return [image for image in images if image.class_id == wanted]


def image_gallery(ctx: PageContext, project: Project) -> None:
    with session_scope(ctx.engine) as session:
        images = repo.list_images(session, project.id)  # type: ignore[arg-type]
        labels = repo.list_labels(session, project.id)  # type: ignore[arg-type]
    if not images:
        st.info("No images yet. Upload some above; each needs a label set and annotations before training.")
        return
    with_classes = bool(labels) and (
        any(image.class_id is not None for image in images)
        or st.toggle("Set image classes here", key=f"gallery_classes_{project.id}",
                     help="Classification: give each image one of the labels as its class."))
    shown_images = images
    choice: str | int = ALL
    if with_classes:
        options = class_filter_options(images, labels)
        choice = st.selectbox("Show", list(options), format_func=options.__getitem__,
                              key=f"gallery_class_filter_{project.id}")
        shown_images = filter_by_class(images, choice)
        if not shown_images:
            st.info("No image is shown by this filter; choose another class above.")
            return
    pages = (len(shown_images) + PAGE_SIZE - 1) // PAGE_SIZE
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", 1, pages, 1,
                                   key=f"gallery_page_{project.id}_{choice}"))
    shown = shown_images[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    with session_scope(ctx.engine) as session:
        annotators = {a.id: a.name for a in repo.list_accounts(session)}
    for row_start in range(0, len(shown), COLUMNS):
        cols = st.columns(COLUMNS)
        for col, image in zip(cols, shown[row_start : row_start + COLUMNS], strict=False):
            with col:
                thumb = ctx.settings.data_dir / image.thumb_path
                if image.thumb_path and thumb.exists():
                    st.image(str(thumb), width="stretch")
                st.markdown(image_caption(image, annotators.get(image.annotated_by)))  # type: ignore[arg-type]
                if with_classes:
                    _class_selector(ctx, image, labels)
                _delete_button(ctx, image)


def _class_key(image_id: int) -> str:
    return f"image_class_{image_id}"


def _class_changed(ctx: PageContext, image_id: int, name: str) -> None:
    label_id = st.session_state.get(_class_key(image_id))
    with user_errors(f"{name}: "):
        with session_scope(ctx.engine) as session:
            repo.set_image_class(session, image_id, label_id)


def _class_selector(ctx: PageContext, image: Image, labels: Sequence[LabelClass]) -> None:
    """The image's class, set at once when changed. The stored class is shown on every run (so a class set
    elsewhere is never overwritten by what this widget held); only the user's change writes."""
    names = {lab.id: lab.name for lab in labels}
    options: list[int | None] = [None, *names]  # type: ignore[list-item]
    st.session_state[_class_key(image.id)] = image.class_id if image.class_id in names else None  # type: ignore[arg-type]
    st.selectbox("Class", options, key=_class_key(image.id), label_visibility="collapsed",  # type: ignore[arg-type]
                 format_func=lambda i: "no class" if i is None else names[i],
                 on_change=_class_changed, args=(ctx, image.id, image.name))


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
        did(ctx, "deleted an image", project_id=image.project_id, detail=image.name)
        st.session_state.pop(key, None)
        flash(f"Deleted {image.name}.")
        st.rerun()
    if no.button("No", key=f"delete_image_no_{image.id}"):
        st.session_state.pop(key, None)
        st.rerun()
