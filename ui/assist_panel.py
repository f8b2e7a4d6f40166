"""The annotate page's assist mode: brush strokes -> the random forest's proposal over the view -> accept.

Strokes are stored at once (they are the assistant's training data, never the network's). The forest learns from
the strokes on every image of the project, so strokes on a few images teach it what to propose on the others.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st
from PIL import Image as PILImage

from core.annotations.annotator import component_shape, shapes_to_component
from core.annotations.shapes import KIND_ANNOTATION, KIND_ROI, ShapeData
from core.annotations.view import region_on_canvas
from core.assist import Proposal, ScribbleForest, overlay_rgb, proposal_to_shapes, uncertainty_rgb
from core.assistant import (
    Region,
    accept_proposed_image,
    fit_forest,
    has_both_kinds,
    image_regions,
    merge_proposal,
    project_strokes,
    propose_region,
    queue_preannotation,
    stroked_images,
    view_region,
)
from core.db import repo, session_scope
from core.db.models import NOT_ANNOTATED, Image, LabelClass, Project
from core.errors import SegStudioError
from core.jobs.queue import request_cancel
from core.projects import image_path
from ui import annotation_session as work_store
from ui.annotation_session import WorkingCopy
from ui.context import PageContext
from ui.feedback import flash, user_errors
from ui.annotator import keep_view, picture_viewport, saved_view
from ui.annotator import picture as canvas_picture
from ui.annotator import show as show_canvas
from ui.image_choice import current_image
from ui.image_view import image_reader, render_view_png

BACKGROUND_CODE = -1  # the stroke "label" of background in the canvas colours
BACKGROUND_COLOR = "#c0c0c0"
MODE_NAMES = {"instance": "separate objects (instance)", "semantic": "label regions (semantic)"}


@dataclass(frozen=True)
class AssistChoice:
    label_id: int | None  # None = background
    brush: int
    mode: str
    opacity: float


def assist_controls(labels: list[LabelClass]) -> AssistChoice:
    """The assist mode's tool controls (left column)."""
    names = {0: "Background", **{lab.id: lab.name for lab in labels}}
    # Starts on the project's first label: the first stroke on an object must not teach background.
    picked = st.selectbox("Stroke for", list(names), index=1 if labels else 0,
                          format_func=lambda i: f"● {names[i]}", key="assist_label",
                          help="Brush a few strokes inside objects of each label and some on the background.")
    label_id = picked or None  # 0 (background) is stored as no label
    brush = st.slider("Brush width (screen pixels)", 2, 60, 12, key="assist_brush")
    mode = st.radio("Accept as", list(MODE_NAMES), format_func=MODE_NAMES.get, key="assist_mode",
                    help="Separate objects: one polygon per connected object (instance training). "
                         "Label regions: one region per connected area (semantic training).")
    opacity = st.slider("Proposal opacity", 0.0, 1.0, 0.45, 0.05, key="assist_opacity")
    return AssistChoice(label_id, brush, mode, opacity)


# --- the forest, cached by the strokes it learnt from ----------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=4)
def _regions(path: str, strokes_key: str, _strokes: tuple) -> list[Region]:
    """Features of one image's stroked tiles (kept in memory, not pickled: they are large)."""
    return image_regions(image_reader(path), list(_strokes))


@st.cache_resource(show_spinner=False, max_entries=4)
def _forest(key: str, _regions_list: tuple, label_ids: tuple[int, ...], channels: int) -> ScribbleForest:
    return fit_forest(list(_regions_list), label_ids, channels=channels)


def project_forest(ctx: PageContext, project: Project, labels: list[LabelClass],
                   channels: int) -> tuple[ScribbleForest | None, str, dict[int, int]]:
    """(forest or None, its cache key, strokes per image) from the strokes on the project's images with
    ``channels`` channels (the assistant learns from one kind of image)."""
    label_ids = tuple(lab.id for lab in labels)
    stroked = stroked_images(ctx.settings, ctx.engine, project.id, channels=channels)  # type: ignore[arg-type]
    counts = {im.image_id: len(im.scribbles) for im in stroked}
    key = json.dumps([label_ids, [(im.image_id, [r.id for r in im.scribbles]) for im in stroked]])
    if not has_both_kinds([r for im in stroked for r in im.scribbles]):
        return None, key, counts
    regions: list[Region] = []
    for im in stroked:
        strokes = tuple(project_strokes(im.scribbles, label_ids))
        regions += _regions(str(im.path), json.dumps([label_ids, [r.id for r in im.scribbles]]), strokes)
    return _forest(key, tuple(regions), label_ids, channels), key, counts


@st.cache_data(show_spinner=False, max_entries=16)
def _proposal(path: str, forest_key: str, region: tuple[int, int, int, int], _forest_obj: ScribbleForest) -> Proposal:
    return propose_region(image_reader(path), _forest_obj, region)


# --- the canvas ---------------------------------------------------------------------------------------------
def assist_canvas(ctx: PageContext, project: Project, image: Image, image_ids: Sequence[int],
                  labels: list[LabelClass], choice: AssistChoice, work: WorkingCopy, contrast: tuple,
                  visible: tuple | None) -> None:
    """Strokes on the view, the proposal laid over it, its uncertainty beside, and the accept button.

    The canvas is the draw mode's (never remounted): each stroke is sent once it is finished and stored with
    the "Stroke for" choice the page has when it arrives, so a stroke right after switching is kept and
    counted under the new choice."""
    colors = {lab.id: lab.color for lab in labels}
    path = str(image_path(ctx.settings, image))
    reader = image_reader(path)
    with session_scope(ctx.engine) as session:
        strokes = repo.list_scribbles(session, image.id)  # type: ignore[arg-type]
    forest, forest_key, counts = project_forest(ctx, project, labels, image.channels)

    viewport = picture_viewport(image, reader.level_shapes, detail=True)
    png = render_view_png(path, viewport, contrast, visible, image.is_rgb)
    proposal: Proposal | None = None
    region = None
    problem = ""
    busy = st.container()  # first in the column, as the draw mode's notes: the canvas keeps its place
    try:
        region = view_region(reader, viewport.y0, viewport.x0, viewport.view_h, viewport.view_w)
        if forest is not None:
            with busy, st.spinner("The assistant is predicting the view…"):
                proposal = _proposal(path, forest_key, region, forest)
    except SegStudioError as exc:
        problem = str(exc)
    if proposal is not None and region is not None:
        picture = np.asarray(PILImage.open(io.BytesIO(png)).convert("RGB"))
        class_colors = {k + 1: colors[lab] for k, lab in enumerate(proposal.label_ids) if lab in colors}
        picture = overlay_rgb(picture, region_on_canvas(proposal.classes, region, viewport), class_colors,
                              alpha=choice.opacity)
        buffer = io.BytesIO()
        PILImage.fromarray(picture).save(buffer, format="PNG", compress_level=1)
        png = buffer.getvalue()

    stroke_colors = {BACKGROUND_CODE: BACKGROUND_COLOR, **colors}
    shown = [ShapeData(KIND_ANNOTATION, "brush", np.asarray(s.points, float),
                       label_id=s.label_id if s.label_id is not None else BACKGROUND_CODE, stroke_width=s.width)
             for s in strokes]
    pen = stroke_colors.get(choice.label_id if choice.label_id is not None else BACKGROUND_CODE, "#ffd700")
    answer = show_canvas({
        "mode": "assist",
        "image": {"id": image.id, "width": image.width, "height": image.height},
        "picture": canvas_picture(png, viewport),
        "overview": None,
        "detail": True,
        "shapes": shapes_to_component(shown, stroke_colors),
        "shapes_key": f"assist:{image.id}:{[s.id for s in strokes]}",
        "labels": [],
        "pen": pen,
        "view": saved_view(image.id),  # type: ignore[arg-type]
        "segment_available": False,
        "segment_note": "not in assist mode",
    })
    if answer.view is not None and answer.view_image == image.id:
        keep_view(image.id, answer.view)  # type: ignore[arg-type]
    if answer.events:
        with user_errors(), session_scope(ctx.engine) as session:
            for event in answer.events:
                if event.get("image_id") != image.id:
                    continue
                keep_view(image.id, event.get("view"))  # type: ignore[arg-type]
                if event.get("type") == "image":
                    index = image_ids.index(image.id) + (1 if event.get("step", 1) > 0 else -1)
                    if 0 <= index < len(image_ids):
                        current_image(image.project_id, image_ids, picked=image_ids[index])
                    continue
                if event.get("type") != "add" or (event.get("shape") or {}).get("geometry") != "brush":
                    continue
                record = {**event["shape"], "kind": KIND_ROI, "label": None}  # the label is the page's choice
                stroke = component_shape(record, [])
                repo.add_scribble(session, image.id, stroke.points.tolist(),  # type: ignore[arg-type]
                                  width=max(stroke.stroke_width, 1.0), label_id=choice.label_id)
        st.rerun()

    _status_line(strokes, counts, forest, proposal, problem)
    b1, b2, b3 = st.columns(3)
    if b1.button("Accept the proposal", type="primary", disabled=proposal is None, key="assist_accept",
                 width="stretch", help="Turn the proposal in this view into annotations you can edit"):
        assert proposal is not None and region is not None
        shapes = proposal_to_shapes(proposal.classes, proposal.label_ids, mode=choice.mode,
                                    origin=(region[1], region[0]))
        merged, replaced = merge_proposal(work.shapes, shapes, region, proposal.label_ids)
        work_store.change(ctx.engine, work, merged)
        note = f", replacing {replaced} earlier annotation(s) in the view" if replaced else ""
        flash(f"Accepted {len(shapes)} proposed shape(s){note}. Check them in Draw mode, then Save.")
        st.session_state["_annotate_mode_next"] = "Draw"
        st.rerun()
    if b2.button("Undo last stroke", disabled=not strokes, key="assist_undo", width="stretch"):
        with session_scope(ctx.engine) as session:
            repo.delete_last_scribble(session, image.id)  # type: ignore[arg-type]
        st.rerun()
    if b3.button("Clear strokes on this image", disabled=not strokes, key="assist_clear", width="stretch"):
        with session_scope(ctx.engine) as session:
            n = repo.clear_scribbles(session, image.id)  # type: ignore[arg-type]
        flash(f"Removed {n} stroke(s) from {image.name}.", kind="info")
        st.rerun()
    if proposal is not None and region is not None:
        heat = uncertainty_rgb(region_on_canvas(proposal.uncertainty, region, viewport, fill=0.0))
        st.image(heat, caption="Uncertainty of the proposal (bright: unsure). Add strokes where it is bright.",
                 width="stretch")


def _status_line(strokes: list, counts: dict[int, int], forest: ScribbleForest | None, proposal: Proposal | None,
                 problem: str) -> None:
    total = sum(counts.values())
    where = f" on {len(counts)} image(s)" if len(counts) > 1 else ""
    if problem:
        st.warning(problem)
    elif forest is None:
        st.info(f"{len(strokes)} stroke(s) here, {total} in the project{where}. Brush some **background** and at "
                "least one **label**: the assistant then proposes the rest of the view.")
    elif proposal is not None:
        unsure = float(np.mean(proposal.uncertainty > 0.5)) * 100
        st.caption(f"Learnt from {total} stroke(s){where} · {unsure:.1f} % of the view is uncertain. "
                   "Refine with more strokes, then accept.")


# --- proposed images and pre-annotation ---------------------------------------------------------------------
def preannotate_section(ctx: PageContext, project: Project, images: list[Image], labels: list[LabelClass],
                        channels: int) -> None:
    """Let the forest propose annotations for other not-annotated images, as a background job."""
    st.subheader("Pre-annotate other images")
    forest, _, _ = project_forest(ctx, project, labels, channels)
    if forest is None:
        st.caption("Once the assistant has strokes for background and a label, it can propose annotations for "
                   "the project's other images in the background.")
    else:
        candidates = [im for im in images if im.status == NOT_ANNOTATED and im.channels == forest.channels]
        if not candidates:
            st.caption("Every image with this channel count is annotated, background-only or already proposed.")
        else:
            by_id = {im.id: im for im in candidates}
            chosen = st.multiselect("Images to pre-annotate", list(by_id), default=list(by_id)[:50],
                                    format_func=lambda i: by_id[i].name, key=f"preannotate_images_{project.id}")
            mode = st.radio("Propose", list(MODE_NAMES), format_func=MODE_NAMES.get, horizontal=True,
                            key=f"preannotate_mode_{project.id}")
            if st.button("Pre-annotate in the background", disabled=not chosen, key="preannotate_start"):
                with user_errors():
                    job = queue_preannotation(ctx.settings, ctx.engine, project.id, forest, chosen,  # type: ignore[arg-type]
                                              mode=mode)
                    flash(f"Queued pre-annotation run {job.id} for {len(chosen)} image(s). Each becomes "
                          "'proposed' until you accept it here.", kind="info")
                    st.rerun()
    _preannotation_runs(ctx, project)


@st.fragment(run_every=3)
def _preannotation_runs(ctx: PageContext, project: Project) -> None:
    with session_scope(ctx.engine) as session:
        runs = repo.list_preannotations(session, project.id, limit=5)  # type: ignore[arg-type]
    for run in runs:
        done = run.results.get("images", [])
        proposed = sum(1 for r in done if r.get("outcome") == "proposed")
        line = f"Run {run.id}: {run.status}"
        if run.status == "running":
            line += f" — {run.progress * 100:.0f} % ({run.message})"
        line += f" · {proposed} of {len(run.config.get('image_ids', []))} image(s) proposed"
        st.markdown(line)
        if run.status == "running":
            st.progress(min(max(run.progress, 0.0), 1.0))
        if run.error:
            st.error(run.error)
        for r in done:
            if r.get("outcome") in ("failed", "skipped", "empty"):
                st.caption(f"{r.get('name', r['image_id'])}: {r['outcome']} — {r.get('reason', '')}")
        if run.status in ("queued", "running") and st.button("Cancel", key=f"preannotate_cancel_{run.id}"):
            st.toast(request_cancel(ctx.engine, "preannotation", run.id))  # type: ignore[arg-type]


def proposed_banner(ctx: PageContext, image: Image, work: WorkingCopy) -> None:
    """On a pre-annotated image: accept the proposal (it becomes annotations) or drop it."""
    n = sum(1 for s in work.shapes if s.kind == KIND_ANNOTATION)
    st.info(f"The assistant proposed the {n} annotation(s) on this image. Correct them, then accept: only accepted "
            "images are used for training.", icon=":material/auto_awesome:")
    a1, a2 = st.columns(2)
    if a1.button("Accept (save and mark annotated)", type="primary", key="proposal_accept", width="stretch"):
        with user_errors():
            if work.dirty:
                work_store.save(ctx.engine, work)
            accept_proposed_image(ctx.engine, image.id)  # type: ignore[arg-type]
            work_store.load(ctx.engine, image.id, fresh=True)  # type: ignore[arg-type]
            flash(f"{image.name} is annotated now.")
            st.rerun()
    if a2.button("Reject the proposal (delete it)", key="proposal_reject", width="stretch"):
        with user_errors():
            work.change([s for s in work.shapes if s.kind != KIND_ANNOTATION or s.source != "proposal"])
            work_store.save(ctx.engine, work)
            flash(f"Removed the proposal from {image.name}.", kind="info")
            st.rerun()
