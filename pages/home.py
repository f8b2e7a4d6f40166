"""Home: the welcome screen on a fresh install, and where the current project stands."""

from __future__ import annotations

import streamlit as st

from core.db import repo, session_scope
from core.db.models import ANNOTATED
from ui.activity_log import did
from ui.context import current_project, page_context, set_current_project, viewer_id, visible_ids
from ui.feedback import flash, show_flashes, user_errors
from ui.starter_links import starter_links

ctx = page_context()
show_flashes()
st.title("segstudio")
st.write(
    "Train a deep-learning model that segments your microscopy images — without writing code. "
    "Upload images, annotate a few of them, step through the training wizard, and apply the model to new images."
)

with session_scope(ctx.engine) as session:
    projects = repo.list_projects(session)
_allowed = set(visible_ids(ctx, [p.id for p in projects]))  # type: ignore[misc]
projects = [p for p in projects if p.id in _allowed]

if not projects:
    st.subheader("Welcome! Start here")
    left, right = st.columns(2)
    with left, st.container(border=True):
        st.markdown("**Try the demo project**")
        st.caption("Six fluorescence nuclei images with their nuclei already annotated, ready for the training wizard.")
        if st.button("Create the demo project", type="primary", key="create_demo"):
            from core.demo import create_demo_project

            with user_errors(), st.spinner("Creating the demo project…"):
                demo = create_demo_project(ctx.settings, ctx.engine, owner_id=viewer_id())
                did(ctx, "made the demo project", project_id=demo.id, detail=demo.name)
                set_current_project(demo.id)
                flash(f"Created the demo project {demo.name!r}. Open Annotate to look at it, or go to Train.")
                st.rerun()
    with right, st.container(border=True):
        st.markdown("**Start your own project**")
        st.caption("Create a project, upload your images and define the labels you want to segment.")
        st.page_link("pages/projects.py", label="Create a new project", icon=":material/add:")
    starter_links(ctx.settings)
    st.stop()

project = current_project(ctx) or projects[0]
set_current_project(project.id)
with session_scope(ctx.engine) as session:
    n_images = repo.count_images(session, project.id)  # type: ignore[arg-type]
    n_labels = len(repo.list_labels(session, project.id))  # type: ignore[arg-type]
    n_annotated = repo.status_counts(session, project.id)[ANNOTATED]  # type: ignore[arg-type]

st.subheader(f"Project: {project.name}")
steps = [
    (n_images > 0, "Upload images", f"{n_images} image(s)", "pages/projects.py"),
    (n_labels > 0, "Define a label set", f"{n_labels} label(s)", "pages/projects.py"),
    (n_annotated >= 2, "Annotate at least 2 images", f"{n_annotated} annotated", "pages/projects.py"),
]
for done, title, detail, page in steps:
    icon = ":material/check_circle:" if done else ":material/radio_button_unchecked:"
    st.markdown(f"{icon} **{title}** — {detail}")
next_step = next(((title, page) for done, title, _, page in steps if not done), None)
if next_step:
    st.info(f"Next: {next_step[0].lower()}.")
    st.page_link(next_step[1], label=f"Go to {next_step[0].lower()}", icon=":material/arrow_forward:")
else:
    st.success("This project meets the minimum training requirements.")
starter_links(ctx.settings)
