"""Every model in one list, and what can be done to one: rename, delete, export.

A model is a succeeded training's package, a model shipped with segstudio (:mod:`core.starters`) or an
imported package (:func:`core.predictions.model_catalog`, broken packages included). The rules:

* **Rename** changes the name Apply and ``segstudio predict`` show and find. A trained model's name is its
  training's name (the Trainings page shows it too); an imported model's name is written into its model card
  (field ``display_name``, so an export carries it); its folder keeps its name, so old prediction runs and
  scripts that name the folder keep working. A name another model has, or a name of digits only (read as a
  training number), is refused.
* A shipped model is part of the program: it is neither renamed nor deleted (export it and import the copy
  to keep it under another name).
* **Delete** removes the model package only. A trained model's training stays, with its curves, metrics and
  report (the report ZIP holds a copy of the model: import it on the Apply page to bring the model back;
  delete the training on the Trainings page to remove everything). An imported model's folder goes. A model
  that a queued or running prediction run uses is not deleted.
* **Export** writes the package as a ZIP holding ``model/``
  (:func:`core.inference.package_io.export_model_package`), or, for segmentation models, as a bioimage.io
  package that other tools (ilastik, deepImageJ, QuPath, napari) run (:func:`export_bioimageio_zip`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from core.config import Settings
from core.db import repo, session_scope
from core.db.models import SUCCEEDED
from core.errors import InvalidInputError, JobError, ModelPackageError, NotFoundError, StorageError
from core.imaging.atomic import atomic_output
from core.predictions import DISPLAY_NAME, MODELS_DIR, model_catalog
from core.reports.formatting import format_datetime
from core.training.package import CARD, read_card
from core.training.types import TRAINING_TYPES

MISSING = "—"
IMPORTED = "imported"
SHIPPED_WITH = "shipped with segstudio"


@dataclass(frozen=True)
class ModelEntry:
    """One row of the Models page (and of ``segstudio model list``)."""

    key: str  # "training:<id>", "shipped:<starter>" or "imported:<folder>"
    name: str
    project: str
    training_type: str
    labels: tuple[str, ...]
    score: str  # the headline score ("F1@0.5 0.877", "IoU 0.812"), or "—"
    size_bytes: int
    created: str  # "YYYY-MM-DD HH:MM UTC"
    package_dir: Path
    training_id: int | None
    broken: str | None = None  # why the package cannot be used

    @property
    def imported(self) -> bool:
        return self.key.startswith("imported:")

    @property
    def shipped(self) -> bool:
        return self.key.startswith("shipped:")


def list_models(settings: Settings, engine: Engine) -> list[ModelEntry]:
    """Trained models (newest first), then imported ones; broken packages last, with their reason."""
    catalog = model_catalog(settings, engine)
    with session_scope(engine) as session:
        projects = {p.id: p.name for p in repo.list_projects(session)}
        trainings = {t.id: t for t in repo.list_trainings(session, status=SUCCEEDED)}
    entries = []
    for model in catalog.models:
        card = model.card
        labels = tuple(str(lab.get("name")) for lab in card.get("labels", []))
        kind = str(card.get("training_type", MISSING))
        if model.training_id is not None and model.training_id in trainings:
            t = trainings[model.training_id]
            overall = (t.metrics or {}).get("overall") or {}
            entries.append(ModelEntry(
                model.key, t.name, projects.get(t.project_id, MISSING), kind, labels,
                headline_score(kind, overall), _size(model.package_dir),
                format_datetime(t.finished_at or card.get("created_at")), model.package_dir, t.id))
        else:
            recorded = card.get("metrics") or {}  # the final metrics (mean_f1, mean_iou, map_50, accuracy)
            shipped = model.source == "shipped"
            entries.append(ModelEntry(
                model.key, _shipped_name(model.key) if shipped else _imported_name(card, model.package_dir),
                SHIPPED_WITH if shipped else IMPORTED, kind, labels,
                headline_score(kind, {**recorded, "f1": recorded.get("mean_f1"),
                                      "iou": recorded.get("mean_iou")}),
                _size(model.package_dir), format_datetime(card.get("created_at")), model.package_dir, None))
    for bad in catalog.broken:
        training_id = int(bad.key.split(":", 1)[1]) if bad.key.startswith("training:") else None
        t = trainings.get(training_id) if training_id is not None else None
        entries.append(ModelEntry(
            bad.key, t.name if t is not None else bad.package_dir.name,
            projects.get(t.project_id, MISSING) if t is not None else IMPORTED, MISSING, (), MISSING,
            _size(bad.package_dir), format_datetime(t.finished_at) if t is not None else MISSING,
            bad.package_dir, training_id, bad.reason))
    return entries


def headline_score(training_type: str, overall: dict) -> str:
    """The score the type is listed with (its entry's ``headline``: instance F1@0.5, semantic IoU, detection
    mAP@0.5), formatted; the IoU for a type this version does not know."""
    key, name = TRAINING_TYPES[training_type].headline if training_type in TRAINING_TYPES else ("iou", "IoU")
    value = overall.get(key)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f"{name} {value:.3f}" if number and value == value and abs(value) < 2 else MISSING


def find_entry(entries: list[ModelEntry], ref: str) -> ModelEntry:
    """A model by key ("training:3"), training id, imported folder name or name (as the CLI is given it)."""
    ref = str(ref).strip()
    for entry in entries:
        if ref in (entry.key, entry.key.split(":", 1)[1], entry.name):
            return entry
    known = "; ".join(f"{e.key.split(':', 1)[1]} ({e.name})" for e in entries) or "none yet"
    raise NotFoundError(f"No model {ref!r}. Known models: {known}.")


def rename_model(settings: Settings, engine: Engine, key: str, new_name: str) -> str:
    """Give the model ``key`` a new name (see the module's rules); returns the name as stored."""
    name = repo.clean_name(new_name, what="model", max_length=200)
    if name.isdigit():
        raise InvalidInputError(f"The model name {name!r} is only digits; Apply and `segstudio predict` "
                                "would take it for a training number. Add a word.")
    entries = list_models(settings, engine)
    entry = _entry(entries, key)
    _refuse_shipped(entry, "renamed")
    if entry.broken is not None:
        raise ModelPackageError(f"The model {entry.name!r} is broken ({entry.broken}); it cannot be renamed. "
                                "Delete it, or import a working copy.")
    for other in entries:
        if other.key != key and name.lower() in (other.name.lower(), other.package_dir.name.lower()):
            raise InvalidInputError(f"Another model is already called {name!r}; choose another name "
                                    "(Apply and `segstudio predict` find models by name).")
    if entry.training_id is not None:
        with session_scope(engine) as session:
            repo.update_training(session, entry.training_id, name=name)
        return name
    card = read_card(entry.package_dir)
    card[DISPLAY_NAME] = name
    fix = f"Free disk space in {entry.package_dir.parent}, then rename the model again"
    with atomic_output(entry.package_dir / CARD, full_fix=fix, retry="rename the model again") as tmp:
        tmp.write_text(json.dumps(card, indent=2), encoding="utf-8")
    return name


def delete_model(settings: Settings, engine: Engine, key: str) -> ModelEntry:
    """Delete the package of the model ``key`` (see the module's rules); returns the entry deleted."""
    entry = _entry(list_models(settings, engine), key)
    _refuse_shipped(entry, "deleted")
    package = entry.package_dir.resolve()
    if entry.training_id is not None:
        home = settings.training_dir(entry.training_id).resolve()
    else:
        home = (settings.data_dir / MODELS_DIR).resolve()
    if not package.is_relative_to(home) or package == home:
        raise InvalidInputError(f"The package of {entry.name!r} is at {package}, outside {home}; it is not "
                                "deleted here. Remove it by hand if it should go.")
    relative = entry.package_dir.relative_to(settings.data_dir).as_posix()
    with session_scope(engine) as session:
        runs = repo.active_predictions(session, relative)
    if runs:
        numbers = ", ".join(str(r.id) for r in runs)
        raise JobError(f"The model {entry.name!r} is in use by prediction run(s) {numbers}; wait for them to "
                       "end (or cancel them on the Apply page), then delete it.")
    # renamed aside first: a deletion cut short leaves a hidden folder, never a half package listed as broken
    aside = package.parent / f".deleting-{uuid.uuid4().hex[:12]}"
    try:
        package.rename(aside)
    except FileNotFoundError as exc:
        raise NotFoundError(f"The package of {entry.name!r} is gone already ({package}).") from exc
    except OSError as exc:
        raise StorageError(f"The package {package} cannot be removed ({exc}); check the data folder's "
                           "permissions, then delete the model again.") from exc
    if entry.training_id is not None:
        with session_scope(engine) as session:
            repo.update_training(session, entry.training_id, model_dir="")
    shutil.rmtree(aside, ignore_errors=True)
    return entry


def export_model_zip(entry: ModelEntry) -> bytes:
    """The model's package as the bytes of a ZIP holding ``model/`` (what Apply and `model import` read)."""
    from core.inference.package_io import export_model_package

    if entry.broken is not None:
        raise ModelPackageError(f"The model {entry.name!r} is broken ({entry.broken}); "
                                "it cannot be exported.")
    with tempfile.TemporaryDirectory(prefix="segstudio-export-") as folder:
        dest = export_model_package(entry.package_dir, Path(folder) / "model.zip")
        return dest.read_bytes()


def export_file_name(entry: ModelEntry) -> str:
    """``<name>-model.zip`` with only letters, digits, dots, dashes and underscores."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in entry.name).strip("-.")
    return f"{safe or 'model'}-model.zip"


def bioimageio_refusal(package_dir: Path) -> str | None:
    """Why the package at ``package_dir`` cannot be downloaded for bioimage.io (a damaged card, or a model the
    spec export does not cover), in one sentence; None when it can."""
    from core.bioimageio.tensors import export_refusal

    try:
        card = read_card(package_dir)
    except ModelPackageError as exc:
        return str(exc)
    return export_refusal(card)


def export_bioimageio_zip(package_dir: Path, name: str) -> bytes:
    """The bytes of the bioimage.io package (spec 0.5) of the package at ``package_dir``, called ``name``
    (:func:`core.bioimageio.export_bioimageio`)."""
    from core.bioimageio import export_bioimageio

    with tempfile.TemporaryDirectory(prefix="segstudio-bioimageio-") as folder:
        return export_bioimageio(package_dir, Path(folder) / "bioimageio.zip", name=name).read_bytes()


def bioimageio_file_name(name: str) -> str:
    """``<name>-bioimageio.zip`` with only letters, digits, dots, dashes and underscores."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name).strip("-.")
    return f"{safe or 'model'}-bioimageio.zip"


def _entry(entries: list[ModelEntry], key: str) -> ModelEntry:
    for entry in entries:
        if entry.key == key:
            return entry
    raise NotFoundError(f"No model {key!r}; it may have been deleted. Look at the list of models again.")


def _refuse_shipped(entry: ModelEntry, what: str) -> None:
    if entry.shipped:
        raise InvalidInputError(f"{entry.name!r} is shipped with segstudio; it cannot be {what}. Export it and "
                                "import the ZIP (on Apply or the Models page) to keep a copy of your own.")


def _shipped_name(key: str) -> str:
    from core.starters import starter

    return starter(key).name


def _imported_name(card: dict, package: Path) -> str:
    shown = card.get(DISPLAY_NAME)
    return shown.strip() if isinstance(shown, str) and shown.strip() else package.name


def _size(package: Path) -> int:
    try:
        return sum(p.stat().st_size for p in package.rglob("*") if p.is_file())
    except OSError:
        return 0
