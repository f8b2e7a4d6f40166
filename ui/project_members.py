"""The Projects page's "Members" section (lab accounts on): who may open the project, and, for its owners
and the admins, adding and removing members (:mod:`core.access`)."""

from __future__ import annotations

import streamlit as st

from core import access
from core.accounts import accounts_on, list_members
from ui.activity_log import did
from ui.context import PageContext, viewer_id
from ui.feedback import flash, user_errors


def members_section(ctx: PageContext, project_id: int) -> None:
    if not accounts_on(ctx.settings, ctx.engine):
        return
    st.subheader("Members")
    current = access.members(ctx.engine, project_id)
    if current:
        st.markdown("\n".join(f"- **{name}** ({role})" for name, role in current))
    else:
        st.caption("No members yet (made before accounts were on): only the admins open it.")
    st.caption("Admins open every project. A model trained here is used only by the project's members (and the "
               "admins); imported and shipped models are the whole lab's.")
    if not access.may_manage(ctx.engine, viewer_id(), project_id):
        st.caption("The project's owners and the admins add and remove its members.")
        return
    names = [m.name for m in list_members(ctx.engine) if not m.disabled]
    add, remove = st.columns(2)
    with add, st.form(f"member_add_{project_id}"):
        who = st.selectbox("Account", names, key=f"member_name_{project_id}")
        role = st.radio("Role", access.ROLES, index=1, horizontal=True, key=f"member_role_{project_id}",
                        help="An owner may also add and remove members.")
        if st.form_submit_button("Add or change"):
            with user_errors():
                access.set_member(ctx.engine, project_id, who, role)
                did(ctx, "changed the members", project_id=project_id, detail=f"{who}: {role}")
                flash(f"{who!r} is now {role} of this project.")
                st.rerun()
    if current:
        with remove, st.form(f"member_remove_{project_id}"):
            gone = st.selectbox("Member", [name for name, _ in current], key=f"member_gone_{project_id}")
            if st.form_submit_button("Remove from the project"):
                with user_errors():
                    access.remove_member(ctx.engine, project_id, gone)
                    did(ctx, "changed the members", project_id=project_id, detail=f"{gone}: removed")
                    flash(f"Removed {gone!r} from the project.")
                    st.rerun()
