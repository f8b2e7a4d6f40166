"""Signing in with a lab account (:mod:`core.accounts`): the login page, the session's account, and the
sidebar's "signed in as", log out and "change my password".

Wrong passwords slow down per browser session, per client address and per account name (the lab password's
back-off of :mod:`ui.sidebar`): guessing one member's password from many sessions or addresses is slowed too.
"""

from __future__ import annotations

import math
from datetime import datetime

import streamlit as st

from core import accounts
from core.accounts import Member
from core.db.models import utcnow
from core.errors import SegStudioError
from core.throttle import FailureThrottle
from ui import sidebar
from ui.context import SIGNED_IN, PageContext, page_context
from ui.feedback import flash

_ENDED = "_account_ended"  # why the last session ended (shown on the login page)


@st.cache_resource(show_spinner=False)
def name_throttle() -> FailureThrottle:
    """Failed guesses per account name, shared by every session of this server process."""
    return FailureThrottle(clock=lambda: sidebar.clock())


def current_member(ctx: PageContext) -> Member | None:
    """The signed-in account of this browser session, or None (then the login page is shown). A session that
    has expired, or whose account was disabled or got a new password, ends here."""
    signed = st.session_state.get(SIGNED_IN)
    if not signed:
        return None
    member = accounts.session_member(ctx.settings, ctx.engine, signed["id"], datetime.fromisoformat(signed["at"]))
    if member is None:
        st.session_state.pop(SIGNED_IN, None)
        st.session_state[_ENDED] = ("Your session has ended (it expired, or your password or account was "
                                    "changed); sign in again.")
    return member


def _begin_attempt(address: str, name: str) -> float:
    """0.0 when a guess may be checked now (counted until it proves right), else the seconds to wait."""
    own, shared, names = sidebar.session_throttle(), sidebar.address_throttle(), name_throttle()
    wait = max(own.wait(sidebar.SESSION_KEY), shared.wait(address), names.wait(name))
    if wait > 0:
        return wait
    for throttle, key in ((shared, address), (names, name)):
        wait = throttle.begin(key)  # another session may have begun one in the meantime
        if wait > 0:
            return wait
    own.begin(sidebar.SESSION_KEY)
    return 0.0


def login_page() -> None:
    """The only page while nobody is signed in (app.py routes every URL here)."""
    ctx = page_context()
    st.title("segstudio")
    if ended := st.session_state.pop(_ENDED, None):
        st.info(ended)
    if not accounts.list_members(ctx.engine):
        st.warning(f"Accounts are on (SEGSTUDIO_ACCOUNTS=on) but none exists yet: to add the first admin, "
                   f"{accounts.ADD_FIRST_ADMIN}.")
        st.stop()
    st.write("Sign in with your lab account. No account yet? Ask your lab's segstudio admin.")
    address = sidebar.client_address()
    with st.form("sign_in"):
        name = st.text_input("Name", key="sign_in_name")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    key = name.strip().lower()
    refused = 0.0
    if submitted:
        refused = _begin_attempt(address, key)
        if refused == 0.0:
            member = accounts.authenticate(ctx.engine, name, password)
            if member is not None:
                sidebar.session_throttle().reset(sidebar.SESSION_KEY)
                sidebar.address_throttle().forgive(address)
                name_throttle().reset(key)
                st.session_state[SIGNED_IN] = {"id": member.id, "at": utcnow().isoformat()}
                st.rerun()
            st.error("That name and password do not match an enabled account. Check both (the password is "
                     "case-sensitive), or ask your lab's segstudio admin.")
    wait = max(refused, sidebar.session_throttle().wait(sidebar.SESSION_KEY),
               sidebar.address_throttle().wait(address), name_throttle().wait(key) if key else 0.0)
    if wait > 0:
        why = "The password was not checked: too many wrong ones." if refused else "Too many wrong passwords."
        st.warning(f"{why} Wait {math.ceil(wait)} s before the next try; each further wrong one doubles "
                   "the wait, up to a minute.")


def sign_out() -> None:
    st.session_state.pop(SIGNED_IN, None)
    st.session_state[_ENDED] = "You have signed out."


def account_panel(ctx: PageContext, member: Member) -> None:
    """In the sidebar: who is signed in, log out, and the form to change one's own password."""
    st.caption(f"Signed in as **{member.name}**" + (" (admin)" if member.is_admin else ""))
    if st.button("Log out", key="sign_out", icon=":material/logout:"):
        sign_out()
        st.rerun()
    with st.expander("Change my password"), st.form("own_password", clear_on_submit=True):
        current = st.text_input("Current password", type="password")
        new = st.text_input(f"New password (at least {accounts.MIN_PASSWORD} characters)", type="password")
        repeated = st.text_input("The new password again", type="password")
        if st.form_submit_button("Change my password"):
            try:
                accounts.change_own_password(ctx.engine, member.id, current, new, repeated)
            except SegStudioError as exc:
                st.error(str(exc))
            else:
                # this session goes on (signed in again now); the account's other sessions end
                st.session_state[SIGNED_IN] = {"id": member.id, "at": utcnow().isoformat()}
                flash("Your password is changed; your other sessions have ended.")
                st.rerun()
