"""Projects: create, rename, delete; upload images; the gallery; the label set."""

from __future__ import annotations

import streamlit as st

from core import projects as project_ops
from core.db import repo, session_scope
from core.db.models import ANNOTATED, BACKGROUND
from ui.activity_log import activity_section, did
from ui.class_import import class_import_section
from ui.context import page_context, project_picker, set_current_project, viewer_id
from ui.feedback import flash, show_flashes, user_errors
from ui.gallery import image_gallery
from ui.image_import import ask_later, finish_round, import_uploads, pages_question
from ui.project_members import members_section

UPLOAD_TYPES = ["tif", "tiff", "png", "jpg", "jpeg", "svs", "ndpi", "scn", "bif", "btf", "qptiff"]

ctx = page_context()
st.title("Projects")
show_flashes()

with st.expander("New project", expanded=False), st.form("new_project", clear_on_submit=True):
    new_name = st.text_input("Project name", placeholder="e.g. Nuclei in U2OS cells")
    if st.form_submit_button("Create project", type="primary"):
        with user_errors():
            created = project_ops.create_project(ctx.settings, ctx.engine, new_name, owner_id=viewer_id())
            did(ctx, "made the project", project_id=created.id, detail=created.name)
            set_current_project(created.id)
            flash(f"Created project {created.name!r}. Next: upload images and add labels.")
            st.rerun()

project = project_picker(ctx, label="Open project", key="projects_page_project")
if project is None:
    st.info("There are no projects yet. Create one above, or create the demo project on the Home page.")
    st.page_link("pages/home.py", label="Go to Home", icon=":material/home:")
    st.stop()

with session_scope(ctx.engine) as session:
    counts = repo.status_counts(session, project.id)
    labels = repo.list_labels(session, project.id)
total = sum(counts.values())
cols = st.columns(4)
cols[0].metric("Images", total)
cols[1].metric("Annotated", counts[ANNOTATED])
cols[2].metric("Background only", counts[BACKGROUND])
cols[3].metric("Labels", len(labels))

images_tab, labels_tab, settings_tab = st.tabs(["Images", "Label set", "Project settings"])

# --- images ------------------------------------------------------------------------------------------
with images_tab:
    uploader_key = f"uploader_{project.id}_{st.session_state.get('upload_round', 0)}"
    uploads = st.file_uploader(
        "Upload images (TIFF, OME-TIFF, PNG, JPEG, whole-slide images; 2D, up to 10 channels, up to 625 megapixels)",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key=uploader_key,
    )
    asking = pages_question(ctx, project.id, uploads or [])  # multi-page files refused last time
    if uploads and not asking and st.button(f"Import {len(uploads)} file(s)", type="primary"):
        unknown = import_uploads(ctx, project.id, uploads)
        ask_later(project.id, unknown)
        if unknown:  # keep the uploads for the answer to the pages question
            st.rerun()
        finish_round(project.id)

    class_import_section(ctx, project)
    image_gallery(ctx, project)

# --- labels ------------------------------------------------------------------------------------------
with labels_tab:
    st.caption("Every object you want the model to find needs a label. Names are unique within a project.")
    for label in labels:
        c_color, c_name, c_save, c_delete = st.columns([1, 4, 1, 1], vertical_alignment="bottom")
        color = c_color.color_picker("Colour", label.color, key=f"label_color_{label.id}")
        name = c_name.text_input("Name", label.name, key=f"label_name_{label.id}")
        if c_save.button("Save", key=f"label_save_{label.id}"):
            with user_errors():
                with session_scope(ctx.engine) as session:
                    repo.update_label(session, label.id, name=name, color=color)  # type: ignore[arg-type]
                flash(f"Saved label {name!r}.")
                st.rerun()
        if c_delete.button("Delete", key=f"label_delete_{label.id}"):
            st.session_state["confirm_label_delete"] = label.id
        if st.session_state.get("confirm_label_delete") == label.id:
            with session_scope(ctx.engine) as session:
                n_shapes = repo.count_label_shapes(session, label.id)  # type: ignore[arg-type]
                n_classed = sum(c == label.id for c in repo.image_classes(session, project.id).values())  # type: ignore[arg-type]
            st.warning(
                f"Delete label {label.name!r}? "
                + (f"Its {n_shapes} annotation(s) will be deleted too." if n_shapes else "It has no annotations.")
                + (f" {n_classed} image(s) of this class will have no class." if n_classed else "")
            )
            yes, no = st.columns(2)
            if yes.button("Yes, delete", key=f"label_delete_yes_{label.id}", type="primary"):
                with session_scope(ctx.engine) as session:
                    repo.delete_label(session, label.id)  # type: ignore[arg-type]
                st.session_state.pop("confirm_label_delete", None)
                flash(f"Deleted label {label.name!r}.")
                st.rerun()
            if no.button("Cancel", key=f"label_delete_no_{label.id}"):
                st.session_state.pop("confirm_label_delete", None)
                st.rerun()
    with st.form("add_label", clear_on_submit=True):
        c_name, c_color, c_add = st.columns([4, 1, 1], vertical_alignment="bottom")
        with session_scope(ctx.engine) as session:
            suggested = repo.next_color(session, project.id)  # type: ignore[arg-type]
        label_name = c_name.text_input("New label", placeholder="e.g. nucleus")
        label_color = c_color.color_picker("Colour", suggested)
        if c_add.form_submit_button("Add label"):
            with user_errors():
                with session_scope(ctx.engine) as session:
                    added = repo.add_label(session, project.id, label_name, label_color)  # type: ignore[arg-type]
                flash(f"Added label {added.name!r}.")
                st.rerun()

# --- settings ----------------------------------------------------------------------------------------
with settings_tab:
    with st.form("rename_project"):
        renamed = st.text_input("Project name", project.name)
        if st.form_submit_button("Rename"):
            with user_errors():
                with session_scope(ctx.engine) as session:
                    repo.rename_project(session, project.id, renamed)  # type: ignore[arg-type]
                flash(f"Renamed the project to {renamed.strip()!r}.")
                st.rerun()
    members_section(ctx, project.id)  # type: ignore[arg-type]
    activity_section(ctx, project.id)  # type: ignore[arg-type]
    st.divider()
    st.subheader("Delete project")
    st.write(
        f"Deleting removes all {total} images, their annotations, the trainings and their files. This cannot be undone."
    )
    confirm = st.text_input(f"Type the project name ({project.name}) to confirm", key=f"confirm_delete_{project.id}")
    if st.button("Delete project", type="primary", disabled=confirm.strip() != project.name):
        project_ops.delete_project(ctx.settings, ctx.engine, project.id)  # type: ignore[arg-type]
        did(ctx, "deleted the project", project_id=project.id, detail=project.name)
        set_current_project(None)
        flash(f"Deleted project {project.name!r}.")
        st.rerun()
