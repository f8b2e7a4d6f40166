"""The annotate page's draw mode: the canvas with the working copy's shapes, and what its events do.

One toolbar (the canvas's: tools, labels, zoom, undo/redo) and one undo history (the working copy's in
:mod:`ui.annotation_session`): the canvas sends each completed action, the page applies it to the working copy
(which writes the draft at once) and shows the canvas again with the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st

from core.annotations.annotator import EDIT_EVENTS, apply_edit, shapes_to_component
from core.annotations.clean import clean_shapes
from core.annotations.shapes import KIND_ANNOTATION, KIND_ROI, ShapeData
from core.db.models import Image, LabelClass
from core.errors import AnnotationError, SegStudioError
from core.projects import image_path
from ui import annotation_session as work_store
from ui import annotator
from ui.annotation_session import WorkingCopy
from ui.class_labelling import roi_class
from ui.click_segment import availability, propose
from ui.context import PageContext
from ui.feedback import flash
from ui.image_choice import current_image
from ui.image_view import render_view_png

ROI_COLOR = "#ffd700"
SHORTCUTS = [
    ("V P B R S H", "tools: select/edit, polygon, brush, rectangle, click to segment, pan"),
    ("1 … 9, 0", "label 1 … 9; 0 draws ROIs"),
    ("Ctrl+Z, Ctrl+Shift+Z", "undo, redo"),
    ("Delete", "delete the selected shape (select it with V, then click it; drag its corners to edit)"),
    ("Enter", "close the polygon; accept the proposed outline"),
    ("Escape", "cancel the polygon or the proposal; deselect"),
    ("Wheel, + −, F", "zoom about the cursor, zoom in/out, fit the whole image"),
    ("Space+drag, middle drag", "pan with any tool (or the pan tool H)"),
    ("← → or PageUp PageDown", "previous / next image"),
]


def _proposal_key(image_id: int) -> str:
    return f"_click_proposal_{image_id}"


def shortcuts_help(shortcuts: Sequence[tuple[str, str]] | None = None) -> None:
    """The keyboard shortcuts (the canvas's, unless others are given) in an expander."""
    with st.expander("Keyboard shortcuts", icon=":material/keyboard:"):
        st.markdown("\n".join(f"- **{keys}** — {what}" for keys, what in (shortcuts or SHORTCUTS)))


def draw_canvas(ctx: PageContext, image: Image, image_ids: Sequence[int], labels: list[LabelClass],
                work: WorkingCopy, level_shapes: list, contrast: tuple, visible: tuple | None) -> None:
    """The canvas in draw mode; handles its events (each ends in a rerun that shows their result)."""
    colors = {lab.id: lab.color for lab in labels}
    detail = annotator.needs_detail(image)
    viewport = annotator.picture_viewport(image, level_shapes, detail=detail)
    png = render_view_png(str(image_path(ctx.settings, image)), viewport, contrast, visible, image.is_rgb)
    overview = None
    thumb = ctx.settings.data_dir / image.thumb_path if image.thumb_path else None
    if detail and thumb is not None and thumb.exists():
        overview = {"src": annotator.media_url(thumb.read_bytes(), "overview")}
    available, why = availability()
    proposal = st.session_state.get(_proposal_key(image.id))  # type: ignore[arg-type]
    data: dict[str, Any] = {
        "mode": "draw",
        "image": {"id": image.id, "width": image.width, "height": image.height},
        "picture": annotator.picture(png, viewport),
        "overview": overview,
        "detail": detail,
        "shapes": shapes_to_component(work.shapes, colors, roi_color=ROI_COLOR),
        "shapes_key": f"{image.id}:{work.revision}",
        "labels": [{"id": lab.id, "name": lab.name, "color": lab.color} for lab in labels],
        "roi_color": ROI_COLOR,
        "can_undo": bool(work.history),
        "can_redo": bool(work.future),
        "view": annotator.saved_view(image.id),  # type: ignore[arg-type]
        "segment_available": available,
        "segment_note": why,
        "proposal": proposal,
    }
    answer = annotator.show(data)
    if answer.view is not None and answer.view_image == image.id:
        annotator.keep_view(image.id, answer.view)  # type: ignore[arg-type]
    if not answer.events:
        return
    for event in answer.events:
        if event.get("image_id") == image.id:
            annotator.keep_view(image.id, event.get("view"))  # type: ignore[arg-type]
            handle_event(ctx, image, image_ids, labels, work, event)
    st.rerun()


def handle_event(ctx: PageContext, image: Image, image_ids: Sequence[int], labels: list[LabelClass],
                 work: WorkingCopy, event: dict[str, Any]) -> None:
    """Apply one canvas event to the working copy (or the open image, or the proposal)."""
    kind = event.get("type")
    label_ids = [lab.id for lab in labels]
    hw = (image.height, image.width)
    try:
        if kind in EDIT_EVENTS:
            changed = apply_edit(work.shapes, event, label_ids)
            if kind == "add" and changed and changed[-1].is_roi:  # a new ROI gets the chosen class, if any
                new = changed[-1]
                changed[-1] = new.with_points(new.points, label_id=roi_class(image.project_id))
            if kind == "delete":
                work_store.change(ctx.engine, work, changed)
            else:
                k = len(changed) - 1 if kind == "add" else int(event["index"])
                _keep_clean(ctx, work, changed, k, hw, replace=kind == "edit")
        elif kind == "undo":
            work_store.undo(ctx.engine, work)
        elif kind == "redo":
            work_store.redo(ctx.engine, work)
        elif kind == "image":
            index = image_ids.index(image.id) + (1 if event.get("step", 1) > 0 else -1)
            if 0 <= index < len(image_ids):
                current_image(image.project_id, image_ids, picked=image_ids[index])
        elif kind == "segment":
            _segment(ctx, image, event, label_ids)
        elif kind == "accept":
            _accept(ctx, image, work, event, label_ids)
        elif kind == "reject":
            st.session_state.pop(_proposal_key(image.id), None)  # type: ignore[arg-type]
    except SegStudioError as exc:
        flash(f"That change was not made: {exc}", kind="error")


def _keep_clean(ctx: PageContext, work: WorkingCopy, changed: list[ShapeData], k: int, hw: tuple[int, int],
                *, replace: bool) -> None:
    """Keep shape ``k`` of ``changed`` as cleaned (clipped to the image, repaired) or say why it was refused."""
    report = clean_shapes([changed[k]], hw)
    for _, message in report.errors:
        flash(f"That shape was not {'changed' if replace else 'added'}: {message}", kind="error")
    for _, message in report.dropped + report.repaired:
        flash(message, kind="warning")
    if not report.kept:
        return
    if replace:
        shapes = [*changed[:k], report.kept[0], *changed[k + 1:]]
    else:
        shapes = changed[:k] + list(report.kept)
    work_store.change(ctx.engine, work, shapes)


def _segment(ctx: PageContext, image: Image, event: dict[str, Any], label_ids: list[int]) -> None:
    label = event.get("label")
    label_id = label if label in label_ids else label_ids[0]
    found = propose(ctx.settings, ctx.engine, image.id, float(event["x"]), float(event["y"]),  # type: ignore[arg-type]
                    label_id)
    message = found.message or ("Proposed an outline" if found.points else "No object found there")
    if found.points:
        message += f" ({found.source}). Enter accepts it, Escape drops it."
    st.session_state[_proposal_key(image.id)] = {  # type: ignore[arg-type]
        "points": found.points, "source": found.source, "message": message}


def _accept(ctx: PageContext, image: Image, work: WorkingCopy, event: dict[str, Any], label_ids: list[int]) -> None:
    proposal = st.session_state.pop(_proposal_key(image.id), None)  # type: ignore[arg-type]
    if not proposal or not proposal.get("points"):
        raise AnnotationError("there is no proposed outline to accept; click an object with the segment tool")
    roi = event.get("kind") == KIND_ROI
    label = event.get("label")
    shape = ShapeData(kind=KIND_ROI if roi else KIND_ANNOTATION, geometry="polygon",
                      points=np.asarray(proposal["points"], dtype=np.float64),
                      label_id=roi_class(image.project_id) if roi else (label if label in label_ids
                                                                       else label_ids[0]))
    _keep_clean(ctx, work, [*work.shapes, shape], len(work.shapes), (image.height, image.width), replace=False)
