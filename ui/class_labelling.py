"""The annotate page's Classes mode: the image, one button per class (keys 1-9), and on to the next image.

Choosing a class saves it at once (:func:`core.db.repo.set_image_class`) and opens the next image, so that
hundreds of images are labelled with one key each. N and P move on and back without a change, 0 clears the
class. The counts per class and how many images have one are shown beside. In Draw mode, ROIs may carry a
class too (:func:`roi_class_control`): the crop of such an ROI is one example of its class.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.annotations.viewport import Viewport
from core.db import repo, session_scope
from core.db.models import Image, LabelClass, Project
from core.errors import SegStudioError
from core.projects import image_path
from ui import annotation_session as work_store
from ui.annotation_session import WorkingCopy
from ui.context import PageContext
from ui.feedback import flash, show_error
from ui.image_choice import current_image
from ui.image_view import render_view_png

MODE = "Classes"
NEXT_KEY, PREVIOUS_KEY, CLEAR_KEY = "N", "P", "0"
PICTURE_W, PICTURE_H = 760, 560
BUTTONS_PER_ROW = 5
SHORTCUTS = [
    ("1 … 9", "give the image class 1 … 9, save it and open the next image"),
    (CLEAR_KEY, "clear the image's class"),
    (f"{NEXT_KEY}, {PREVIOUS_KEY}", "next / previous image (nothing changed)"),
]


def _skip_key(project_id: int) -> str:
    return f"class_skip_{project_id}"


def _roi_class_key(project_id: int) -> str:
    return f"roi_class_{project_id}"


def shortcut_of(index: int) -> str | None:
    """The key of the ``index``-th class (0-based): 1 … 9, then none."""
    return str(index + 1) if index < 9 else None


def counts_text(labels: Sequence[LabelClass], counts: dict[int, int], classified: int, total: int) -> str:
    """``neutrophil 12 · platelet 3 — 15 of 40 images have a class`` (ROIs of a class counted with it)."""
    per_class = " · ".join(f"{lab.name} {counts.get(lab.id, 0):,}" for lab in labels)  # type: ignore[arg-type]
    return f"{per_class} — {classified:,} of {total:,} images have a class"


def _picture(ctx: PageContext, image: Image, level_shapes: list, contrast: tuple,
             visible: tuple | None) -> bytes:
    """The whole image, fitted into the picture's box."""
    hw = (image.height, image.width)
    fitted = Viewport.fit(hw, PICTURE_W, PICTURE_H, level_shapes=level_shapes)
    w, h = max(1, round(image.width * fitted.scale)), max(1, round(image.height * fitted.scale))
    viewport = Viewport.fit(hw, w, h, level_shapes=level_shapes)
    return render_view_png(str(image_path(ctx.settings, image)), viewport, contrast, visible, image.is_rgb)


def _step(project: Project, image_ids: Sequence[int], image_id: int, step: int, *,
          without_class: set[int] | None = None) -> bool:
    """Open the image ``step`` places on (or, ``without_class``, the next of those); False when there is
    none."""
    index = image_ids.index(image_id)
    if step < 0:
        order = list(reversed(image_ids[:index]))
    else:
        order = list(image_ids[index + 1:])
    if without_class is not None:
        order = [i for i in order if i in without_class]
    if not order:
        return False
    current_image(project.id, image_ids, picked=order[0])  # type: ignore[arg-type]
    return True


def classes_panel(ctx: PageContext, project: Project, image: Image, image_ids: Sequence[int],
                  labels: Sequence[LabelClass], work: WorkingCopy, level_shapes: list, contrast: tuple,
                  visible: tuple | None) -> None:
    """The picture, the class buttons and the way on, for the open image."""
    with session_scope(ctx.engine) as session:
        classes = repo.image_classes(session, project.id)  # type: ignore[arg-type]
        counts = repo.class_counts(session, project.id)  # type: ignore[arg-type]
    names = {lab.id: lab.name for lab in labels}
    now = classes.get(image.id)  # type: ignore[arg-type]
    st.image(_picture(ctx, image, level_shapes, contrast, visible), caption=image.name)
    position = f"image {image_ids.index(image.id) + 1} of {len(image_ids)}"  # type: ignore[arg-type]
    st.markdown(f"**Class: {names[now]}** ({position})" if now in names
                else f"**No class yet** ({position}). Choose one, or press its key.")
    chosen = _class_buttons(labels, now)
    skip = st.toggle("Then open the next image without a class", key=_skip_key(project.id),  # type: ignore[arg-type]
                     help="Off: the next image in the list, whatever its class.")
    back, on, clear = st.columns(3)
    go_back = back.button("Previous image", key="class_previous", shortcut=PREVIOUS_KEY, width="stretch")
    go_on = on.button("Next image", key="class_next", shortcut=NEXT_KEY, width="stretch")
    cleared = clear.button("No class", key="class_clear", shortcut=CLEAR_KEY, width="stretch",
                           disabled=now is None, help="Clear this image's class")
    st.caption(counts_text(labels, counts, len(classes), len(image_ids)))
    if chosen is not None or cleared:
        label_id = None if cleared else chosen
        try:
            with session_scope(ctx.engine) as session:
                repo.set_image_class(session, image.id, label_id)  # type: ignore[arg-type]
        except SegStudioError as exc:
            show_error(str(exc))
            return
        work_store.refresh_version(ctx.engine, work)  # the image's version moved on: keep the copy current
        if cleared:
            flash(f"Cleared the class of {image.name}.", kind="info")
            st.rerun()
        classes[image.id] = label_id  # type: ignore[index, assignment]
        _move_on(project, image_ids, image, classes, skip=skip)
        st.rerun()
    if go_back or go_on:
        if not _step(project, image_ids, image.id, -1 if go_back else 1):  # type: ignore[arg-type]
            flash("That was the " + ("first" if go_back else "last") + " image.", kind="info")
        st.rerun()


def _class_buttons(labels: Sequence[LabelClass], now: int | None) -> int | None:
    """One button per class (the current one highlighted); the class chosen, else None."""
    chosen = None
    for start in range(0, len(labels), BUTTONS_PER_ROW):
        row = labels[start:start + BUTTONS_PER_ROW]
        for index, (column, label) in enumerate(zip(st.columns(BUTTONS_PER_ROW), row, strict=False),
                                                start=start):
            key = shortcut_of(index)
            title = f"{key} · {label.name}" if key else label.name
            if column.button(title, key=f"class_pick_{label.id}", shortcut=key, width="stretch",
                             type="primary" if label.id == now else "secondary"):
                chosen = label.id
    return chosen


def _move_on(project: Project, image_ids: Sequence[int], image: Image, classes: dict[int, int | None], *,
             skip: bool) -> None:
    without = {i for i in image_ids if classes.get(i) is None} if skip else None
    if _step(project, image_ids, image.id, 1, without_class=without):  # type: ignore[arg-type]
        return
    if skip and without is not None:
        before = [i for i in image_ids if i in without]
        if before:  # wrap round to the first image still without a class
            current_image(project.id, image_ids, picked=before[0])  # type: ignore[arg-type]
            return
        flash("Every image has a class now.")
    else:
        flash(f"Saved the class of {image.name}; that was the last image.")


def roi_class_control(project_id: int, labels: Sequence[LabelClass]) -> None:
    """Draw mode: the class new ROIs get (none by default)."""
    options: list[int | None] = [None, *(lab.id for lab in labels)]
    names = {lab.id: lab.name for lab in labels}
    key = _roi_class_key(project_id)
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
    st.selectbox("Class of new ROIs", options, key=key,
                 format_func=lambda i: "none" if i is None else names[i],
                 help="An ROI of a class is one example of it for a classifier (its crop).")


def roi_class(project_id: int) -> int | None:
    """The class new ROIs of the project get (None: no class)."""
    value = st.session_state.get(_roi_class_key(project_id))
    return value if isinstance(value, int) else None
