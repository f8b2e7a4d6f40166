"""Pages stay quick to open: the modules they import do not load libraries only some actions need.

A page's first visit pays for every import of its modules. scikit-learn (Assist's forest, 2.3 s of CPU here),
fpdf2 and matplotlib (the training report, 2-3 s), pandas (Streamlit loads it for a table), scipy.optimize and
scipy.spatial (matching and convex hulls, 0.4 s each), shapely (GeoJSON outlines) and bioimageio (the
bioimage.io export's validation, with xarray) are imported where they are used. torch and the model code
are imported by the training registry every page reads; the app's frame loads them in the background after
the first page (ui/warmup.py).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from tests.conftest import REPO

ON_USE = ("sklearn", "matplotlib", "fpdf", "pandas", "scipy.optimize", "scipy.spatial", "shapely",
          "bioimageio", "xarray")

_PROBE = """
import importlib, json, sys
for name in {modules!r}:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in {on_use!r} if m in sys.modules)))
"""


def _page_modules(pages: str = "*") -> list[str]:
    """The project's modules that app.py and the pages (``pages``: a glob of pages/) import at their top."""
    found: set[str] = set()
    for path in [REPO / "app.py", *sorted((REPO / "pages").glob(f"{pages}.py"))]:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            found.update(n for n in names if n.split(".")[0] in ("core", "ui"))
    return sorted(found)


def _loaded(modules: list[str], libraries: tuple[str, ...]) -> list[str]:
    """Which of ``libraries`` a fresh interpreter has loaded after importing ``modules``."""
    probe = _PROBE.format(modules=modules, on_use=libraries)
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_pages_modules_leave_libraries_of_single_actions_unloaded():
    modules = _page_modules()
    assert "core.inference.package_io" in modules and "ui.assist_panel" in modules, modules
    loaded = _loaded(modules, ON_USE)
    assert loaded == [], f"the pages' modules import {loaded} at import time; import them where they are used"


def test_home_the_first_page_served_does_not_wait_for_torch():
    """Home is what a fresh start serves first; the warm-up imports torch only after it (5 s of CPU here)."""
    modules = _page_modules("home")
    assert "ui.starter_links" in modules, modules
    assert _loaded(modules, ("torch", "segmentation_models_pytorch")) == []
