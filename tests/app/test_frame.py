"""The frame's routing: every page file of the navigation exists, and a page Streamlit runs bare (its old-style
``pages/`` folder mode, before any session called st.navigation) reruns inside app.py's frame."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from ui import routing

REPO = Path(__file__).resolve().parents[2]


def test_every_page_of_the_navigation_exists():
    tree = ast.parse((REPO / "app.py").read_text(encoding="utf-8"))
    files = [entry.elts[0].value  # type: ignore[attr-defined]
             for node in tree.body if isinstance(node, ast.Assign)
             and any(isinstance(t, ast.Name) and t.id in ("PAGES", "ADMIN_PAGES") for t in node.targets)
             for entry in node.value.elts]  # type: ignore[attr-defined]
    assert files and all(f.startswith("pages/") and (REPO / f).is_file() for f in files), files
    assert sorted(files) == sorted(f"pages/{p.name}" for p in (REPO / "pages").glob("*.py"))


def test_a_page_opened_first_after_a_start_runs_inside_the_frame(app_env, monkeypatch):
    # AppTest starts each test as a fresh server: with pages/ beside app.py, Streamlit first runs a page opened
    # by its URL on its own (its old-style pages folder mode). The page hands over to app.py's navigation and
    # reruns inside the frame: the sidebar with its project picker, the page's own content, nothing bare.
    monkeypatch.setattr(routing, "_handed_over", threading.Event())  # as in a server process just started
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("pages/projects.py")
    at.run()
    assert not at.exception
    assert PagesManager.uses_pages_directory is False
    sidebar = [c.value for c in at.sidebar.caption]
    assert any("create one on the Projects page" in text for text in sidebar), sidebar  # the frame's sidebar
    assert any(t.value == "Projects" for t in at.title), [t.value for t in at.title]
