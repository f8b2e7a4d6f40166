"""Applying trained models: which models exist, queueing a prediction run, accepting predictions as annotations.

A model comes from one of the :data:`MODEL_SOURCES`: a succeeded training's package (``trainings/<id>/model``),
a model shipped with segstudio (:mod:`core.starters`) or an imported package (``models/<folder>``). Pages and
the CLI call these; the work itself runs in the worker (:mod:`core.inference.job`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from core.config import Settings
from core.db import repo, session_scope
from core.db.models import QUEUED, SUCCEEDED, Prediction
from core.errors import InvalidInputError, ModelPackageError, NotFoundError
from core.training.config import check_views
from core.training.package import CARD, read_card, weights_file

MODELS_DIR = "models"
#: the card field holding an imported model's name as renamed on the Models page (the folder keeps its name)
DISPLAY_NAME = "display_name"


@dataclass(frozen=True)
class ModelChoice:
    """A model the user can apply: where its package is and what it does."""

    key: str  # "<source>:<id>": "training:<id>", "shipped:<starter>" or "imported:<folder>"
    title: str
    package_dir: Path
    training_id: int | None
    card: dict

    @property
    def source(self) -> str:
        """The :data:`MODEL_SOURCES` entry it comes from."""
        return self.key.split(":", 1)[0]


@dataclass(frozen=True)
class BrokenModel:
    """A model package that cannot be used (its card fails validation, or its weights are missing)."""

    key: str
    title: str
    package_dir: Path
    reason: str

    @property
    def training_id(self) -> int | None:
        """The training that made it (its key ``training:<id>``), None for other sources."""
        source, _, ident = self.key.partition(":")
        return int(ident) if source == "training" and ident.isdigit() else None


@dataclass(frozen=True)
class ModelCatalog:
    """Every model found: those that can be applied, and the broken ones with the reason."""

    models: list[ModelChoice]
    broken: list[BrokenModel]


def describe(card: dict) -> str:
    labels = ", ".join(lab["name"] for lab in card.get("labels", []))
    return f"{card.get('training_type', '?')} · {labels} · {card.get('in_channels', '?')} channel(s)"


#: one model found by a source: (catalog key, name, package folder, training id or None)
Found = tuple[str, str, Path, int | None]


def _trained(settings: Settings, engine: Engine) -> Iterator[Found]:
    """Succeeded trainings of every project, newest first."""
    with session_scope(engine) as session:
        projects = {p.id: p.name for p in repo.list_projects(session)}
        trainings = repo.list_trainings(session, status=SUCCEEDED)
    for t in trainings:
        package = settings.data_dir / t.model_dir if t.model_dir else None
        if package is not None and (package / CARD).exists():
            yield f"training:{t.id}", f"{t.name} ({projects.get(t.project_id, '?')})", package, t.id


def _shipped(settings: Settings, engine: Engine) -> Iterator[Found]:
    """The models shipped with segstudio (:mod:`core.starters`) whose package is present."""
    from core.starters import STARTERS

    if not settings.shipped_models:
        return
    for entry in STARTERS.values():
        if (entry.folder / CARD).exists():
            yield entry.catalog_key, f"{entry.name} (shipped with segstudio)", entry.folder, None


def _imported(settings: Settings, engine: Engine) -> Iterator[Found]:
    """Imported packages, by folder name."""
    imported = settings.data_dir / MODELS_DIR
    if imported.is_dir():
        for folder in sorted(p for p in imported.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if (folder / CARD).exists():
                yield f"imported:{folder.name}", f"{folder.name} (imported)", folder, None


#: where models come from, in the order the catalog lists them (a new source is a new entry)
MODEL_SOURCES: dict[str, Callable[[Settings, Engine], Iterator[Found]]] = {
    "training": _trained, "shipped": _shipped, "imported": _imported,
}


def model_catalog(settings: Settings, engine: Engine) -> ModelCatalog:
    """Every source's models (:data:`MODEL_SOURCES`: trainings newest first, shipped models, imported
    packages); each package's card is validated (:func:`core.training.package.read_card`), so one broken
    package is listed as broken and the others stay usable."""
    models: list[ModelChoice] = []
    broken: list[BrokenModel] = []
    for source in MODEL_SOURCES.values():
        for key, name, package, training_id in source(settings, engine):
            try:
                card = read_card(package)
                weights = package / weights_file(card)
                if not weights.is_file():
                    raise ModelPackageError(f"{weights} is missing; the package is incomplete")
            except ModelPackageError as exc:
                broken.append(BrokenModel(key, name, package, str(exc)))
                continue
            if key.startswith("imported:") and isinstance(card.get(DISPLAY_NAME), str) and card[DISPLAY_NAME].strip():
                name = f"{card[DISPLAY_NAME]} (imported)"
            models.append(ModelChoice(key, f"{name} — {describe(card)}", package, training_id, card))
    return ModelCatalog(models, broken)


def stored_model_dir(settings: Settings, package: Path) -> str:
    """How a prediction run records its model's folder: relative to the data folder (a training's or an
    imported model), or absolute (a shipped model, which lives with the program)."""
    package = Path(package)
    return package.relative_to(settings.data_dir).as_posix() if package.is_relative_to(settings.data_dir) \
        else package.as_posix()


def available_models(settings: Settings, engine: Engine) -> list[ModelChoice]:
    """The models that can be applied (see :func:`model_catalog` for the broken ones)."""
    return model_catalog(settings, engine).models


def find_model(settings: Settings, engine: Engine, ref: str) -> ModelChoice:
    """A model by key, by training id or name, or by imported folder name; a broken one raises
    :class:`ModelPackageError` with the reason."""
    catalog = model_catalog(settings, engine)
    for model in catalog.models:
        if ref in (model.key, str(model.training_id), model.package_dir.name) or model.title.startswith(f"{ref} ("):
            return model
    for bad in catalog.broken:
        names = (bad.key, bad.key.split(":", 1)[1], bad.package_dir.name)
        if ref in names or bad.title.startswith(f"{ref} ("):
            raise ModelPackageError(f"The model {bad.title} cannot be used: {bad.reason}")
    known = "; ".join(m.title for m in catalog.models) or "none yet (train one, or import a model package)"
    unusable = "".join(f" Broken: {b.title}." for b in catalog.broken)
    raise NotFoundError(f"No trained model {ref!r}. Known models: {known}.{unusable}")


def queue_prediction(settings: Settings, engine: Engine, model: ModelChoice, *, image_ids: list[int] = (),
                     uploads: list[tuple[str, Path]] = (), views: int | None = None,
                     account_id: int | None = None) -> Prediction:
    """Queue a prediction run over project images and/or uploaded files (already staged on disk);
    ``account_id``: who asked for it (with lab accounts).

    ``views``: flipped/rotated views averaged per tile (:mod:`core.training.views`); None for the model
    card's.
    """
    items = [{"image_id": int(i)} for i in image_ids] + [{"name": name, "path": str(path)} for name, path in uploads]
    if not items:
        raise InvalidInputError("Choose at least one image to apply the model to.")
    if views is not None:
        check_views(views)
    prediction = Prediction(
        training_id=model.training_id,
        model_dir=stored_model_dir(settings, model.package_dir),
        config={"items": items, "model_title": model.title, "views": views},
        status=QUEUED, message="waiting in the queue", account_id=account_id,
    )
    with session_scope(engine) as session:
        return repo.add_prediction(session, prediction)


def accept_as_annotations(settings: Settings, engine: Engine, prediction_id: int, item_index: int,
                          label_map: dict[str, int]) -> int:
    """Turn one predicted project image into annotations (source "prediction"), to correct and train again:
    its objects as polygons, or its boxes as rectangles (:func:`core.inference.accept.result_shapes`).

    ``label_map`` maps the model's label names to label ids of the image's project. Returns shapes added.
    """
    from core.inference.accept import result_shapes

    with session_scope(engine) as session:
        prediction = repo.get_prediction(session, prediction_id)
    results = prediction.results.get("images", [])
    if not 0 <= item_index < len(results):
        raise NotFoundError(f"Prediction run {prediction_id} has no image number {item_index + 1}.")
    item = results[item_index]
    if item.get("image_id") is None:
        raise InvalidInputError("Only predictions on project images can become annotations; import the image first.")
    shapes = result_shapes(settings.data_dir, item, label_map)
    with session_scope(engine) as session:
        repo.add_shapes(session, item["image_id"], [s.to_record() for s in shapes])
    return len(shapes)
