"""segstudio dashboard: the frame (page config, sidebar) and the router over pages/.

Start it with the README's command (`bash .ci/app`), which runs `streamlit run app.py`.
"""

from __future__ import annotations

import streamlit as st

from ui import sidebar
from ui.context import page_context
from ui.worker import ensure_worker

st.set_page_config(page_title="segstudio", page_icon=":material/biotech:", layout="wide")

ctx = page_context()
ensure_worker(ctx.settings)
if not sidebar.lab_gate(ctx):
    st.stop()

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/projects.py", title="Projects", icon=":material/folder_open:"),
    st.Page("pages/annotate.py", title="Annotate", icon=":material/draw:"),
    st.Page("pages/wizard.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/trainings.py", title="Trainings", icon=":material/monitoring:"),
]
navigation = st.navigation(pages)
sidebar.render(ctx)
navigation.run()
