"""Starting trainings: the wizard's choices, the seed's rules checked at every step, and the queue entry.

Pages and the CLI call these. The rules are checked again when a training is queued, so a crafted request
(or a stale browser tab) cannot start a training that breaks one.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from core.config import Settings
from core.db import repo, session_scope
from core.db.models import ANNOTATED, BACKGROUND, CANCELLED, FAILED, QUEUED, RUNNING, Image, Training
from core.errors import InvalidInputError, JobError, ModelPackageError, NotFoundError, TrainingRuleError
from core.jobs import queue
from core.model_starts import find_start, start_problems
from core.training.config import LabelSpec, StartChoice, TrainConfig
from core.training.encoders import DEFAULT_ENCODER, ENCODERS
from core.training.split import SPLIT_MODES, SplitImage, validation_size_warning
from core.training.types import TRAINING_TYPES, TrainingType, stored_type, training_type

IMAGE_TYPES = {"2d": "2D (grayscale or RGB)", "multichannel": "Multichannel (more than 3 channels)"}


@dataclass
class WizardChoices:
    """Everything the wizard asks, in its order. Back and next keep it; the review shows it."""

    project_id: int | None = None
    training_type: str = "instance"
    label_ids: list[int] = field(default_factory=list)
    split_mode: str = "random"
    roi_only: bool = False
    image_type: str = "2d"
    image_ids: list[int] = field(default_factory=list)  # annotated images in the training (random split)
    background_ids: list[int] = field(default_factory=list)  # background-only images included as negatives
    train_ids: list[int] = field(default_factory=list)  # manual split
    val_ids: list[int] = field(default_factory=list)  # manual split
    duration: str = "quick"
    name: str = ""
    encoder: str = DEFAULT_ENCODER
    seed: int = 0
    start: str = ""  # the catalog key of a model to start from ("training:12"); "": random weights
    # this training's label id (as text) -> the start model's label id; a label left out learns from scratch
    label_map: dict[str, int] = field(default_factory=dict)
    start_offered: bool = False  # the Start from step has offered its default once (a shipped starter)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WizardChoices:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def selected_ids(self) -> list[int]:
        if self.split_mode == "manual":
            return list(dict.fromkeys(self.train_ids + self.val_ids + self.background_ids))
        return list(dict.fromkeys(self.image_ids + self.background_ids))


def channels_of_type(image: Image) -> str:
    return "multichannel" if image.channels > 3 else "2d"


def images_of_type(images: Sequence[Image], image_type: str) -> list[Image]:
    return [im for im in images if channels_of_type(im) == image_type]


def _kind(choices: WizardChoices) -> TrainingType:
    """The chosen type's entry (the default's while the choice is not a known type: the type step says so)."""
    return TRAINING_TYPES.get(choices.training_type) or TRAINING_TYPES[WizardChoices.training_type]


def split_images(engine: Engine, project_id: int, image_ids: Sequence[int],
                 kind: TrainingType | None = None) -> list[SplitImage]:
    """The split's view of the selected images, as the training type ``kind`` sees them (its annotations:
    shapes, or classes; default: the wizard's default type)."""
    entry = kind or TRAINING_TYPES[WizardChoices.training_type]
    with session_scope(engine) as session:
        return entry.split_images(session, project_id, image_ids)



def types_for(image_type: str | None = None) -> str:
    """The training types (all, or those that accept ``image_type``) in words: "semantic segmentation or
    instance segmentation"."""
    names = [kind.short_title for kind in TRAINING_TYPES.values()
             if image_type is None or image_type in kind.image_types]
    return " or ".join(names)

def step_problems(settings: Settings, engine: Engine, choices: WizardChoices, step: str) -> list[str]:
    """The rules of one wizard step (project, type, labels, split, images, start, duration, review)."""
    problems: list[str] = []
    if choices.project_id is None:
        return ["Choose a project."]
    with session_scope(engine) as session:
        repo.get_project(session, choices.project_id)
        labels = {lab.id: lab for lab in repo.list_labels(session, choices.project_id)}
        images = {im.id: im for im in repo.list_images(session, choices.project_id)}
    if step == "project":
        n_annotated = sum(im.status == ANNOTATED for im in images.values())
        if not labels:
            problems.append("This project has no labels; add at least 1 label on the Projects page.")
        if n_annotated < 2:
            problems.append(f"This project has {n_annotated} annotated image(s); annotate at least 2 first.")
        return problems
    if step == "type":
        if choices.training_type not in TRAINING_TYPES:
            problems.append(f"Choose {types_for()} (got {choices.training_type!r}).")
        return problems
    if step == "labels":
        kind = _kind(choices)
        noun = kind.label_noun
        if len(choices.label_ids) < kind.min_labels:
            needed = f"{kind.min_labels} {noun}{'es' if noun.endswith('s') else 's'}" if kind.min_labels > 1 \
                else f"1 {noun}"
            why = f" ({kind.short_title} tells them apart)" if kind.min_labels > 1 else ""
            problems.append(f"Select at least {needed}{why}.")
        unknown = [i for i in choices.label_ids if i not in labels]
        if unknown:
            problems.append("Some selected labels no longer exist; select them again.")
        return problems
    if step == "split":
        if choices.split_mode not in SPLIT_MODES:
            problems.append("Choose a random or a manual split.")
        return problems
    if step == "images":
        if choices.image_type not in IMAGE_TYPES:
            problems.append("Choose 2D or multichannel images.")
        kind = TRAINING_TYPES.get(choices.training_type)
        known = choices.image_type in IMAGE_TYPES and kind is not None
        if known and choices.image_type not in kind.image_types:
            able = types_for(choices.image_type)
            problems.append(f"{choices.image_type.capitalize()} images can be used with {able} only; "
                            f"go back to the training type and choose {able}.")
        chosen = [images[i] for i in choices.selected_ids if i in images]
        wrong_type = [im.name for im in chosen if channels_of_type(im) != choices.image_type]
        if wrong_type:
            problems.append(f"{', '.join(wrong_type[:5])} do not match the image type {IMAGE_TYPES[choices.image_type]}; "
                            "deselect them.")
        channel_counts = sorted({im.channels for im in chosen})
        if len(channel_counts) > 1:
            problems.append(f"The selected images have different channel counts ({channel_counts}); "
                            "a model needs one channel count: select images with the same number of channels.")
        not_background = [images[i].name for i in choices.background_ids if i in images and images[i].status != BACKGROUND]
        if not_background:
            problems.append(f"{', '.join(not_background[:5])} are not marked background-only; "
                            "only background-only images can be added as negatives.")
        entry = _kind(choices)
        split = split_images(engine, choices.project_id, choices.selected_ids, entry)
        names = {i: lab.name for i, lab in labels.items()}
        problems += entry.training_rules(split, choices.label_ids, mode=choices.split_mode,
                                         train_ids=choices.train_ids, val_ids=choices.val_ids,
                                         label_names=names)
        return problems
    if step == "start":
        return _start_problems(settings, engine, choices)
    if step == "duration":
        try:
            settings.duration_seconds(choices.duration)
        except InvalidInputError:
            problems.append(f"Choose quick or extended training (or a number of seconds), not {choices.duration!r}.")
        return problems
    if step == "review":
        if not choices.name.strip():
            problems.append("Give the training a name.")
        if choices.encoder not in ENCODERS:
            problems.append(f"Unknown network {choices.encoder!r}; choose one of {', '.join(ENCODERS)}.")
        for earlier in ("project", "type", "labels", "split", "images", "start", "duration"):
            problems += step_problems(settings, engine, choices, earlier)
        return list(dict.fromkeys(problems))
    raise InvalidInputError(f"unknown wizard step {step!r}")


def start_label_map(choices: WizardChoices) -> dict[int, int]:
    """The chosen label mapping for the selected labels only (this training's id -> the model's id)."""
    return {int(k): int(v) for k, v in choices.label_map.items() if k.isdigit() and int(k) in choices.label_ids}


def _start_problems(settings: Settings, engine: Engine, choices: WizardChoices) -> list[str]:
    if not choices.start:
        return []
    try:
        model = find_start(settings, engine, choices.start)
    except (NotFoundError, ModelPackageError) as exc:
        return [str(exc)]
    return start_problems(model, _kind(choices), encoder=choices.encoder, label_map=start_label_map(choices),
                          label_ids=choices.label_ids)


def mixed_depths_note(dtypes: Sequence[str]) -> str | None:
    """What is done with images of several bit depths (None for one): each is scaled by its own percentiles."""
    kinds = sorted(set(dtypes))
    if len(kinds) < 2:
        return None
    return (f"The selected images have different bit depths ({', '.join(kinds)}). That is fine: each image is "
            "scaled to 0..1 by its own percentiles before the network, so they train together; the report's "
            "methods say so.")


def step_notes(settings: Settings, engine: Engine, choices: WizardChoices, step: str) -> list[tuple[str, str]]:
    """What the user should know at a wizard step that does not stop the training (images and review
    steps), as ``(kind, sentence)`` with kind "info" or "warning": images of several bit depths (info), and
    a validation set too small to trust (warning; of the split the training will use: :func:`make_split`
    is seeded)."""
    if step not in ("images", "review") or choices.project_id is None:
        return []
    if step_problems(settings, engine, choices, "images"):
        return []
    kind = _kind(choices)
    with session_scope(engine) as session:
        images = {im.id: im for im in repo.list_images(session, choices.project_id)}
        summary = kind.annotation_counts(session, choices.project_id)
    depths = mixed_depths_note([images[i].dtype for i in choices.selected_ids if i in images])
    selected = split_images(engine, choices.project_id, choices.selected_ids, kind)
    split = kind.split(selected, choices.label_ids, mode=choices.split_mode, seed=choices.seed,
                       train_ids=choices.train_ids, val_ids=choices.val_ids)
    small = _validation_note(split.val, summary, choices.label_ids, images, kind.count_noun)
    return [(level, text) for level, text in (("info", depths), ("warning", small)) if text]


def _validation_note(val_ids: Sequence[int], summary: dict[int, dict[int, int]], label_ids: Sequence[int],
                     images: dict[int, Image], unit: str) -> str | None:
    annotated = [i for i in val_ids if i in images and (images[i].status == ANNOTATED or summary.get(i))]
    objects = sum(n for i in annotated for lab, n in summary.get(i, {}).items() if lab in label_ids)
    return validation_size_warning(len(annotated), objects, unit=unit)


def training_validation_warning(settings: Settings, engine: Engine, training: Training) -> str | None:
    """:func:`validation_size_warning` for a queued or finished training: its validation images and their
    objects as recorded when it started (``dataset.json``), else as the project holds them now."""
    recorded = settings.training_dir(training.id) / "dataset.json"  # type: ignore[arg-type]
    kind = stored_type(training.config) or TRAINING_TYPES[WizardChoices.training_type]
    if recorded.exists():
        try:
            val = json.loads(recorded.read_text(encoding="utf-8")).get("validation", [])
        except (OSError, ValueError):
            val = None
        if isinstance(val, list):
            annotated = [r for r in val if any((r.get("objects") or {}).values())]
            return validation_size_warning(len(annotated), sum(sum((r.get("objects") or {}).values())
                                                               for r in annotated), unit=kind.count_noun)
    label_ids = [lab["id"] for lab in (training.config.get("train_config") or {}).get("labels", [])]
    with session_scope(engine) as session:
        images = {im.id: im for im in repo.list_images(session, training.project_id)}
        summary = kind.annotation_counts(session, training.project_id)
    val_ids = (training.split or {}).get("val", [])
    return _validation_note(val_ids, summary, label_ids, images, kind.count_noun)


def queue_training(settings: Settings, engine: Engine, choices: WizardChoices, *,
                   repeat: dict[str, Any] | None = None, account_id: int | None = None) -> Training:
    """Check every rule again, split, and queue the training. Raises TrainingRuleError with all reasons.

    ``repeat`` (see :func:`rerun_training`) makes the run step-bound: ``max_steps``, ``steps_per_epoch``,
    ``batch_size`` and ``learning_rate`` of the training it repeats, recorded in its configuration.
    ``account_id``: who started it (lab accounts): its notifications go to them."""
    problems = step_problems(settings, engine, choices, "review")
    if problems:
        raise TrainingRuleError("Training cannot start: " + " ".join(problems))
    with session_scope(engine) as session:
        labels = {lab.id: lab for lab in repo.list_labels(session, choices.project_id)}  # type: ignore[arg-type]
    kind = training_type(choices.training_type)
    images = split_images(engine, choices.project_id, choices.selected_ids, kind)  # type: ignore[arg-type]
    split = kind.split(images, choices.label_ids, mode=choices.split_mode, seed=choices.seed,
                       train_ids=choices.train_ids + [i for i in choices.background_ids if choices.split_mode == "manual"],
                       val_ids=choices.val_ids)
    train_config = TrainConfig(
        training_type=choices.training_type,
        labels=tuple(LabelSpec(id=i, name=labels[i].name, color=labels[i].color) for i in choices.label_ids),
        encoder=choices.encoder, seed=choices.seed, roi_only=choices.roi_only, duration=choices.duration,
        start=StartChoice(choices.start, tuple(start_label_map(choices).items())) if choices.start else None,
        **training_type(choices.training_type).config_defaults,
        **{k: v for k, v in (repeat or {}).items() if k in _REPEAT_KEYS},
    )
    training = Training(
        project_id=choices.project_id,  # type: ignore[arg-type]
        name=" ".join(choices.name.split())[:200],
        config={"train_config": train_config.to_dict(), "wizard": choices.to_dict(),
                "budget_seconds": settings.duration_seconds(choices.duration),
                **({"repeat": repeat} if repeat else {})},
        split=split.to_dict(),
        status=QUEUED,
        message="waiting in the queue",
        account_id=account_id,
    )
    with session_scope(engine) as session:
        return repo.add_training(session, training)


def expected_minutes(settings: Settings, duration: str) -> float:
    return settings.duration_seconds(duration) / 60.0


#: what a repeat with "the same number of steps" fixes (the rest comes from the wizard's choices)
_REPEAT_KEYS = ("max_steps", "steps_per_epoch", "batch_size", "learning_rate")
_RUN_SUFFIX = re.compile(r"\s*\((?:run \d+|again)\)$")


def run_name(base: str, taken: Sequence[str]) -> str:
    """``base`` without a " (run N)" suffix, numbered with the first free N from 2 ("Nuclei (run 2)") so that
    it differs from every name in ``taken`` (the project's trainings)."""
    stem = _RUN_SUFFIX.sub("", " ".join(base.split())).strip() or "Training"
    used = set(taken)
    n = 2
    while f"{stem} (run {n})" in used:
        n += 1
    return f"{stem} (run {n})"[:200]


def repeat_settings(settings: Settings, training: Training) -> dict[str, Any]:
    """What an exact repeat of ``training`` fixes: its steps (and epochs of steps), batch size and learning
    rate, read from its model card, and its seed. Raises InvalidInputError when it has no model to read them
    from (a failed or cancelled training: run it again with the time budget, or resume it)."""
    card_info: dict[str, Any] = {}
    if training.model_dir:
        kind = stored_type(training.config) or TRAINING_TYPES[WizardChoices.training_type]
        card = kind.package_card(settings.data_dir / training.model_dir)  # as its type writes packages
        card_info = dict(card.get("training") or {})
    steps, epochs = card_info.get("steps"), card_info.get("epochs")
    if steps == 0:
        raise InvalidInputError(
            f"Training {training.name!r} ended before its first training step (its time went to preparing), "
            "so there is no step count to repeat; use Run again with the time budget, or a longer duration.")
    if not isinstance(steps, int) or steps < 1 or not isinstance(epochs, int) or epochs < 1:
        raise InvalidInputError(
            f"Training {training.name!r} has no finished model recording its steps, so it cannot be repeated "
            "step for step; use Run again with the time budget instead.")
    return {"of": training.id, "max_steps": steps, "steps_per_epoch": -(-steps // epochs),
            "batch_size": int(card_info["batch_size"]), "learning_rate": float(card_info["learning_rate"]),
            "seed": int((training.config.get("train_config") or {}).get(
                "seed", (training.config.get("wizard") or {}).get("seed", 0)))}


def rerun_training(settings: Settings, engine: Engine, training_id: int, *, same_steps: bool = False,
                   account_id: int | None = None) -> Training:
    """Queue a new training with the same wizard choices (checked again against today's annotations), named
    "<name> (run N)", unique in the project. ``same_steps``: train exactly as many steps as the original did,
    with its seed, batch size and learning rate (a time-bound run does as many steps as fit its time; on the
    CPU two step-bound runs with the same seed give the same weights)."""
    with session_scope(engine) as session:
        old = repo.get_training(session, training_id)
        taken = [t.name for t in repo.list_trainings(session, old.project_id)]
    wizard = old.config.get("wizard")
    if not wizard:
        raise InvalidInputError(f"Training {old.name!r} has no wizard configuration to run again.")
    choices = WizardChoices.from_dict(wizard)
    repeat = repeat_settings(settings, old) if same_steps else None
    if repeat:
        choices.seed = repeat["seed"]
    choices.name = run_name(old.name, taken)
    return queue_training(settings, engine, choices, repeat=repeat, account_id=account_id)


#: the statuses a training can be resumed from (when its last checkpoint exists)
RESUMABLE = (FAILED, CANCELLED)


def checkpoint_exists(settings: Settings, training_id: int) -> bool:
    from core.training.checkpoint import LAST

    return (settings.training_dir(training_id) / LAST).exists()


def can_resume(settings: Settings, training: Training) -> bool:
    """A failed or cancelled training whose last checkpoint is kept can continue from it."""
    return (training.status in RESUMABLE and bool(training.config.get("train_config"))
            and checkpoint_exists(settings, training.id))  # type: ignore[arg-type]


def resume_training(settings: Settings, engine: Engine, training_id: int) -> Training:
    """Queue a failed or cancelled training again to continue from its last checkpoint (``last.pt``), with the
    training time it had left. Raises JobError when it cannot be resumed, saying why and what to do instead."""
    with session_scope(engine) as session:
        training = repo.get_training(session, training_id)
    name = f"Training {training.name!r} (#{training_id})"
    if training.status not in RESUMABLE:
        what = {QUEUED: "is already in the queue", RUNNING: "is running"}.get(
            training.status, "finished successfully; use Run again to train once more")
        raise JobError(f"{name} {what}: only a failed or cancelled training can be resumed.")
    if not training.config.get("train_config"):
        raise JobError(f"{name} has no training configuration to resume; use Run again.")
    if not checkpoint_exists(settings, training_id):
        raise JobError(f"{name} has no checkpoint to resume from (it stopped before its first epoch ended, or "
                       f"its folder {settings.training_dir(training_id)} was cleared); use Run again.")
    if not queue.requeue_to_resume(engine, training_id, RESUMABLE, "waiting in the queue (resumes from the last "
                                   "checkpoint)"):
        raise JobError(f"{name} changed meanwhile (it is no longer failed or cancelled); look at it again.")
    with session_scope(engine) as session:
        return repo.get_training(session, training_id)


def owner_gone(training: Training) -> bool:
    """A running training whose process on this host has ended without recording an outcome."""
    return training.status == RUNNING and queue.owner_alive(training.worker_id, training.started_at) is False


def delete_training(settings: Settings, engine: Engine, training_id: int) -> None:
    """Delete a finished training, its metrics, model and report (a queued or running one is cancelled first;
    one left running by a process that has ended is cancelled here)."""
    with session_scope(engine) as session:
        training = repo.get_training(session, training_id)
    if owner_gone(training):
        queue.request_cancel(engine, "training", training_id)
    with session_scope(engine) as session:
        training = repo.get_training(session, training_id)
        if training.status in ("queued", "running"):
            raise InvalidInputError(f"Training {training.name!r} is {training.status}; cancel it before deleting it.")
        session.delete(training)
        session.commit()
    shutil.rmtree(settings.training_dir(training_id), ignore_errors=True)
