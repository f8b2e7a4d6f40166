"""Starting a training from a trained model: the wizard's "Start from" step, the job's loading of the chosen
model, and "Train again from this model".

A training can start from any model of the catalog (:func:`core.predictions.model_catalog`: the succeeded
trainings of every project and the imported packages) whose network is of the training type's kind; its
weights go into the new network as :mod:`core.training.transfer` says. Pages and the CLI call these; the
rules are checked again when the job loads the model (it may have been deleted or renamed meanwhile).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from core.config import Settings
from core.db import repo, session_scope
from core.errors import InvalidInputError, ModelPackageError, NotFoundError
from core.predictions import ModelChoice, model_catalog
from core.training.types import TrainingType, training_type

if TYPE_CHECKING:
    from core.training.config import TrainConfig
    from core.training.transfer import StartModel, Transfer
    from core.trainings import WizardChoices

#: the wizard's choice for random weights
NO_START = ""


def start_options(settings: Settings, engine: Engine) -> list[ModelChoice]:
    """Every usable model (newest trainings first, then imported ones): the "Start from" choices."""
    return model_catalog(settings, engine).models


def default_start(options: Sequence[ModelChoice], kind: TrainingType, label_names: Sequence[str],
                  channels: int) -> str:
    """The catalog key of the shipped starter that suits this training (its type, a label naming what the
    starter learnt, the starter's channel count), or :data:`NO_START`: a nuclei training starts from the
    nuclei starter unless the user chooses otherwise."""
    from core.starters import STARTERS

    keys = {m.key: m for m in options}
    for entry in STARTERS.values():
        model = keys.get(entry.catalog_key)
        if model is not None and entry.suits(kind.name, label_names) \
                and int(model.card.get("in_channels", 0)) == int(channels):
            return entry.catalog_key
    return NO_START


def model_project(engine: Engine, model: ModelChoice) -> int | None:
    """The project a trained model's training belongs to (None for an imported model)."""
    if model.training_id is None:
        return None
    with session_scope(engine) as session:
        return repo.get_training(session, model.training_id).project_id


def find_start(settings: Settings, engine: Engine, key: str) -> ModelChoice:
    """The model ``key`` of the catalog; a deleted or broken one raises with the reason and what to do."""
    catalog = model_catalog(settings, engine)
    for model in catalog.models:
        if model.key == key:
            return model
    for bad in catalog.broken:
        if bad.key == key:
            raise ModelPackageError(f"The model {bad.title} cannot be started from: {bad.reason}")
    raise NotFoundError(f"The model {key!r} to start from is gone (deleted, or its training removed); choose "
                        "another model in the wizard's Start from step, or start from random weights.")


def start_problems(model: ModelChoice, kind: TrainingType, *, encoder: str | None,
                   label_map: Mapping[int, int], label_ids: Sequence[int]) -> list[str]:
    """Why ``model`` cannot start a training of ``kind`` with this mapping (none: it can)."""
    from core.training.transfer import check_label_map, check_start

    try:
        check_start(model.card, architecture=kind.architecture, task=kind.short_title, encoder=encoder,
                    name=_name(model))
        check_label_map(model.card, label_map, label_ids, _name(model))
    except InvalidInputError as exc:
        return [str(exc)]
    return []


def describe_start(model: ModelChoice, kind: TrainingType, *, in_channels: int, label_map: Mapping[int, int],
                   labels: Mapping[int, str], distance: bool = True) -> Transfer:
    """What the start keeps and what is new, in sentences (the review step), from the cards alone."""
    from core.training.transfer import plan_transfer

    layout = kind.output_layout([{"id": i, "name": n} for i, n in labels.items()],
                                distance=kind.distance(distance))
    return plan_transfer(model.card, layout=layout, in_channels=in_channels, label_map=label_map,
                         labels=labels, training_type=kind.name)


def suggested_label_map(model: ModelChoice, labels: Mapping[int, str]) -> dict[int, int]:
    """Labels of the same name map to each other (one label on each side: whatever their names)."""
    from core.training.transfer import default_label_map

    return default_label_map(model.card, labels)


def model_labels(model: ModelChoice) -> dict[int, str]:
    """The model's labels by id."""
    return {int(lab["id"]): str(lab["name"]) for lab in model.card.get("labels", [])}


def load_for_training(settings: Settings, engine: Engine, config: TrainConfig) -> StartModel | None:
    """The job's starting model (None for random weights), checked again against the training's type,
    encoder and labels: a model deleted or broken since the wizard raises with what to do."""
    from core.training.transfer import load_start

    if config.start is None:
        return None
    model = find_start(settings, engine, config.start.key)
    kind = training_type(config.training_type)
    problems = start_problems(model, kind, encoder=config.encoder, label_map=config.start.mapping,
                              label_ids=[lab.id for lab in config.labels])
    if problems:
        raise InvalidInputError(" ".join(problems))
    return load_start(model.package_dir, key=model.key, name=_name(model), label_map=config.start.mapping)


def train_again_choices(settings: Settings, engine: Engine, training_id: int) -> WizardChoices:
    """The wizard's choices for "Train again from this model": the training's own choices, its model as
    the start (each label mapped to itself), a fresh name, and the images chosen anew (every image
    annotated now, corrections and accepted predictions included). Raises when the training has no model."""
    from core.trainings import WizardChoices, images_of_type, run_name, split_images

    with session_scope(engine) as session:
        old = repo.get_training(session, training_id)
        taken = [t.name for t in repo.list_trainings(session, old.project_id)]
        images = repo.list_images(session, old.project_id)
    wizard = old.config.get("wizard")
    if not wizard or not old.model_dir:
        raise InvalidInputError(f"Training {old.name!r} has no finished model to train again from; only a "
                                "succeeded training's model can be the start.")
    find_start(settings, engine, f"training:{training_id}")  # still usable
    choices = WizardChoices.from_dict(wizard)
    choices.name = run_name(old.name, taken)
    choices.start = f"training:{training_id}"
    choices.label_map = {str(i): i for i in choices.label_ids}
    kind = training_type(choices.training_type)
    of_type = [im.id for im in images_of_type(images, choices.image_type)]
    annotated = [im.id for im in split_images(engine, old.project_id, of_type, kind) if im.annotated]
    if choices.split_mode == "random":
        choices.image_ids = annotated  # every image annotated now, corrections included
    else:  # the validation images stay; every other annotated image trains
        choices.val_ids = [i for i in choices.val_ids if i in annotated]
        choices.train_ids = [i for i in annotated if i not in choices.val_ids]
    return choices


def _name(model: ModelChoice) -> str:
    return model.title.split(" — ", 1)[0]
