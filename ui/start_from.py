"""The wizard's "Start from" step: random weights or a trained model (fine-tuning), the mapping of this
training's labels to the model's, and what the start keeps and what is new (shown again at the review)."""

from __future__ import annotations

import streamlit as st

from core.access import keep_visible_models
from core.errors import SegStudioError
from core.model_starts import (
    NO_START,
    default_start,
    describe_start,
    find_start,
    model_labels,
    start_options,
    suggested_label_map,
    train_again_choices,
)
from core.predictions import ModelChoice
from core.training.types import TrainingType
from core.trainings import WizardChoices, start_label_map
from ui import wizard_state
from ui.context import viewer_id
from ui.feedback import user_errors

NEW = 0  # the mapping's choice "learn this label from scratch"


def start_from_step(ctx, choices: WizardChoices, kind: TrainingType, label_names: dict,
                    by_id: dict) -> None:
    """Choose the start and map the labels; writes ``choices.start``, ``label_map`` and ``encoder``."""
    usable = keep_visible_models(ctx.engine, viewer_id(), start_options(ctx.settings, ctx.engine))
    options = {m.key: m for m in usable}
    if not choices.start_offered:  # the first visit: a nuclei training starts from the shipped starter
        choices.start_offered = True
        channels = next((by_id[i].channels for i in choices.selected_ids if i in by_id), 1)
        default = default_start(list(options.values()), kind, list(_selected(choices, label_names).values()),
                                channels)
        if default and not choices.start:
            _choose(choices, options[default], label_names)
    keys = [NO_START, *options]
    if choices.start and choices.start not in options:
        keys.append(choices.start)  # gone meanwhile: kept so that the step's problem says so
    titles = {NO_START: "Nothing: random weights (train from scratch)", **{k: m.title for k, m in options.items()}}
    picked = st.selectbox(
        "Start from", keys, index=keys.index(choices.start) if choices.start in keys else 0,
        format_func=lambda k: titles.get(k, f"{k} (no longer available)"), key="wiz_start_from",
        help="A model trained on similar images (an earlier training of any project, the shipped nuclei starter, "
             "or an imported model package) learns your images faster and from fewer annotations than random "
             "weights: fine-tuning. A nuclei training starts from the nuclei starter unless you choose otherwise.")
    if picked != choices.start:
        _choose(choices, options.get(picked), label_names, picked)
    model = options.get(choices.start)
    if model is None:
        st.caption("The network starts from random weights and learns everything from your annotations.")
        return
    theirs = model_labels(model)
    st.write(f"Map each of this training's {kind.label_noun}s to one of the model's, or let it learn from "
             "scratch. A mapped one starts from what the model learnt for its own.")
    mapping: dict[str, int] = {}
    for lab_id in choices.label_ids:
        current = choices.label_map.get(str(lab_id), NEW)
        opts = [NEW, *theirs]
        value = st.selectbox(
            f"{label_names.get(lab_id, '?')} starts from", opts,
            index=opts.index(current) if current in opts else 0,
            format_func=lambda o: "nothing (new, learnt from scratch)" if o == NEW else f"the model's {theirs[o]!r}",
            key=f"wiz_map_{choices.start}_{lab_id}")
        if value != NEW:
            mapping[str(lab_id)] = int(value)
    choices.label_map = mapping
    _show_plan(model, choices, kind, label_names, by_id)


def _choose(choices: WizardChoices, model: ModelChoice | None, label_names: dict, key: str = "") -> None:
    """Start from ``model`` (None: random weights, or the key of a model gone meanwhile), its labels mapped
    by name and its network chosen."""
    choices.start = model.key if model is not None else key
    choices.label_map = {} if model is None else {
        str(k): v for k, v in suggested_label_map(model, _selected(choices, label_names)).items()}
    if model is not None:
        choices.encoder = str(model.card.get("encoder", choices.encoder))


def train_again_button(ctx, training_id: int, *, where=st, key: str = "train_again_from_model") -> None:
    """"Train again from this model": the wizard at its review, with the training's choices, every image
    annotated now and its model as the start (:func:`core.model_starts.train_again_choices`)."""
    if where.button("Train again from this model", key=key,
                    help="After accepting predictions as annotations and correcting them: opens the wizard with "
                         "this training's choices, every image annotated now and this model as the start "
                         "(fine-tuning)."):
        with user_errors():
            wizard_state.open_at(train_again_choices(ctx.settings, ctx.engine, training_id), "review")
            st.switch_page("pages/wizard.py")


def start_summary(ctx, choices: WizardChoices) -> str:
    """The review's line: "random weights" or the model's title."""
    if not choices.start:
        return "random weights (from scratch)"
    try:
        return find_start(ctx.settings, ctx.engine, choices.start).title
    except SegStudioError as exc:
        return str(exc)


def review_start(ctx, choices: WizardChoices, kind: TrainingType, label_names: dict, by_id: dict) -> None:
    """What the start keeps and what is new, under the review's summary."""
    if not choices.start:
        return
    try:
        model = find_start(ctx.settings, ctx.engine, choices.start)
    except SegStudioError:
        return  # the step's problems say why
    _show_plan(model, choices, kind, label_names, by_id)


def _show_plan(model: ModelChoice, choices: WizardChoices, kind: TrainingType, label_names: dict,
               by_id: dict) -> None:
    if model.card.get("architecture") != kind.architecture:
        return  # refused: the step's problems say why
    channels = next((by_id[i].channels for i in choices.selected_ids if i in by_id),
                    model.card.get("in_channels", 1))
    plan = describe_start(model, kind, in_channels=int(channels), label_map=start_label_map(choices),
                          labels=_selected(choices, label_names))
    st.markdown("**Kept from the model:**\n" + "".join(f"\n- {line}" for line in plan.kept))
    if plan.new:
        st.markdown("**New:**\n" + "".join(f"\n- {line}" for line in plan.new))


def _selected(choices: WizardChoices, label_names: dict) -> dict[int, str]:
    return {i: label_names.get(i, "?") for i in choices.label_ids}
