"""The frame's routing: every screen file exists, and nothing makes Streamlit serve the screens bare."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_pages_folder_beside_app_py():
    # Streamlit runs a folder called pages/ next to the entry script as an old-style multipage app until a
    # session has called st.navigation: the first page opened by URL after a start then ran without the frame.
    assert not (REPO / "pages").exists(), "move the screens to screens/ (see app.py's docstring)"


def test_every_screen_of_the_navigation_exists():
    tree = ast.parse((REPO / "app.py").read_text(encoding="utf-8"))
    pages = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "PAGES" for t in node.targets))
    files = [entry.elts[0].value for entry in pages.elts]  # type: ignore[attr-defined]
    assert files and all(f.startswith("screens/") and (REPO / f).is_file() for f in files), files
    assert sorted(files) == sorted(f"screens/{p.name}" for p in (REPO / "screens").glob("*.py"))
