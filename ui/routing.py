"""Every page runs inside app.py's frame, also when it is the first page opened after the server started.

Streamlit serves a folder called ``pages/`` beside the entry script as an old-style multipage app until some
session has called ``st.navigation`` (``PagesManager.uses_pages_directory`` is decided once, when the first
session starts). So the first page opened by URL after a start (a bookmark, a restored tab) ran on its own: file
names as navigation, no sidebar, no project picker, a narrow layout. A page that finds itself run that way
switches Streamlit to app.py's navigation and runs again: the same URL, now inside the frame.

This happens once per server process, on the first run of its first session (nothing has been clicked yet, so
the rerun loses nothing). AppTest decides the mode anew before every run it makes; its runs stay as they are,
so that a test's clicks are never swallowed by a rerun.
"""

from __future__ import annotations

import threading

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

_handed_over = threading.Event()


def run_inside_app_frame() -> None:
    """Call first on every page (``page_context`` does): rerun through app.py if Streamlit ran the page bare."""
    if PagesManager.uses_pages_directory and not _handed_over.is_set():
        _handed_over.set()
        PagesManager.uses_pages_directory = False  # what st.navigation sets; app.py calls it on every run
        st.rerun()
