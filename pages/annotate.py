"""Annotate: draw and edit polygons, brush strokes, rectangles and ROIs on the image (the project's own
canvas: wheel zoom, drag pan, keyboard shortcuts, click-to-segment); assist mode; classes mode (one key per
class, then the next image); import masks and boxes."""

from __future__ import annotations

import streamlit as st
from PIL import Image as PILImage
from PIL import ImageDraw

from core.annotation_import import import_mask
from core.annotations.canvas import shapes_in_view
from core.annotations.shapes import KIND_ANNOTATION
from core.annotations.viewport import overview_box
from core.db import repo, session_scope
from core.db.models import ANNOTATED, BACKGROUND, NOT_ANNOTATED, PROPOSED
from core.errors import SegStudioError
from core.projects import discard_staged, image_path, stage_upload
from ui import annotation_session as work_store
from ui.activity_log import did
from ui.annotate_draw import draw_canvas, shortcuts_help
from ui.annotator import needs_detail, page_viewport
from ui.assist_panel import assist_canvas, assist_controls, preannotate_section, proposed_banner
from ui.box_import import box_import_section
from ui.class_labelling import MODE as CLASSES_MODE
from ui.class_labelling import SHORTCUTS as CLASS_SHORTCUTS
from ui.class_labelling import classes_panel, roi_class_control
from ui.context import page_context, require_project, viewer_id
from ui.draft_notes import draft_notes
from ui.feedback import flash, show_error, show_flashes, user_errors
from ui.gallery import status_badge
from ui.image_choice import current_image
from ui.image_view import channel_controls, image_reader
from ui.shape_list import shapes_in_view_section

ctx = page_context()
st.title("Annotate")
# Messages come and go in containers of their own: what follows keeps its place in the page, so the canvas
# is never remounted (Streamlit identifies an element by its place).
with st.container():
    show_flashes()

project = require_project(ctx)
with session_scope(ctx.engine) as session:
    images = repo.list_images(session, project.id)  # type: ignore[arg-type]
    labels = repo.list_labels(session, project.id)  # type: ignore[arg-type]
if not images:
    st.info(f"{project.name!r} has no images yet. Upload some on the Projects page.")
    st.page_link("pages/projects.py", label="Upload images", icon=":material/upload:")
    st.stop()
if not labels:
    st.warning("Define at least one label (name and colour) before annotating.")
    st.page_link("pages/projects.py", label="Add labels on the Projects page", icon=":material/label:")
    st.stop()

colors = {lab.id: lab.color for lab in labels}
names = {lab.id: lab.name for lab in labels}
by_id = {im.id: im for im in images}
has_classes = any(im.class_id is not None for im in images)
if "annotate_mode" not in st.session_state and has_classes:
    st.session_state["annotate_mode"] = CLASSES_MODE  # a project whose images have classes opens in Classes

unsaved = [i for i in work_store.unsaved_image_ids(ctx.engine, project.id)  # type: ignore[arg-type]
           if i in by_id]
image_ids = list(by_id)
image_id = current_image(project.id, image_ids)  # type: ignore[arg-type]
# Not keyed: the options' text changes with the status and the unsaved mark, and a keyed selectbox whose
# option text changed falls back to its first option on the next interaction. The page's own state (and the
# URL) says which image is open; the picker is drawn anew on it.
picked = st.selectbox(
    "Image", image_ids, index=image_ids.index(image_id),
    format_func=lambda i: f"{by_id[i].name} — {status_badge(by_id[i].status)}"
    + (f" — {names.get(by_id[i].class_id, '?')}" if by_id[i].class_id is not None else "")
    + (" — unsaved changes" if i in unsaved else ""),
)
if picked != image_id:
    image_id = current_image(project.id, image_ids, picked=picked)  # type: ignore[arg-type]
image = by_id[image_id]
with st.container():
    if [i for i in unsaved if i != image_id]:
        st.warning(
            "Unsaved changes on: " + ", ".join(by_id[i].name for i in unsaved if i != image_id)
            + ". They are kept as drafts; open those images to save or discard them."
        )
work = work_store.load(ctx.engine, image_id)
work_store.sync_draft(ctx.engine, work)
reader = image_reader(str(image_path(ctx.settings, image)))

# --- the canvas and its side panel ----------------------------------------------------------------------
level_shapes = reader.level_shapes
viewport = page_viewport(image, level_shapes)
controls, canvas_col = st.columns([1, 5], gap="small")
with controls:
    if "_annotate_mode_next" in st.session_state:
        st.session_state["annotate_mode"] = st.session_state.pop("_annotate_mode_next")
    mode = st.radio("Mode", ["Draw", "Assist", CLASSES_MODE], horizontal=True, key="annotate_mode",
                    help="Assist: brush a few strokes per label and on the background; a random forest proposes the "
                         "rest of the view, which you can accept as annotations. Classes: give each image its "
                         "class (the labels are the classes) with one key, then on to the next image.")
    uses_classes = has_classes or mode == CLASSES_MODE
    if mode == "Assist":
        assist = assist_controls(labels)
    elif mode == CLASSES_MODE:
        st.caption("Press a class's key (1 … 9) or click it: the class is saved and the next image opens.")
    else:
        st.caption("Tools, labels, zoom and undo are in the canvas's toolbar; see the keyboard shortcuts below.")
        if uses_classes:
            roi_class_control(project.id, labels)  # type: ignore[arg-type]
    st.caption(f"Zoom {viewport.scale:.3g}× · showing x {viewport.x0:.0f}–{viewport.x0 + viewport.view_w:.0f}, "
               f"y {viewport.y0:.0f}–{viewport.y0 + viewport.view_h:.0f} of {image.width}×{image.height}")
    thumb_file = ctx.settings.data_dir / image.thumb_path
    if image.thumb_path and thumb_file.exists() and needs_detail(image):
        overview = PILImage.open(thumb_file).convert("RGB")
        x, y, w, h = overview_box(viewport, (overview.height, overview.width))
        ImageDraw.Draw(overview).rectangle([x, y, x + w - 1, y + h - 1], outline="#ff2d2d", width=2)
        st.image(overview, caption="Overview (red: the current view)")
    contrast, visible = channel_controls(reader, image, key=f"display_{image_id}")
    shortcuts_help(CLASS_SHORTCUTS if mode == CLASSES_MODE else None)

if mode == CLASSES_MODE:
    with canvas_col:
        classes_panel(ctx, project, image, image_ids, labels, work, level_shapes, contrast, visible)
    st.stop()

if mode == "Assist":
    with canvas_col:
        assist_canvas(ctx, project, image, image_ids, labels, assist, work, contrast, visible)
    preannotate_section(ctx, project, images, labels, image.channels)
    st.stop()

with canvas_col:
    with st.container():
        draft_notes(ctx.engine, work)
        if image.status == PROPOSED:
            proposed_banner(ctx, image, work)
    draw_canvas(ctx, image, image_ids, labels, work, level_shapes, contrast, visible)

    b1, b2 = st.columns(2)
    if b1.button("Save", type="primary", disabled=not work.dirty, key="annotate_save", width="stretch"):
        try:
            work_store.save(ctx.engine, work)
        except SegStudioError as exc:
            show_error(str(exc))
            if st.button("Reload the saved annotations (drops this tab's changes)", key="annotate_reload"):
                work_store.discard(ctx.engine, image_id)
                st.rerun()
        else:
            did(ctx, "saved annotations", project_id=project.id, detail=f"{image.name}: {len(work.shapes)} shape(s)")
            with session_scope(ctx.engine) as session:
                repo.set_annotated_by(session, image_id, viewer_id())
            flash(f"Saved {len(work.shapes)} shape(s) on {image.name}.")
            st.rerun()
    if b2.button("Discard changes", disabled=not work.dirty, key="annotate_discard", width="stretch"):
        work_store.discard(ctx.engine, image_id)
        flash(f"Discarded the unsaved changes on {image.name}.", kind="info")
        st.rerun()
    if work.dirty:
        st.caption("You have unsaved changes on this image.")

# --- shapes in view ----------------------------------------------------------------------------------
st.subheader("Shapes in view")
shapes_in_view_section(ctx.engine, work, shapes_in_view(work.shapes, viewport), names, image_id,
                       uses_classes=uses_classes)

# --- status, mask and box import -----------------------------------------------------------------------
st.subheader("Image status")
n_annotations = sum(1 for s in work.shapes if s.kind == KIND_ANNOTATION)
if image.class_id is not None:
    st.markdown(f"Class: **{names.get(image.class_id, '?')}** (change it in the Classes mode above).")
if image.status == PROPOSED:
    st.markdown(f"Proposed by the assistant — {n_annotations} object(s), waiting for your review (see above).")
elif n_annotations or (image.status == ANNOTATED and image.class_id is None):
    st.markdown(f"Annotated — {n_annotations} object(s). Remember: every object of the selected labels must be annotated.")
elif image.class_id is None:  # (an image with a class alone is annotated by it, as said above)
    choice = st.radio(
        "This image is", [NOT_ANNOTATED, BACKGROUND], index=1 if image.status == BACKGROUND else 0, horizontal=True,
        format_func=lambda s: {"not_annotated": "not annotated", "background": "background only (no objects)"}[s],
        key=f"status_{image_id}",
    )
    if choice != image.status:
        with user_errors():
            with session_scope(ctx.engine) as session:
                repo.set_image_status(session, image_id, choice)
            work_store.refresh_version(ctx.engine, work)
            st.rerun()

with st.expander("Import a label mask for this image"):
    st.caption("A label image (TIFF/PNG) of the same size: each object a different value, or a binary mask. "
               "Each object becomes one polygon of the chosen label. The same mask twice adds nothing; when "
               "the image has objects of the label already, the mask is only imported to replace them.")
    mask_file = st.file_uploader("Mask", type=["tif", "tiff", "png"], key=f"mask_upload_{image_id}")
    mask_label = st.selectbox("Label of the objects", list(names), format_func=lambda i: names[i], key="mask_label")
    mask_replace = st.checkbox("Replace this label's objects", key=f"mask_replace_{image_id}",
                               help="Replace the objects of this label that the image has already "
                                    "by the mask's")
    if mask_file is not None and st.button("Import mask", disabled=work.dirty, key="mask_import",
                                           help="Save or discard your changes first" if work.dirty else None):
        staged = stage_upload(ctx.settings, mask_file.name, mask_file)
        try:
            with user_errors():
                result = import_mask(
                    ctx.settings, ctx.engine, image_id, staged, mask_label, replace=mask_replace
                )
                work_store.load(ctx.engine, image_id, fresh=True)
                flash(result.message, kind="success" if result.written else "warning")
                st.rerun()
        finally:
            discard_staged(staged)

box_import_section(ctx, project, image_ids,
                   sorted({by_id[i].name for i in unsaved} | ({image.name} if work.dirty else set())))
