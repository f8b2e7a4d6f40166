"""The pages' heavy libraries imported once per server process, in the background, after its first page run.

A Python import is paid by the first page that needs the library, in front of its user: torch and the model
code made Apply's first visit take 10 s during a training. The libraries are imported in a background thread
once the first page has been served, so later first visits find them loaded. Only third-party packages are
imported here (never the app's own modules, which a page may be importing at the same moment).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time

import streamlit as st

log = logging.getLogger("segstudio.app")

#: page -> the libraries its first visit would wait for
HEAVY = {
    "Apply": ("torch", "segmentation_models_pytorch", "timm", "skimage.measure", "shapely", "scipy.ndimage"),
    "Projects, Trainings, Compare, Models, Apply (their tables: Streamlit's dataframes)": ("pandas",),
    "Annotate (the first stroke Assist learns from)": ("sklearn.ensemble",),
}


def _import_all() -> None:
    start = time.perf_counter()
    for name in (module for modules in HEAVY.values() for module in modules):
        try:
            importlib.import_module(name)
        except ImportError as exc:  # the page that needs it will say so; nothing to warm here
            log.warning("could not import %s ahead of the pages: %s", name, exc)
    log.info("imported the pages' libraries ahead of time in %.1f s", time.perf_counter() - start)


@st.cache_resource(show_spinner=False)
def warm_imports() -> threading.Thread:
    """Start importing :data:`HEAVY` (once per server process); returns the thread doing it."""
    thread = threading.Thread(target=_import_all, name="segstudio-warm-imports", daemon=True)
    thread.start()
    return thread
