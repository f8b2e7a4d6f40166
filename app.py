"""segstudio dashboard: the frame (page config, sidebar) and the router over pages/.

Start it with the README's command (`bash .ci/app`), which runs `streamlit run app.py`. A page opened by its
URL first after a start runs inside this frame too (ui/routing.py says how).
"""

from __future__ import annotations

import streamlit as st

from core.accounts import accounts_on
from ui import login, sidebar
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
ADMIN_PAGES = [("pages/accounts.py", "Accounts", ":material/group:")]  # only an admin's navigation lists them

st.set_page_config(page_title="segstudio", page_icon=":material/biotech:", layout="wide")


def frame() -> None:
    """The gate (a lab account's login, or the shared lab password), the sidebar and the chosen page."""
    ctx = page_context()
    ensure_worker(ctx.settings)
    member = None
    if accounts_on(ctx.settings, ctx.engine):
        member = login.current_member(ctx)
        if member is None:
            _only(login.login_page)
    elif not sidebar.unlocked(ctx):
        _only(sidebar.password_page)

    pages = PAGES + (ADMIN_PAGES if member is not None and member.is_admin else [])
    navigation = st.navigation([
        st.Page(path, title=title, icon=icon, default=index == 0)
        for index, (path, title, icon) in enumerate(pages)
    ])
    sidebar.render(ctx)
    if member is not None:
        with st.sidebar:
            login.account_panel(ctx, member)
    try:
        navigation.run()
    finally:  # after the page (also one that stopped early): the first page served never waits for it
        warm_imports()


def _only(page) -> None:
    """Show ``page`` whatever the URL (so a bookmarked page asks for the password too), then stop; calling
    st.navigation at all also keeps Streamlit from serving the files of pages/ on its own."""
    gate = [
        st.Page(page, title="segstudio", url_path=path.split("/")[-1].removesuffix(".py"), default=index == 0)
        for index, (path, _, _) in enumerate(PAGES + ADMIN_PAGES)
    ]
    st.navigation(gate, position="hidden").run()
    st.stop()


# An error meant for the user that no page caught (above all a full disk: every page reads the database)
# is shown as the error box, not as a traceback.
with user_errors():
    frame()
