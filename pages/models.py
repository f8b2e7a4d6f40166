"""Models: every trained and imported model in one list, with rename, delete, export (ZIP, and for
bioimage.io) and apply."""

from __future__ import annotations

import streamlit as st

from core import access
from core.access import keep_visible_models
from core.accounts import accounts_on
from core.db import repo, session_scope
from core.db.models import Training
from core.model_library import (
    ModelEntry,
    delete_model,
    export_file_name,
    export_model_zip,
    list_models,
    rename_model,
)
from ui.activity_log import did
from ui.bioimageio import bioimageio_download
from ui.context import page_context, viewer_id
from ui.feedback import flash, show_flashes, user_errors

ctx = page_context()


def _shared_ids() -> set[int]:
    with session_scope(ctx.engine) as session:
        return repo.shared_training_ids(session)


def _project_of(training_id: int | None) -> int | None:
    if training_id is None:
        return None
    with session_scope(ctx.engine) as session:
        training = session.get(Training, training_id)
    return training.project_id if training is not None else None


st.title("Models")
show_flashes()
entries = keep_visible_models(ctx.engine, viewer_id(), list_models(ctx.settings, ctx.engine))
if not entries:
    st.info("There is no model yet. Train one with the wizard, or import a model package on the Apply page.")
    st.page_link("pages/wizard.py", label="Open the training wizard", icon=":material/model_training:")
    st.page_link("pages/apply.py", label="Import a model package", icon=":material/auto_awesome:")
    st.stop()


def _size(entry: ModelEntry) -> str:
    return f"{entry.size_bytes / 1e6:.1f} MB"


st.dataframe([{"Name": e.name, "Project": e.project, "Type": e.training_type, "Labels": ", ".join(e.labels),
               "Validation score": e.score, "Size": _size(e), "Date": e.created,
               "State": "usable" if e.broken is None else "broken"} for e in entries], hide_index=True)
st.caption("A trained model's name is its training's name; renaming changes both. Apply and `segstudio "
           "predict` find a model by its name, and also by its training number or imported folder.")


def _rename(entry: ModelEntry, slot: str) -> None:
    with st.form(f"rename_form_{slot}", border=False):
        new = st.text_input("New name", value=entry.name, key=f"rename_name_{slot}", max_chars=200)
        if st.form_submit_button("Save the name"):
            with user_errors():
                stored = rename_model(ctx.settings, ctx.engine, entry.key, new)
                st.session_state.pop("models_renaming", None)
                flash(f"Renamed {entry.name!r} to {stored!r}.")
                st.rerun()


def _delete(entry: ModelEntry, slot: str) -> None:
    if entry.imported:
        st.warning(f"Delete the imported model {entry.name!r}? "
                   f"Its folder ({entry.package_dir.name}) is removed.")
    else:
        st.warning(f"Delete the model of the training {entry.name!r}? The training stays, with its curves, "
                   "metrics and report; the report ZIP holds a copy of the model (import it on the Apply "
                   "page to bring the model back). To remove everything, delete the training on the "
                   "Trainings page.")
    yes, no = st.columns(2)
    if yes.button("Yes, delete", type="primary", key=f"delete_yes_{slot}"):
        with user_errors():
            delete_model(ctx.settings, ctx.engine, entry.key)
            did(ctx, "deleted a model", project_id=_project_of(entry.training_id), detail=entry.name)
            st.session_state.pop("models_deleting", None)
            flash(f"Deleted the model {entry.name!r}.")
            st.rerun()
    if no.button("Keep it", key=f"delete_no_{slot}"):
        st.session_state.pop("models_deleting", None)
        st.rerun()


accounts = accounts_on(ctx.settings, ctx.engine)
own = access.visible_training_ids(ctx.engine, viewer_id())  # None: every one (no accounts, or an admin)
shared = _shared_ids()


def _share_toggle(entry: ModelEntry, slot: str) -> None:
    """With lab accounts: the project's owners and the admins share a trained model with the whole lab."""
    if not access.may_manage(ctx.engine, viewer_id(), _project_of(entry.training_id) or -1):
        if entry.training_id in shared:
            st.caption("Shared with the whole lab.")
        return
    now = st.toggle("Shared with the whole lab", value=entry.training_id in shared, key=f"share_{slot}",
                    help="Every lab member can then apply it and start trainings from it; only this project's "
                         "members and the admins see the training itself.")
    if now != (entry.training_id in shared):
        with user_errors():
            access.share_model(ctx.engine, viewer_id(), entry.training_id, now)  # type: ignore[arg-type]
            did(ctx, "shared a model" if now else "stopped sharing a model",
                project_id=_project_of(entry.training_id), detail=entry.name)
            st.rerun()


for index, entry in enumerate(entries):
    slot = entry.key.replace(":", "_")
    # a model shared with the lab from a project this account may not open: apply and export only
    foreign = entry.training_id is not None and own is not None and entry.training_id not in own
    with st.container(border=True):
        st.markdown(f"**{entry.name}** · {entry.project}")
        if accounts and entry.training_id is not None:
            _share_toggle(entry, slot)
        if entry.broken is not None:
            st.error(f"This package cannot be used: {entry.broken}", icon=":material/error:")
        else:
            st.caption(f"{entry.training_type} · {', '.join(entry.labels)} · {entry.score} · "
                       f"{_size(entry)} · {entry.created}")
        apply, export, zoo, rename, delete = st.columns(5)
        if entry.broken is None:
            if apply.button("Apply", key=f"apply_{slot}", type="primary", icon=":material/auto_awesome:"):
                st.switch_page("pages/apply.py", query_params={"model": entry.key})
            export.download_button("Export (ZIP)", lambda entry=entry: export_model_zip(entry),
                                   file_name=export_file_name(entry), mime="application/zip",
                                   key=f"export_{slot}", on_click="ignore", icon=":material/download:")
            bioimageio_download(zoo, entry.package_dir, entry.name, key=f"bioimageio_{slot}")
            if not entry.shipped and not foreign and rename.button("Rename", key=f"rename_{slot}",
                                                                   icon=":material/edit:"):
                st.session_state["models_renaming"] = entry.key
        if entry.shipped:
            delete.caption("Part of segstudio: export it to keep a copy under another name.")
        elif foreign:
            delete.caption("Shared with the lab by another project: its members rename or delete it.")
        elif delete.button("Delete", key=f"delete_{slot}", icon=":material/delete:"):
            st.session_state["models_deleting"] = entry.key
        if st.session_state.get("models_renaming") == entry.key:
            _rename(entry, slot)
        if st.session_state.get("models_deleting") == entry.key:
            _delete(entry, slot)
