"""Accounts (admins only): the lab's accounts, a new one, a password reset, disabling and enabling."""

from __future__ import annotations

import streamlit as st

from core import accounts
from ui.context import page_context
from ui.feedback import flash, show_flashes, user_errors
from ui.login import current_member

ctx = page_context()
st.title("Accounts")
show_flashes()
me = current_member(ctx)
if me is None or not me.is_admin:
    st.error("Only an admin may manage the accounts; ask your lab's segstudio admin.")
    st.stop()

members = accounts.list_members(ctx.engine)
st.dataframe([{"Name": m.name, "Email": m.email, "Admin": m.is_admin, "Disabled": m.disabled,
               "Since": m.created_at.strftime("%Y-%m-%d"),
               "Password changed": m.password_changed_at.strftime("%Y-%m-%d %H:%M")} for m in members],
             hide_index=True)

left, middle, right = st.columns(3)
with left, st.form("account_add", clear_on_submit=True):
    st.markdown("**Add an account**")
    name = st.text_input("Name", help="Letters, digits, dots, dashes, underscores or @ (e.g. ada.lovelace)")
    password = st.text_input(f"Password (at least {accounts.MIN_PASSWORD} characters)", type="password",
                             help="Tell it to the new member, who then changes it in the sidebar.")
    email = st.text_input("Email (optional)", help="Where the ends of this member's trainings are mailed, when "
                                                    "the app has SMTP settings")
    admin = st.checkbox("Admin (may manage the accounts)")
    if st.form_submit_button("Add", type="primary"):
        with user_errors():
            added = accounts.add_account(ctx.engine, name, password, admin=admin, email=email)
            flash(f"Added {'admin ' if added.is_admin else ''}account {added.name!r}.")
            st.rerun()

names = [m.name for m in members]
with middle, st.form("account_reset", clear_on_submit=True):
    st.markdown("**Reset a password**")
    who = st.selectbox("Account", names, key="account_reset_name")
    new = st.text_input("New password", type="password", key="account_reset_password")
    if st.form_submit_button("Set the new password"):
        with user_errors():
            accounts.set_password(ctx.engine, who, new)
            flash(f"Set a new password for {who!r}; the account's open sessions have ended.")
            st.rerun()

with right, st.container(border=True):
    st.markdown("**Disable or enable**")
    who = st.selectbox("Account", names, key="account_toggle_name")
    target = next(m for m in members if m.name == who)
    verb = "Enable" if target.disabled else "Disable"
    if st.button(f"{verb} {who}", key="account_toggle"):
        with user_errors():
            accounts.set_disabled(ctx.engine, who, disabled=not target.disabled)
            flash(f"{verb}d {who!r}." + ("" if target.disabled else " Its open sessions have ended."))
            st.rerun()
