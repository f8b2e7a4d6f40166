"""segstudio dashboard: the frame (page config, sidebar) and the router over pages/.

Start it with the README's command (`bash .ci/app`), which runs `streamlit run app.py`. A page opened by its
URL first after a start runs inside this frame too (ui/routing.py says how).
"""

from __future__ import annotations

import streamlit as st

from ui import sidebar
from ui.context import page_context
from ui.feedback import user_errors
from ui.warmup import warm_imports
from ui.worker import ensure_worker

# (file, title, icon); the first is the default page. The URL of each page is its file's stem (/annotate).
PAGES = [
    ("pages/home.py", "Home", ":material/home:"),
    ("pages/projects.py", "Projects", ":material/folder_open:"),
    ("pages/annotate.py", "Annotate", ":material/draw:"),
    ("pages/wizard.py", "Train", ":material/model_training:"),
    ("pages/trainings.py", "Trainings", ":material/monitoring:"),
    ("pages/compare.py", "Compare", ":material/compare_arrows:"),
    ("pages/models.py", "Models", ":material/deployed_code:"),
    ("pages/apply.py", "Apply", ":material/auto_awesome:"),
]

st.set_page_config(page_title="segstudio", page_icon=":material/biotech:", layout="wide")


def frame() -> None:
    """The password gate, the sidebar and the chosen page."""
    ctx = page_context()
    ensure_worker(ctx.settings)
    if not sidebar.unlocked(ctx):
        # Every page's URL leads to the password page (so a bookmarked page asks for it too); calling
        # st.navigation at all also keeps Streamlit from serving the files of pages/ on its own.
        locked = [
            st.Page(sidebar.password_page, title="segstudio",
                    url_path=path.split("/")[-1].removesuffix(".py"), default=index == 0)
            for index, (path, _, _) in enumerate(PAGES)
        ]
        st.navigation(locked, position="hidden").run()
        st.stop()

    navigation = st.navigation([
        st.Page(path, title=title, icon=icon, default=index == 0)
        for index, (path, title, icon) in enumerate(PAGES)
    ])
    sidebar.render(ctx)
    try:
        navigation.run()
    finally:  # after the page (also one that stopped early): the first page served never waits for it
        warm_imports()


# An error meant for the user that no page caught (above all a full disk: every page reads the database)
# is shown as the error box, not as a traceback.
with user_errors():
    frame()
