"""Apply: run a trained model on project images or new uploads; overlays, counts, measurements, downloads."""

from __future__ import annotations

from functools import partial

import streamlit as st

from core.access import keep_visible_models, visible_runs
from core.db import repo, session_scope
from core.db.models import FAILED, QUEUED, RUNNING
from core.inference.package_io import import_model_package
from core.jobs import queue
from core.model_starts import model_project
from core.predictions import MODELS_DIR, model_catalog, queue_prediction
from core.projects import discard_staged, stage_upload
from core.training.types.base import BOX_LISTS, CLASS_LISTS, LABEL_IMAGES
from ui.accept_panel import accept_panel
from ui.activity_log import did
from ui.box_results import box_result
from ui.class_results import class_run_results
from ui.context import current_project, page_context, viewer_id
from ui.downloads import file_download
from ui.feedback import flash, show_flashes, user_errors
from ui.measurements import measurements_table, select_object
from ui.result_view import prediction_viewer
from ui.start_from import train_again_button

UPLOAD_TYPES = ["tif", "tiff", "png", "jpg", "jpeg", "svs", "ndpi", "scn", "bif", "btf"]
#: the view of each result kind other than label images (label images: the picture and measurements below)
RESULT_VIEWS = {BOX_LISTS: box_result}
#: result kinds shown for the whole run at once (a table of every image) rather than image by image
RUN_VIEWS = {CLASS_LISTS: class_run_results}

ctx = page_context()
st.title("Apply a model")
show_flashes()

with st.expander("Import a model package (a model/ folder as ZIP, a training report ZIP, or a bioimage.io "
                 "model ZIP)"):
    package = st.file_uploader("Model package", type=["zip"], key="model_package_upload")
    if package is not None and st.button("Import model", key="import_model"):
        staged = stage_upload(ctx.settings, package.name, package)
        try:
            with user_errors():
                folder = import_model_package(staged, ctx.settings.data_dir / MODELS_DIR)
                flash(f"Imported the model as {folder.name!r}.")
                st.rerun()
        finally:
            discard_staged(staged)

catalog = model_catalog(ctx.settings, ctx.engine)
# the models of the projects this account may open (every model with accounts off), the lab's shared ones
models = keep_visible_models(ctx.engine, viewer_id(), catalog.models)
broken = keep_visible_models(ctx.engine, viewer_id(), catalog.broken)
if broken:
    with st.expander(f"{len(broken)} model package(s) cannot be used", expanded=not models):
        for bad in broken:
            st.error(f"**{bad.title}** is broken: {bad.reason}")
if not models:
    st.info("There is no trained model yet. Train one with the wizard (or import a model package above).")
    st.page_link("pages/wizard.py", label="Open the training wizard", icon=":material/model_training:")
    st.stop()

keys = [m.key for m in models]
MODEL_LINK = "model"  # ?model=<key> in the address selects that model (the Models page's Apply sends it)
linked_model = st.query_params.get(MODEL_LINK)
if linked_model in keys and st.session_state.get("apply_model") != linked_model:
    st.session_state["apply_model"] = linked_model


def _follow_model() -> None:
    st.query_params[MODEL_LINK] = st.session_state["apply_model"]  # before the rerun reads the address


titles = {m.key: m.title for m in models}
# chosen first, then looked up (inside the generator the select box was made once per model it passed over)
chosen_key = st.selectbox("Model", keys, format_func=titles.__getitem__, key="apply_model", on_change=_follow_model)
model = next(m for m in models if m.key == chosen_key)
st.query_params[MODEL_LINK] = model.key  # a reload or a bookmark keeps the model chosen

project = current_project(ctx)
if project is not None and model_project(ctx.engine, model) == project.id:
    # the loop: apply, accept the predictions as annotations, correct them, and train again from this model
    train_again_button(ctx, model.training_id, key="apply_train_again")  # type: ignore[arg-type]
with session_scope(ctx.engine) as session:
    images = repo.list_images(session, project.id) if project else []  # type: ignore[arg-type]
by_id = {im.id: im for im in images}
chosen = st.multiselect(f"Images of {project.name!r}" if project else "Project images", list(by_id),
                        format_func=lambda i: by_id[i].name, key="apply_images")
uploads = st.file_uploader("…or new images (not added to the project)", type=UPLOAD_TYPES, accept_multiple_files=True,
                           key="apply_uploads")
card_views = model.card.get("views", 1)
views = None
if isinstance(card_views, int) and card_views > 1:
    views = st.radio(
        "Prediction", [card_views, 1], horizontal=True, key="apply_views",
        format_func=lambda v: (f"Accurate: {v} flipped and rotated views averaged, as validated" if v > 1
                               else f"Fast: one view (about {card_views}x faster, slightly less accurate)"),
    )
if st.button("Apply the model", type="primary", disabled=not (chosen or uploads), key="apply_start"):
    with user_errors():
        staged = [(u.name, stage_upload(ctx.settings, u.name, u)) for u in uploads or []]
        run = queue_prediction(ctx.settings, ctx.engine, model, image_ids=chosen, uploads=staged, views=views,
                               account_id=viewer_id())
        did(ctx, "started a prediction run", project_id=project.id if project is not None else None,
            detail=f"#{run.id} with {model.title}")
        st.session_state["apply_run"] = st.session_state["_queued_run"] = run.id
        flash(f"Queued prediction run {run.id}; it starts when the worker is free.", kind="info")
        st.rerun()

with session_scope(ctx.engine) as session:
    runs = repo.list_predictions(session, limit=20)
runs = visible_runs(ctx.engine, viewer_id(), runs)
if not runs:
    st.stop()
st.divider()
run_ids = [r.id for r in runs]
current = st.session_state.get("apply_run")
if (queued := st.session_state.pop("_queued_run", None)) in run_ids:
    # the run just queued is the one to follow (the picker's own state would keep showing the previous run)
    st.session_state["apply_run_picker"] = queued
if st.session_state.get("apply_run_picker") in run_ids:
    current = None  # the picker's own state says which (an index as well would draw Streamlit's warning)
run_id = st.selectbox("Prediction run", run_ids, index=run_ids.index(current) if current in run_ids else 0,
                      format_func=lambda i: f"#{i} {next(r for r in runs if r.id == i).config.get('model_title', '')}",
                      key="apply_run_picker")


@st.fragment(run_every=2)
def run_status() -> None:
    with session_scope(ctx.engine) as session:
        run = repo.get_prediction(session, run_id)
    if run.status in (QUEUED, RUNNING):
        st.progress(min(max(run.progress, 0.0), 1.0), text=f"{run.status}: {run.message}")
        if st.button("Cancel", key=f"cancel_run_{run_id}"):
            queue.request_cancel(ctx.engine, "prediction", run_id)
        st.session_state["_run_active"] = True
    else:
        if st.session_state.pop("_run_active", False):
            st.rerun(scope="app")
        if run.status == FAILED:
            st.error(f"This prediction run failed: {run.error}")


run_status()
with session_scope(ctx.engine) as session:
    run = repo.get_prediction(session, run_id)
results = run.results.get("images", [])
if run.results.get("zip"):
    zip_path = ctx.settings.data_dir / run.results["zip"]
    if zip_path.exists():
        file_download(st, "Download everything (ZIP)", zip_path, file_name=f"prediction-{run_id}.zip",
                      mime="application/zip", key="download_all")
run_kinds = {item.get("result_kind", LABEL_IMAGES) for item in results if "error" not in item}
if len(run_kinds) == 1 and (run_view := RUN_VIEWS.get(run_kinds.pop())) is not None:
    with user_errors():
        run_view(ctx, project, run, results, images=by_id, key=str(run_id))
    st.stop()


for index, item in enumerate(results):
    with st.container(border=True):
        st.markdown(f"**{item.get('name', f'image {index + 1}')}**")
        if "error" in item:
            st.error(item["error"])
            continue
        for warning in item.get("warnings", []):
            st.warning(warning[:1].upper() + warning[1:] + ".")
        counts = item.get("counts", {})
        cols = st.columns(max(len(counts), 1) + 1)
        for col, (name, n) in zip(cols, counts.items(), strict=False):
            col.metric(f"{name} objects", n)
        source = item.get("stored") or (by_id[item["image_id"]].stored_path if item.get("image_id") in by_id else None)
        if (result_view := RESULT_VIEWS.get(item.get("result_kind", LABEL_IMAGES))) is not None:
            # results other than label images (boxes) have their own view; measurements are for label images
            names = list(counts) or [lab["name"] for lab in model.card.get("labels", [])]
            colors = item.get("colors") or {lab["name"]: lab.get("color") for lab in model.card["labels"]}
            with user_errors():
                result_view(ctx.settings.data_dir, item, names=names, colors=[colors.get(n) for n in names],
                            image_path=str(ctx.settings.data_dir / source) if source is not None else None,
                            is_rgb=bool(item.get("is_rgb")), key=f"{run_id}_{index}")
            if item.get("image_id") in by_id and project is not None:
                accept_panel(ctx, project, item, names, run_id=run_id, index=index)
            continue
        # the picture above its table: a row picked in the table is outlined in it, an object clicked in it
        # selects its row
        view_slot = st.container()
        picked = on_pick = None
        csv_path = ctx.settings.data_dir / item["csv"]
        if csv_path.exists():
            table_key = f"measure_{run_id}_{index}"
            picked = measurements_table(csv_path, key=table_key)
            on_pick = partial(select_object, csv_path, key=table_key)
            d1, d2, d3 = st.columns(3)
            file_download(d1, "Measurements (CSV)", csv_path, mime="text/csv", key=f"csv_{run_id}_{index}")
            geo = ctx.settings.data_dir / item["geojson"]
            file_download(d2, "Objects (GeoJSON, QuPath)", geo, mime="application/geo+json",
                          key=f"geo_{run_id}_{index}")
            one = ctx.settings.data_dir / item["zip"]
            file_download(d3, "Labels + all (ZIP)", one, mime="application/zip", key=f"zip_{run_id}_{index}")
        if source is not None:
            with view_slot, user_errors():
                prediction_viewer(str(ctx.settings.data_dir / source), str(ctx.settings.data_dir / item["labels"]),
                                  is_rgb=by_id[item["image_id"]].is_rgb if item.get("image_id") in by_id else False,
                                  colors=[lab.get("color", "#ff0000") for lab in model.card.get("labels", [])],
                                  key=f"{run_id}_{index}", picked=picked, on_pick=on_pick)
        if item.get("image_id") in by_id and project is not None:
            accept_panel(ctx, project, item, [lab["name"] for lab in model.card.get("labels", [])],
                         run_id=run_id, index=index)
