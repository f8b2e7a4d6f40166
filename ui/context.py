"""What every page needs: settings, the engine, the current project. Cached once per process."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from sqlalchemy.engine import Engine

from core import access
from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import Project
from ui.routing import run_inside_app_frame

PROJECT_KEY = "project_id"
SIGNED_IN = "_account"  # session state: {"id": account id, "at": ISO time of signing in} (ui.login)


@st.cache_resource(show_spinner=False)
def _engine(database_url: str) -> Engine:
    return make_engine(database_url)


@dataclass(frozen=True)
class PageContext:
    settings: Settings
    engine: Engine


def page_context() -> PageContext:
    """Settings from the environment and the (cached) engine of its database."""
    run_inside_app_frame()
    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return PageContext(settings=settings, engine=_engine(settings.database_url))


def viewer_id() -> int | None:
    """The signed-in account of this session (None with accounts off). app.py's gate has checked the session
    before any page runs."""
    signed = st.session_state.get(SIGNED_IN)
    return signed["id"] if signed else None


def visible_ids(ctx: PageContext, project_ids: list[int]) -> list[int]:
    """``project_ids`` that this session's account may open (all of them with accounts off)."""
    return access.only_visible(ctx.engine, viewer_id(), project_ids)


def current_project(ctx: PageContext) -> Project | None:
    """The project chosen in the sidebar (or on the projects page), if it still exists and this session's
    account may open it."""
    project_id = st.session_state.get(PROJECT_KEY)
    if project_id is None:
        return None
    with session_scope(ctx.engine) as session:
        project = session.get(Project, project_id)
    if project is not None and not access.may_open(ctx.engine, viewer_id(), project_id):
        project = None
    if project is None:
        st.session_state.pop(PROJECT_KEY, None)
    return project


def require_project(ctx: PageContext) -> Project:
    """The current project; without one, say what to do and stop the page."""
    project = current_project(ctx)
    if project is None:
        st.info("Choose or create a project first.")
        st.page_link("pages/projects.py", label="Go to Projects", icon=":material/folder_open:")
        st.stop()
    return project  # type: ignore[return-value]


def set_current_project(project_id: int | None) -> None:
    if project_id is None:
        st.session_state.pop(PROJECT_KEY, None)
    else:
        st.session_state[PROJECT_KEY] = project_id


def project_picker(ctx: PageContext, *, label: str = "Project", key: str = "project_picker") -> Project | None:
    """A select box over all projects, kept in step with the current project."""
    with session_scope(ctx.engine) as session:
        projects = repo.list_projects(session)
    allowed = set(visible_ids(ctx, [p.id for p in projects]))  # type: ignore[misc]
    projects = [p for p in projects if p.id in allowed]
    if not projects:
        return None
    ids = [p.id for p in projects]
    current = st.session_state.get(PROJECT_KEY)
    index = ids.index(current) if current in ids else 0
    if current in ids and st.session_state.get(key, current) != current:
        st.session_state[key] = current  # chosen elsewhere (another picker, a link to a training): follow it
    if st.session_state.get(key) in ids:
        index = 0  # the widget's own state says which (an index as well would draw Streamlit's warning)
    names = {p.id: p.name for p in projects}
    chosen = st.selectbox(label, ids, index=index, format_func=lambda i: names[i], key=key,
                          on_change=lambda: set_current_project(st.session_state[key]))
    set_current_project(chosen)
    return next(p for p in projects if p.id == chosen)
