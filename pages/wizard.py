"""Train: the eight steps of the training wizard. Each step checks its rules before Next is enabled."""

from __future__ import annotations

import dataclasses

import streamlit as st

from core.access import may_use_model
from core.config import DURATIONS
from core.db import repo, session_scope
from core.db.models import ANNOTATED, BACKGROUND, PROPOSED
from core.training.encoders import ENCODERS
from core.training.types import TRAINING_TYPES, training_type
from core.trainings import (
    IMAGE_TYPES,
    WizardChoices,
    channels_of_type,
    expected_minutes,
    queue_training,
    split_images,
    step_notes,
    step_problems,
    types_for,
)
from ui import wizard_state
from ui.activity_log import did
from ui.context import current_project, page_context, set_current_project, viewer_id, visible_ids
from ui.feedback import flash, user_errors
from ui.start_from import review_start, start_from_step, start_summary

STEPS, STATE, STEP = wizard_state.STEPS, wizard_state.STATE, wizard_state.STEP



def fresh_choices(project_id: int | None) -> WizardChoices:
    """The defaults for a project: its only label is selected already (there is nothing else to choose)."""
    with session_scope(ctx.engine) as session:
        project_labels = repo.list_labels(session, project_id) if project_id else []
    only = [project_labels[0].id] if len(project_labels) == 1 else []
    return WizardChoices(project_id=project_id, label_ids=only)


ctx = page_context()
st.title("Train a model")
if STATE not in st.session_state:
    kept = wizard_state.load(len(STEPS))  # a reload or a bookmark: the step and choices are in the address
    if kept is not None:
        st.session_state[STEP], restored = kept
        st.session_state[STATE] = restored.to_dict()
    else:
        project = current_project(ctx)
        st.session_state[STATE] = fresh_choices(project.id if project else None).to_dict()
choices = WizardChoices.from_dict(st.session_state[STATE])
if choices.project_id is not None and not visible_ids(ctx, [choices.project_id]):
    # an address (or a bookmark of another account) naming a project this account may not open
    st.warning("The project in the wizard's address is not one you may open; the wizard starts again.")
    project = current_project(ctx)
    choices = fresh_choices(project.id if project else None)
    st.session_state[STATE], st.session_state[STEP] = choices.to_dict(), 0
if choices.start and not may_use_model(ctx.engine, viewer_id(), choices.start):
    st.warning("The model to start from in the wizard's address is not one you may use; choose another.")
    choices = dataclasses.replace(choices, start="")
    st.session_state[STATE] = choices.to_dict()
step = st.session_state.setdefault(STEP, 0)
key, title = STEPS[step]
st.progress((step + 1) / len(STEPS), text=f"Step {step + 1} of {len(STEPS)}: {title}")

kind = TRAINING_TYPES.get(choices.training_type) or TRAINING_TYPES[WizardChoices.training_type]
with session_scope(ctx.engine) as session:
    projects = repo.list_projects(session)
    allowed = set(visible_ids(ctx, [p.id for p in projects]))  # type: ignore[misc]
    projects = [p for p in projects if p.id in allowed]
    labels = repo.list_labels(session, choices.project_id) if choices.project_id else []
    images = repo.list_images(session, choices.project_id) if choices.project_id else []
    # what each image is annotated with for the chosen type (shapes per label, or classes)
    summary = kind.annotation_counts(session, choices.project_id) if choices.project_id else {}
    sources = repo.annotation_sources(session, choices.project_id) if choices.project_id else {}
label_names = {lab.id: lab.name for lab in labels}
by_id = {im.id: im for im in images}

if key == "intro":
    st.markdown(
        "Training teaches a U-Net (a deep-learning network) to reproduce your annotations on new images. "
        "A background worker trains it on this machine; you can watch its progress and download a report.\n\n"
        "**Minimum requirements**\n"
        "- a label set with at least 1 label;\n"
        "- at least 2 annotated images, in which **all** objects of the selected labels are annotated "
        "(objects left unannotated teach the network that they are background);\n"
        "- images that show only background can be added as negatives: mark them background-only.\n\n"
        "More images and more annotated objects (at least ~150) give better results.\n\n"
        "**Image classification** (one class per image, or per ROI) needs instead at least 2 classes (the "
        "project's labels) with at least 2 images each; background-only images do not apply to it."
    )
    st.page_link("pages/annotate.py", label="Annotate images first", icon=":material/draw:")
elif key == "project":
    if not projects:
        st.info("There is no project yet.")
        st.page_link("pages/projects.py", label="Create a project", icon=":material/add:")
    else:
        ids = [p.id for p in projects]
        names = {p.id: p.name for p in projects}
        chosen = st.selectbox("Project", ids, index=ids.index(choices.project_id) if choices.project_id in ids else 0,
                              format_func=lambda i: names[i], key="wiz_project")
        if chosen != choices.project_id:
            choices = fresh_choices(chosen)
        counts = {s: sum(im.status == s for im in images) for s in (ANNOTATED, BACKGROUND, PROPOSED)}
        accepted = sum(1 for im in images if im.status == ANNOTATED and "proposal" in sources.get(im.id, set()))
        st.caption(f"{len(images)} images · {counts[ANNOTATED]} annotated"
                   + (f" ({accepted} from accepted proposals)" if accepted else "")
                   + f" · {counts[BACKGROUND]} background-only · {len(labels)} labels")
        if counts[PROPOSED]:
            st.info(f"{counts[PROPOSED]} image(s) have proposals from the assistant waiting for review. Accept them "
                    "on the Annotate page to train on them.")
            st.page_link("pages/annotate.py", label="Review proposals", icon=":material/auto_awesome:")
elif key == "type":
    options = list(TRAINING_TYPES)
    index = options.index(choices.training_type) if choices.training_type in options else 0
    picked = st.radio("Training type", options, index=index,
                      format_func=lambda o: TRAINING_TYPES[o].title, key="wiz_type")
    choices.training_type = picked
    st.caption(training_type(picked).annotation_hint)
elif key == "labels":
    noun = kind.label_noun
    st.write(f"Select only the {noun}{'es' if noun.endswith('s') else 's'} relevant to this training.")
    picked = [lab.id for lab in labels if st.checkbox(
        f"{lab.name} — {'annotated in' if kind.pixel_masks or noun == 'label' else 'class of'} "
        f"{sum(lab.id in s for s in summary.values())} image(s)",
        value=lab.id in choices.label_ids, key=f"wiz_label_{lab.id}")]
    choices.label_ids = picked
elif key == "split":
    choices.split_mode = st.radio(
        "Dataset split", ["random", "manual"], index=["random", "manual"].index(choices.split_mode),
        format_func=lambda m: {"random": "Random: 80 % training, 20 % validation (recommended)",
                               "manual": "Manual: choose the training and validation images yourself"}[m],
        key="wiz_split")
    if kind.roi_only_applies:
        choices.roi_only = st.checkbox(
            "Train on ROIs only", value=choices.roi_only, key="wiz_roi",
            help="Use this when you annotated mostly inside ROIs. An image without ROIs is used whole.")
        st.caption("All objects of a label must be annotated: objects present but not annotated mislead the "
                   "training.")
    else:
        choices.roi_only = False
        st.caption(f"The random split of {kind.short_title} is stratified by {kind.label_noun}: about 20 % "
                   f"of each {kind.label_noun}'s images go to validation (at least one). Each image with a "
                   "class is one example; each ROI carrying a class is one more (its crop), in the image's set.")
elif key == "images":
    allowed = [t for t in IMAGE_TYPES if t in training_type(choices.training_type).image_types]
    if len(allowed) > 1:
        index = allowed.index(choices.image_type) if choices.image_type in allowed else 0
        choices.image_type = st.radio("Image type", allowed, index=index,
                                      format_func=lambda t: IMAGE_TYPES[t], horizontal=True, key="wiz_imtype")
    else:
        choices.image_type = allowed[0]
        st.caption(f"Image type: 2D (multichannel images need {types_for('multichannel')}).")
    of_type = [im for im in images if channels_of_type(im) == choices.image_type]
    # the images the chosen type can train on (annotated with shapes, or given a class)
    usable = {im.id for im in split_images(ctx.engine, choices.project_id, [im.id for im in of_type], kind)
              if im.annotated}
    annotated = [im for im in of_type if im.id in usable]
    background = [im for im in of_type if im.status == BACKGROUND]

    def describe(i: int) -> str:
        im = by_id[i]
        present = ", ".join(label_names.get(lab, "?") for lab in summary.get(i, {}) if lab in choices.label_ids)
        origin = " · accepted proposal" if "proposal" in sources.get(i, set()) else ""
        return (f"{im.name} ({im.width}×{im.height}, {im.channels} ch) — "
                f"{present or 'none of the selected labels'}{origin}")

    if choices.split_mode == "random":
        default = [i for i in choices.image_ids if i in by_id] or [im.id for im in annotated]
        choices.image_ids = st.multiselect("Annotated images (80 % go to training, 20 % to validation)",
                                           [im.id for im in annotated], default=default, format_func=describe,
                                           key="wiz_images")
    else:
        ids = [im.id for im in annotated]
        choices.train_ids = st.multiselect("Training images", ids, default=[i for i in choices.train_ids if i in ids],
                                           format_func=describe, key="wiz_train")
        choices.val_ids = st.multiselect("Validation images (must contain every selected label)", ids,
                                         default=[i for i in choices.val_ids if i in ids], format_func=describe,
                                         key="wiz_val")
    if background and not kind.uses_background:
        choices.background_ids = [i for i in choices.background_ids if i in by_id]
        st.caption(f"Background-only images do not apply to {kind.short_title}: every example is an image or "
                   f"ROI of a {kind.label_noun}. This project's {len(background)} background-only image(s) "
                   "are left out.")
        if choices.background_ids:
            choices.background_ids = st.multiselect(
                "Background-only images chosen earlier (deselect them)", choices.background_ids,
                default=choices.background_ids, format_func=lambda i: by_id[i].name, key="wiz_background")
    elif background:
        choices.background_ids = st.multiselect(
            "Background-only images to include as negatives", [im.id for im in background],
            default=[i for i in choices.background_ids if i in by_id], format_func=lambda i: by_id[i].name,
            key="wiz_background")
    else:
        choices.background_ids = []
        st.caption("No background-only images in this project (mark them on the Annotate page).")
elif key == "start":
    start_from_step(ctx, choices, kind, label_names, by_id)
elif key == "duration":
    choices.duration = st.radio(
        "Training duration", list(DURATIONS), index=list(DURATIONS).index(choices.duration),
        format_func=lambda d: f"{d.capitalize()} — about {expected_minutes(ctx.settings, d):.0f} min on this machine"
        + (" (a first draft)" if d == "quick" else " (a refinement: better results)"), key="wiz_duration")
    if choices.start:
        st.caption(f"Network: {kind.encoder_choice(choices.encoder)} — the network of the model this training "
                   "starts from (go back to Start from to change it).")
    else:
        choices.encoder = st.selectbox("Network", list(ENCODERS), index=list(ENCODERS).index(choices.encoder),
                                       format_func=kind.encoder_choice, key="wiz_encoder")
elif key == "review":
    choices.name = st.text_input("Training name", value=choices.name or f"{choices.training_type} training",
                                 key="wiz_name", max_chars=200)
    picked_names = ", ".join(label_names.get(i, "?") for i in choices.label_ids)
    n_images = len(choices.selected_ids)
    st.markdown(
        f"- **Project:** {next((p.name for p in projects if p.id == choices.project_id), '?')}\n"
        f"- **Training type:** {choices.training_type}\n"
        f"- **Labels:** {picked_names}\n"
        f"- **Split:** {choices.split_mode}{' · on ROIs only' if choices.roi_only else ''}\n"
        f"- **Images:** {n_images} ({IMAGE_TYPES[choices.image_type]}), of which {len(choices.background_ids)} background-only\n"
        f"- **Duration:** {choices.duration} (about {expected_minutes(ctx.settings, choices.duration):.0f} min)\n"
        f"- **Network:** {kind.network_phrase.format(encoder=choices.encoder)}\n"
        f"- **Start from:** {start_summary(ctx, choices)}"
    )
    review_start(ctx, choices, kind, label_names, by_id)

st.session_state[STATE] = choices.to_dict()
wizard_state.save(step, choices)
problems = [] if key == "intro" else step_problems(ctx.settings, ctx.engine, choices, key)
for problem in problems:
    st.error(problem)
for kind, note in [] if problems else step_notes(ctx.settings, ctx.engine, choices, key):
    (st.warning if kind == "warning" else st.info)(note)

back, _, forward = st.columns([1, 3, 1])
if step > 0 and back.button("Back", key="wiz_back", width="stretch"):
    st.session_state[STEP] = step - 1
    st.rerun()
if key != "review":
    if forward.button("Next", type="primary", disabled=bool(problems), key="wiz_next", width="stretch"):
        st.session_state[STEP] = step + 1
        st.rerun()
elif forward.button("Start training", type="primary", disabled=bool(problems), key="wiz_start", width="stretch"):
    with user_errors():
        training = queue_training(ctx.settings, ctx.engine, choices, account_id=viewer_id())
        did(ctx, "started a training", project_id=choices.project_id, detail=f"#{training.id} {training.name}")
        with session_scope(ctx.engine) as session:
            position = repo.queue_position(session, training.id)  # type: ignore[arg-type]
        st.session_state[STEP] = 0
        st.session_state.pop(STATE, None)
        set_current_project(choices.project_id)
        flash(f"Training {training.name!r} queued (number {position} in the queue); its progress shows here.",
              kind="info")
        st.switch_page("pages/trainings.py", query_params={"training": str(training.id)})
