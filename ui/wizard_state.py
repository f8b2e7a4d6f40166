"""The wizard's step and choices in the page's address, so that a reload (or a bookmark) lands where it was.

The address holds ``?step=<1..8>&choices=<JSON of the choices that differ from the defaults>``. An address
edited by hand or cut short is never trusted: what cannot be read is dropped, with a word to the user.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import streamlit as st

from core.trainings import WizardChoices

STEP_PARAM, CHOICES_PARAM = "step", "choices"
#: the wizard's steps: (key, title)
STEPS = [
    ("intro", "Introduction"), ("project", "Project"), ("type", "Training type"), ("labels", "Labels"),
    ("split", "Dataset split"), ("images", "Images"), ("start", "Start from"), ("duration", "Duration"),
    ("review", "Review and start"),
]
#: the session's keys of the wizard's choices and step
STATE, STEP = "wizard_choices", "wizard_step"
_DEFAULTS = WizardChoices().to_dict()


def _valid(name: str, value: Any) -> bool:
    """Whether ``value`` has the type of the choice ``name`` (ids are ints; text is str)."""
    default = _DEFAULTS[name]
    if name == "project_id":
        return value is None or (isinstance(value, int) and not isinstance(value, bool))
    if isinstance(default, dict):
        return isinstance(value, dict) and all(
            isinstance(k, str) and k.isdigit() and isinstance(v, int) and not isinstance(v, bool)
            for k, v in value.items())
    if isinstance(default, list):
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def load(n_steps: int) -> tuple[int, WizardChoices] | None:
    """The step (0-based) and choices kept in the address, or None when it keeps none (or none readable)."""
    raw_step, raw_choices = st.query_params.get(STEP_PARAM), st.query_params.get(CHOICES_PARAM)
    if raw_step is None and raw_choices is None:
        return None
    try:
        step = int(raw_step or "1") - 1
        data = json.loads(raw_choices or "{}")
    except ValueError:
        st.warning("The wizard's place in the address could not be read; it starts again at step 1.")
        return None
    if not isinstance(data, dict):
        data = {}
    names = {f.name for f in fields(WizardChoices)}
    kept = {k: v for k, v in data.items() if k in names and _valid(k, v)}
    if len(kept) < len(data):
        st.warning("Some of the wizard's choices in the address could not be read; check them again.")
    return min(max(step, 0), n_steps - 1), WizardChoices.from_dict(kept)


def open_at(choices: WizardChoices, step_key: str) -> None:
    """Open the wizard (on its next page load) at step ``step_key`` with ``choices``; the caller switches
    to the wizard's page."""
    st.session_state[STATE] = choices.to_dict()
    st.session_state[STEP] = [key for key, _ in STEPS].index(step_key)


def save(step: int, choices: WizardChoices) -> None:
    """Write the step (shown 1-based) and the choices that differ from the defaults into the address."""
    changed = {k: v for k, v in choices.to_dict().items() if v != _DEFAULTS[k]}
    st.query_params[STEP_PARAM] = str(step + 1)
    st.query_params[CHOICES_PARAM] = json.dumps(changed, separators=(",", ":"))
