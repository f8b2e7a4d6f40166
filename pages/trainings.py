"""Trainings: the queue, live progress and curves, results, the report; cancel, run again, resume, delete."""

from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from core.activity import author_name
from core.comparison import OVERALL_NAMES
from core.db import repo, session_scope
from core.db.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Training
from core.jobs import queue
from core.jobs.worker import worker_serving
from core.queue_view import queue_entries
from core.training.types import stored_type
from core.training.types.base import PIXEL_CURVES, PIXEL_KEPT_SCORES, PIXEL_PICTURES
from core.trainings import (
    can_resume,
    delete_training,
    owner_gone,
    rerun_training,
    resume_training,
    training_validation_warning,
)
from ui.activity_log import did
from ui.bioimageio import bioimageio_download
from ui.context import PROJECT_KEY, page_context, require_project, set_current_project, viewer_id, visible_ids
from ui.curves import curves_chart, kept_point
from ui.downloads import file_download
from ui.feedback import flash, show_flashes, user_errors
from ui.metrics_table import confusion_tables, metrics_tables, per_image_title
from ui.start_from import train_again_button

ctx = page_context()
st.title("Trainings")
show_flashes()
LINK = "training"  # ?training=<id> in the address selects that training (the wizard sends the user there)
linked = st.query_params.get(LINK, "")
linked_id = int(linked) if linked.isdigit() else None
if linked_id is not None:
    with session_scope(ctx.engine) as _session:
        _linked = _session.get(Training, linked_id)
    if _linked is not None and not visible_ids(ctx, [_linked.project_id]):
        st.error(f"Training #{linked_id} belongs to a project you may not open; ask its owner to add you.")
        linked_id = None
    elif _linked is not None and _linked.project_id != st.session_state.get(PROJECT_KEY):
        set_current_project(_linked.project_id)  # a link to a training of another project opens that project
        st.rerun()
project = require_project(ctx)
st.page_link("pages/compare.py", label="Compare trainings side by side (curves, metrics, settings)",
             icon=":material/compare_arrows:")

STATUS_TEXT = {QUEUED: "queued", RUNNING: "running", SUCCEEDED: "finished", FAILED: "failed", "cancelled": "cancelled"}


def _gone_text() -> str:
    """What happens to a training whose process ended without recording an outcome."""
    if worker_serving(ctx.settings):
        return ("Its process has ended without recording an outcome; the worker resumes it from its last "
                "checkpoint or marks it failed within a few seconds.")
    return ("Its process has ended without recording an outcome, and no worker runs here to take it over: "
            "press Cancel (or Delete) to end it, then Resume or Run again; or start `segstudio worker`.")


def _duration(t: Training) -> str:
    if t.started_at is None:
        return "—"
    end = t.finished_at or datetime.now(timezone.utc)
    start = t.started_at if t.started_at.tzinfo else t.started_at.replace(tzinfo=timezone.utc)
    end = end if end.tzinfo else end.replace(tzinfo=timezone.utc)
    seconds = max((end - start).total_seconds(), 0)
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def _key_metric(t: Training) -> str:
    overall = (t.metrics or {}).get("overall", {})
    kind = stored_type(t.config)
    if kind is not None:  # the score the training type leads with
        key, name = kind.headline
        return f"{name} {overall[key]:.3f}" if isinstance(overall.get(key), (int, float)) else ""
    if "f1" in overall and overall["f1"] is not None:
        return f"F1@0.5 {overall['f1']:.3f}"
    if "iou" in overall and overall["iou"] is not None:
        return f"IoU {overall['iou']:.3f}"
    return ""


def _when(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _steps_text(steps: int | None) -> str:
    """Steps done (at the last validated epoch): a time-bound run does as many as fit its time."""
    return "no steps recorded" if steps is None else f"{steps} steps"


@st.fragment(run_every=2)
def training_list() -> None:
    with session_scope(ctx.engine) as session:
        everything = repo.list_trainings(session)
    entries = queue_entries(everything, slots=ctx.settings.worker_slots)
    mine = [t for t in everything if t.project_id == project.id]
    with session_scope(ctx.engine) as session:
        steps = repo.steps_by_training(session, [t.id for t in mine])  # type: ignore[misc]
    if not mine:
        st.info("No trainings in this project yet.")
        st.page_link("pages/wizard.py", label="Start one with the training wizard", icon=":material/model_training:")
        return
    for t in mine:
        entry = entries.get(t.id)  # type: ignore[arg-type]
        with st.container(border=True):
            st.markdown(f"**{t.name}** · {STATUS_TEXT.get(t.status, t.status)} · #{t.id}")
            if t.status == QUEUED and entry is not None:
                start = entry.expected_start.astimezone().strftime("%H:%M") if entry.expected_start else "?"
                st.caption(f"Position {entry.position} in the queue · expected start about {start}")
            elif owner_gone(t):
                st.warning(_gone_text(), icon=":material/warning:")
            elif t.status == RUNNING:
                eta = f" · about {t.eta_seconds / 60:.1f} min left" if t.eta_seconds is not None else ""
                done = f" · {steps[t.id]} steps" if t.id in steps else ""
                st.progress(min(max(t.progress, 0.0), 1.0), text=f"Epoch {t.epoch}{done}{eta} · {t.message}")
            else:
                st.caption(f"{STATUS_TEXT.get(t.status, t.status)} · {_duration(t)} · {_steps_text(steps.get(t.id))}"
                           + (f" · {_key_metric(t)}" if _key_metric(t) else "")
                           + (f" · {t.error}" if t.status == FAILED else ""))


RERUN_WAYS = {
    "time": "The same training time (as many steps as fit in it: the result differs a little)",
    "steps": "The same number of steps, seed, batch size and learning rate (an exact repeat)",
}


def _run_again_choices(t: Training) -> None:
    """How to run ``t`` again: with its time budget, or step for step (only a finished model records its
    steps)."""
    with st.container(border=True):
        ways = list(RERUN_WAYS) if t.status == SUCCEEDED and t.model_dir else ["time"]
        way = st.radio("Run again with", ways, format_func=RERUN_WAYS.__getitem__, key="rerun_way")
        if len(ways) == 1:
            st.caption("An exact repeat needs the finished model's record of its steps; this training has none.")
        if st.button("Queue the new run", type="primary", key="rerun_training_go"):
            with user_errors():
                again = rerun_training(ctx.settings, ctx.engine, t.id, same_steps=way == "steps",  # type: ignore[arg-type]
                                       account_id=viewer_id())
                did(ctx, "started a training", project_id=t.project_id, detail=f"#{again.id} {again.name} (run again)")
                st.session_state.pop("rerun_choice_for", None)
                st.session_state["_pending_detail"] = again.id
                what = (f"{again.config['repeat']['max_steps']} steps, as {t.name!r} did" if way == "steps"
                        else "the same configuration and training time")
                flash(f"Queued {again.name!r} with {what}.")
                st.rerun()


def detail(training_id: int) -> None:
    with session_scope(ctx.engine) as session:
        t = repo.get_training(session, training_id)
    st.subheader(f"{t.name}")
    if (author := author_name(ctx.engine, t.account_id)) is not None:
        st.caption(f"Started by {author} · {_when(t.created_at)}")
    gone = owner_gone(t)
    if gone:
        st.warning(_gone_text(), icon=":material/warning:")
    a, b, e, c, f, d = st.columns(6)
    if t.status in (QUEUED, RUNNING) and a.button("Cancel", key="cancel_training"):
        status = queue.request_cancel(ctx.engine, "training", training_id)
        if status == "cancelled":
            flash("Cancelled.", kind="info")
        else:
            flash("Cancel requested; the training stops at the next step.", kind="info")
        st.rerun()
    if t.status not in (QUEUED, RUNNING) and b.button("Run again", key="rerun_training"):
        st.session_state["rerun_choice_for"] = training_id
    if st.session_state.get("rerun_choice_for") == training_id:
        _run_again_choices(t)
    resumable = can_resume(ctx.settings, t)
    if resumable and e.button("Resume", key="resume_training", help="Continue from the last checkpoint"):
        with user_errors():
            resume_training(ctx.settings, ctx.engine, training_id)
            flash(f"Queued {t.name!r} to resume from its last checkpoint.")
            st.rerun()
    if t.status == SUCCEEDED and t.model_dir:
        train_again_button(ctx, training_id, where=e)
    report = ctx.settings.data_dir / t.report_path if t.report_path else None
    if report is not None and report.exists():
        file_download(c, "Download report (ZIP)", report, file_name=f"training-{t.id}-report.zip",
                      mime="application/zip", key="download_report")
    package = ctx.settings.data_dir / t.model_dir if t.status == SUCCEEDED and t.model_dir else None
    if package is not None and package.is_dir():
        bioimageio_download(f, package, t.name, key="download_bioimageio")
    if resumable:
        st.caption("Resume continues this training from its last checkpoint (the end of its last finished "
                   "epoch), with the training time it had left.")
    if (t.status not in (QUEUED, RUNNING) or gone) and d.button("Delete", key="delete_training"):
        st.session_state["confirm_delete_training"] = training_id
    if st.session_state.get("confirm_delete_training") == training_id:
        st.warning("Delete this training, its model and its report?")
        if st.button("Yes, delete", type="primary", key="delete_training_yes"):
            with user_errors():
                delete_training(ctx.settings, ctx.engine, training_id)
                did(ctx, "deleted a training", project_id=t.project_id, detail=f"#{t.id} {t.name}")
                st.session_state.pop("training_detail", None)
                st.session_state.pop("confirm_delete_training", None)
                flash(f"Deleted {t.name!r}.")
                st.rerun()

    kind = stored_type(t.config)  # None for records that name no known type: the pixel types' charts
    charts = kind.curves if kind is not None else PIXEL_CURVES
    marks = kind.kept_scores if kind is not None else PIXEL_KEPT_SCORES

    @st.fragment(run_every=2 if t.status in (QUEUED, RUNNING) else None)
    def live() -> None:
        with session_scope(ctx.engine) as session:
            current = repo.get_training(session, training_id)
            rows = repo.epoch_records(session, training_id)
        if current.status == RUNNING:
            st.progress(min(max(current.progress, 0.0), 1.0), text=f"{current.progress:.0%} · epoch {current.epoch}")
        elif current.status == FAILED:
            st.error(f"This training failed: {current.error}")
        if rows:
            kept = kept_point(current.metrics or {}, rows, marks)
            st.vega_lite_chart(curves_chart(rows, kept, charts), width="content",
                               key=f"curves_{training_id}_{len(rows)}")
        elif current.status in (QUEUED, RUNNING):
            st.caption("The curves appear after the first epoch.")
        if current.status != t.status:
            st.rerun(scope="app")

    live()
    small = training_validation_warning(ctx.settings, ctx.engine, t)
    if small:
        st.warning(small, icon=":material/warning:")
    metrics = t.metrics or {}
    names = {**OVERALL_NAMES, **(kind.score_names if kind is not None else {})}
    overall = {key: value for key, value in (metrics.get("overall") or {}).items()
               if key in OVERALL_NAMES and isinstance(value, (int, float)) and not isinstance(value, bool)}
    if overall:
        st.markdown("**Validation metrics of the kept model**")
        for column, (key, value) in zip(st.columns(len(overall)), overall.items(), strict=True):
            column.metric(names[key], f"{value:.3f}")
    noun = kind.label_noun if kind is not None else "label"
    if metrics.get("per_label"):
        st.markdown(f"**Validation metrics per {noun}**")
        metrics_tables(metrics["per_label"], kind)
    if metrics.get("confusion"):
        st.markdown("**Confusion matrix** — rows: true class, columns: predicted class")
        confusion_tables(metrics["confusion"])
    if metrics.get("per_image"):
        with st.expander(per_image_title(kind)):
            metrics_tables(metrics["per_image"], kind)
    vis_dir = ctx.settings.training_dir(training_id) / "validation_visualizations"
    pictures = sorted(vis_dir.glob("*.png")) if vis_dir.exists() else []
    if pictures:
        caption = kind.pictures_caption if kind is not None else PIXEL_PICTURES
        head, _, rest = caption.partition(" — ")
        st.markdown(f"**{head}**" + (f" — {rest}" if rest else ""))
        for picture in pictures[:12]:
            st.image(str(picture), caption=picture.stem)
    with st.expander("Configuration"):
        # st.json, not st.code: the code block's syntax highlighter is 1.5 MB of JavaScript for a new tab
        st.json({"wizard": t.config.get("wizard"), "split": t.split, "training": t.config.get("train_config")},
                expanded=2)


def _follow_picker() -> None:
    st.query_params[LINK] = str(st.session_state["training_detail_picker"])


training_list()
with session_scope(ctx.engine) as _session:
    _choices = {t.id: t.name for t in repo.list_trainings(_session, project.id)}
if _choices:
    st.divider()
    _ids = list(_choices)
    if linked_id in _ids and st.session_state.get("training_detail_picker") != linked_id:
        st.session_state["training_detail_picker"] = linked_id
    if (pending := st.session_state.pop("_pending_detail", None)) in _ids:
        st.session_state["training_detail_picker"] = pending
    _current = st.session_state.get("training_detail")
    if st.session_state.get("training_detail_picker") in _ids:
        _current = None  # the picker's own state says which (an index as well would draw Streamlit's warning)
    selected = st.selectbox("Details of", _ids, index=_ids.index(_current) if _current in _ids else 0,
                            format_func=lambda i: f"#{i} {_choices[i]}", key="training_detail_picker",
                            on_change=_follow_picker)
    st.session_state["training_detail"] = selected
    st.query_params[LINK] = str(selected)  # a reload or a bookmark shows the same training
    with user_errors():
        detail(int(selected))
