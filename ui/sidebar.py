"""The shared sidebar (current project, notifications) and the optional lab password gate."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import streamlit as st

from core.errors import InvalidInputError
from core.password import is_legacy, parse_stored, verify_password
from core.throttle import FailureThrottle
from ui.context import PageContext, project_picker
from ui.notifications import notifications

_SESSION_THROTTLE = "_lab_throttle"
SESSION_KEY = "session"  # the one key of a session's own throttle
# The time source of the back-off (looked up at each use, so that a test can put a clock of its own here).
clock: Callable[[], float] = time.monotonic

LEGACY_WARNING = (
    "The lab password is stored in the old form (an unsalted SHA-256, quick to crack if the value leaks). "
    "To upgrade, run `segstudio password`, set SEGSTUDIO_PASSWORD_HASH to the line it prints and restart "
    "the app; the password itself can stay the same."
)


@st.cache_resource(show_spinner=False)
def address_throttle() -> FailureThrottle:
    """Failed guesses per client address, shared by every session of this server process."""
    return FailureThrottle(clock=lambda: clock())


def session_throttle() -> FailureThrottle:
    """Failed guesses of this browser session."""
    if _SESSION_THROTTLE not in st.session_state:
        st.session_state[_SESSION_THROTTLE] = FailureThrottle(clock=lambda: clock())
    return st.session_state[_SESSION_THROTTLE]


def client_address() -> str:
    """The client's address; Streamlit gives none for connections from this machine (nor in AppTest)."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "localhost"


def unlocked(ctx: PageContext) -> bool:
    """True when the pages may be shown: no lab password configured, or it was entered in this session."""
    return not ctx.settings.lab_password_hash.strip() or bool(st.session_state.get("_lab_ok"))


def _begin_attempt(address: str) -> float:
    """0.0 when a guess may be checked now (it is counted until it proves right), else the seconds to wait."""
    own, shared = session_throttle(), address_throttle()
    wait = max(own.wait(SESSION_KEY), shared.wait(address))
    if wait > 0:
        return wait
    wait = shared.begin(address)  # another session of this address may have begun one in the meantime
    if wait > 0:
        return wait
    own.begin(SESSION_KEY)  # free: its wait was 0, and a session runs one script at a time
    return 0.0


def password_page() -> None:
    """The only page while the app is locked (app.py routes every URL here)."""
    from ui.context import page_context

    stored = page_context().settings.lab_password_hash
    st.title("segstudio")
    st.write("This dashboard is protected by a lab password.")
    try:
        parse_stored(stored)
    except InvalidInputError as exc:
        st.error(f"The lab password cannot be checked, so the dashboard stays closed. {exc}")
        st.stop()
    address = client_address()
    with st.form("lab_password"):
        entered = st.text_input("Lab password", type="password")
        submitted = st.form_submit_button("Open")
    refused = 0.0
    if submitted:
        refused = _begin_attempt(address)
        if refused == 0.0:
            if verify_password(entered, stored):
                session_throttle().reset(SESSION_KEY)
                address_throttle().forgive(address)
                st.session_state["_lab_ok"] = True
                st.rerun()
            st.error("That password is not right. Ask the person who runs segstudio in your lab.")
    wait = max(refused, session_throttle().wait(SESSION_KEY), address_throttle().wait(address))
    if wait > 0:
        why = "The password was not checked: too many wrong ones." if refused else "Too many wrong passwords."
        st.warning(f"{why} Wait {math.ceil(wait)} s before the next try; each further wrong one doubles "
                   "the wait, up to a minute.")


def password_notice(ctx: PageContext) -> None:
    """After login: tell the admin when the stored hash is the old form, and how to upgrade it."""
    stored = ctx.settings.lab_password_hash
    if not stored.strip():
        return
    try:
        legacy = is_legacy(stored)
    except InvalidInputError as exc:
        st.error(str(exc))
        return
    if legacy:
        st.warning(LEGACY_WARNING, icon=":material/key:")


def render(ctx: PageContext) -> None:
    with st.sidebar:
        project = project_picker(ctx, key="sidebar_project")
        if project is None:
            st.caption("No project yet: create one on the Projects page.")
        password_notice(ctx)
        notifications(ctx)
