"""Compare trainings: two or more trainings (of one project or several) side by side — their curves
overlaid, their scores in one table, and only the settings in which they differ."""

from __future__ import annotations

import streamlit as st

from core.comparison import load_comparison
from core.db import repo, session_scope
from core.db.models import QUEUED
from ui.compare_view import comparison_chart
from ui.context import current_project, page_context, visible_ids
from ui.feedback import show_flashes, user_errors

LINK = "trainings"  # ?trainings=3,5 in the address chooses those trainings (a bookmark shows the same)

ctx = page_context()
st.title("Compare trainings")
show_flashes()
project = current_project(ctx)
with session_scope(ctx.engine) as session:
    projects = {p.id: p.name for p in repo.list_projects(session)}
    trainings = [t for t in repo.list_trainings(session) if t.status != QUEUED]
allowed = set(visible_ids(ctx, list(projects)))
trainings = [t for t in trainings if t.project_id in allowed]  # only the projects this account may open
linked = [int(part) for part in st.query_params.get(LINK, "").split(",") if part.strip().isdigit()]
linked = [i for i in linked if any(t.id == i for t in trainings)]
other_projects = project is None or any(
    t.project_id != project.id for t in trainings if t.id in linked)
st.session_state.setdefault("compare_every_project", other_projects)
if linked and other_projects:
    st.session_state["compare_every_project"] = True  # a link to trainings of several projects shows them all
every = st.toggle("Trainings of every project", key="compare_every_project", disabled=project is None)
shown = [t for t in trainings if every or project is None or t.project_id == project.id]
if len(shown) < 2:
    where = "" if every or project is None else f" in {project.name!r}"
    st.info(f"There are {len(shown)} training(s){where} to compare; comparing needs two or more. "
            "Start another with the training wizard (Run again on the Trainings page repeats one).")
    st.page_link("pages/trainings.py", label="Go to Trainings", icon=":material/monitoring:")
    st.stop()

names = {t.id: f"#{t.id} {t.name} · {projects.get(t.project_id, '?')} · {t.status}" for t in shown}
ids = list(names)
if "compare_ids" not in st.session_state or linked and st.session_state.get("_compare_link") != linked:
    finished = [t.id for t in shown if t.status == "succeeded"][:2]
    st.session_state["compare_ids"] = [i for i in linked if i in names] or finished or ids[:2]
    st.session_state["_compare_link"] = linked
st.session_state["compare_ids"] = [i for i in st.session_state["compare_ids"] if i in names]
chosen = st.multiselect("Trainings", ids, format_func=lambda i: names[i], key="compare_ids",
                        help="Choose two or more; the newest two finished trainings are chosen at first.")
st.query_params[LINK] = ",".join(str(i) for i in chosen)
st.session_state["_compare_link"] = list(chosen)
if len(chosen) < 2:
    st.info("Choose two or more trainings to compare.")
    st.stop()

with user_errors():
    result = load_comparison(ctx.settings, ctx.engine, chosen)
    st.subheader("Curves")
    st.caption("Training dashed, validation solid (the network output at the end of each epoch, one view, "
               "before the tuned post-processing); a diamond marks each training's kept model with the number "
               "its metrics table shows.")
    st.vega_lite_chart(comparison_chart(result.curves), width="content", key="compare_curves")
    st.subheader("Metrics")
    st.caption("Validation scores of each kept model, after its post-processing; "
               "per label: that label's scores.")
    st.dataframe(result.scores, hide_index=True)
    st.dataframe(result.facts, hide_index=True)
    st.subheader("Configuration")
    if result.diff:
        st.caption("Only the settings that differ.")
        st.dataframe(result.diff, hide_index=True)
    else:
        st.success("These trainings have the same configuration (a difference in their results comes from "
                   "chance: the random start, the time-bounded number of steps).", icon=":material/check:")
