"""Trainings side by side: their curves, a metrics table and the settings in which they differ.

:func:`compare` works on plain dicts (one per training, see :func:`training_record`) and returns the three
parts as lists of dicts, ready for a figure and for tables; :func:`load_comparison` gathers those dicts from
the database, the trainings' model cards and the projects' image names. The Compare page shows the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.engine import Engine

from core.config import Settings
from core.db import repo, session_scope
from core.db.models import Training
from core.errors import InvalidInputError, ModelPackageError
from core.reports.formatting import format_duration
from core.training.package import read_card
from core.training.types import stored_type
from core.training.types.base import PIXEL_CURVES, PIXEL_KEPT_SCORES

#: overall score -> the name shown (the words of the Trainings page's tables and the report)
OVERALL_NAMES = {
    "accuracy": "Pixel accuracy", "iou": "IoU", "f1": "F1@0.5", "precision": "Precision", "recall": "Recall",
    "mean_ap": "mAP", "mean_matched_iou": "IoU of matches", "map_50": "mAP@0.5", "map_50_95": "mAP@0.5:0.95",
    "balanced_accuracy": "Balanced accuracy", "macro_f1": "Macro-F1", "top2_accuracy": "Top-2 accuracy",
}
#: per-label score -> the name shown after the label's name ("nucleus IoU")
LABEL_NAMES = {"pixel_iou": "IoU", "pixel_dice": "Dice", "f1": "F1@0.5", "ap_50": "AP@0.5"}
Chart = tuple[str, str, str, str]  # title, y-axis label, training key, validation key
#: setting -> the name shown in the configuration diff, in this order; other settings follow by their key
SETTING_NAMES = {
    "training_type": "Training type", "labels": "Labels", "split_mode": "Split", "image_type": "Image type",
    "train_images": "Training images", "val_images": "Validation images",
    "background_images": "Background images",
    "duration": "Duration", "budget_seconds": "Time budget (s)", "encoder": "Network", "start": "Started from",
    "seed": "Seed", "normalization": "Normalisation", "scale": "Working scale", "patch_size": "Patch size",
    "batch_size": "Batch size", "learning_rate": "Learning rate", "roi_only": "Regions of interest only",
    "max_steps": "Steps (fixed)", "views": "Test-time views", "average_from": "Weight averaging from",
    "use_distance_head": "Distance head", "tune_postprocessing": "Tuned post-processing",
}
MISSING = "—"
DIGITS = 3
_NAMED_IMAGES = 4  # image names listed before "and N more"


@dataclass(frozen=True)
class Comparison:
    """``curves``: one dict per training (``label``, ``epoch``, ``charts`` (its training type's: title, y-axis
    label, training key, validation key), a list per chart key (:func:`curve_keys`) and ``kept``);
    ``facts`` and ``scores``: one row per training (readable column names, rounded); ``diff``: one row per
    setting that differs (``Setting`` and one column per training)."""

    curves: list[dict[str, Any]]
    facts: list[dict[str, Any]]
    scores: list[dict[str, Any]]
    diff: list[dict[str, Any]]


def kept_epoch(
    metrics: dict, last_epoch: int | None, marks: dict[str, str] = PIXEL_KEPT_SCORES
) -> tuple[int, dict[str, float | None]] | None:
    """(epoch, {validation key: value}) of the model the metrics table scores (the Trainings page marks it),
    or None when unknown: the best epoch, or the last one when the late weights' average was kept.
    ``marks``: validation key -> key of the metrics' ``overall`` (the training type's ``kept_scores``)."""
    kept, overall = metrics.get("kept") or {}, metrics.get("overall") or {}
    if last_epoch is None or not overall or kept.get("epoch") is None:
        return None
    epoch = last_epoch if kept.get("weight_average") else int(kept["epoch"])
    return epoch, {val_key: overall.get(key) for val_key, key in marks.items()}


def curve_keys(charts: Sequence[Chart]) -> tuple[str, ...]:
    """The epoch-row keys of ``charts``: each chart's training and validation key."""
    return tuple(dict.fromkeys(key for chart in charts for key in chart[2:]))


def compare(trainings: Sequence[dict[str, Any]]) -> Comparison:
    """The comparison of two or more trainings, each a dict as :func:`training_record` makes it."""
    if len(trainings) < 2:
        raise InvalidInputError(f"Choose at least two trainings to compare (got {len(trainings)}).")
    labels = [_label(t) for t in trainings]
    if len(set(labels)) != len(labels):
        raise InvalidInputError("The same training is chosen twice; choose different trainings.")
    curves = []
    for t, label in zip(trainings, labels, strict=True):
        rows = sorted(t.get("curves") or [], key=lambda r: r["epoch"])
        kind = stored_type(t.get("config"))
        charts = kind.curves if kind is not None else PIXEL_CURVES
        entry: dict[str, Any] = {"label": label, "epoch": [r["epoch"] for r in rows], "charts": charts}
        entry.update({key: [r.get(key) for r in rows] for key in curve_keys(charts)})
        entry["kept"] = kept_epoch(t.get("metrics") or {}, rows[-1]["epoch"] if rows else None,
                                   kind.kept_scores if kind is not None else PIXEL_KEPT_SCORES)
        curves.append(entry)
    facts = [_facts(t, label) for t, label in zip(trainings, labels, strict=True)]
    scores = [_scores(t, label) for t, label in zip(trainings, labels, strict=True)]
    for row in scores:  # every row has every column (a label that only one training has: "—")
        for column in dict.fromkeys(c for r in scores for c in r):
            row.setdefault(column, None)
    settings = [settings_of(t) for t in trainings]
    diff = []
    for key in _ordered(k for s in settings for k in s):
        values = [s.get(key, MISSING) for s in settings]
        if len({repr(v) for v in values}) > 1:
            diff.append({"Setting": SETTING_NAMES.get(key, key.replace("_", " ").capitalize()),
                         **{label: _shown(v) for label, v in zip(labels, values, strict=True)}})
    return Comparison(curves=curves, facts=facts, scores=scores, diff=diff)


def settings_of(training: dict[str, Any]) -> dict[str, Any]:
    """The settings of one training that a comparison looks at: the wizard's choices, the split and the
    training configuration (flattened one level: ``augment.flip``)."""
    config = training.get("config") or {}
    wizard, train = config.get("wizard") or {}, dict(config.get("train_config") or {})
    split, names = training.get("split") or {}, training.get("image_names") or {}
    out: dict[str, Any] = {}
    labels = train.pop("labels", None)
    out["training_type"] = train.pop("training_type", wizard.get("training_type"))
    if labels is not None:
        out["labels"] = ", ".join(str(lab.get("name", lab.get("id"))) for lab in labels)
    for key in ("split_mode", "image_type"):
        if key in wizard:
            out[key] = wizard[key]
    for key, ids in (("train_images", split.get("train")), ("val_images", split.get("val"))):
        if ids is not None:
            out[key] = _images(ids, names)
    if wizard.get("background_ids"):
        out["background_images"] = _images(wizard["background_ids"], names)
    if "budget_seconds" in config:
        out["budget_seconds"] = config["budget_seconds"]
    start = train.pop("start", None)  # the model it was fine-tuned from (its catalog key), or none
    out["start"] = start.get("key") if isinstance(start, dict) else "random weights"
    for key, value in train.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    for key in ("duration", "encoder", "seed"):
        if key not in out and key in wizard:
            out[key] = wizard[key]
    return out


def training_record(training: Training, *, project: str, curves: list[dict], card: dict | None,
                    image_names: dict[int, str]) -> dict[str, Any]:
    """The dict :func:`compare` takes, from a training row and what belongs to it."""
    return {"id": training.id, "name": training.name, "project": project, "status": training.status,
            "config": training.config or {}, "split": training.split or {}, "metrics": training.metrics or {},
            "curves": curves, "card": card, "image_names": image_names,
            "seconds": _seconds(training.started_at, training.finished_at)}


def load_comparison(settings: Settings, engine: Engine, training_ids: Sequence[int]) -> Comparison:
    """The comparison of the given trainings (of any projects), read from the database and their cards."""
    records = []
    with session_scope(engine) as session:
        projects = {p.id: p.name for p in repo.list_projects(session)}
        for training_id in dict.fromkeys(training_ids):
            training = repo.get_training(session, training_id)
            curves = repo.epoch_records(session, training_id)
            names = {im.id: im.name for im in repo.list_images(session, training.project_id)}
            records.append((training, curves, names))
    out = []
    for training, curves, names in records:
        project = projects.get(training.project_id, MISSING)
        out.append(training_record(training, project=project, curves=curves, card=_card(settings, training),
                                   image_names=names))
    return compare(out)


# --- helpers ---------------------------------------------------------------------------------------------
def _label(training: dict[str, Any]) -> str:
    return f"#{training.get('id')} {training.get('name', '')}".strip()


def _facts(training: dict[str, Any], label: str) -> dict[str, Any]:
    card = training.get("card") or {}
    run = card.get("training") or {}
    curves = training.get("curves") or []
    steps = run.get("steps")
    if steps is None and curves:
        steps = max((r.get("step") or 0) for r in curves) or None
    seconds = run.get("seconds", training.get("seconds"))
    encoder = ((training.get("config") or {}).get("train_config") or {}).get("encoder") or card.get("encoder")
    return {"Training": label, "Project": training.get("project", MISSING), "Status": training.get("status"),
            "Epochs": len(curves), "Steps": steps,
            "Duration": format_duration(seconds) if seconds else MISSING,
            "Device": run.get("device") or MISSING, "Network": encoder or MISSING}


def _scores(training: dict[str, Any], label: str) -> dict[str, Any]:
    metrics = training.get("metrics") or {}
    row: dict[str, Any] = {"Training": label}
    overall = metrics.get("overall") or {}
    kind = stored_type(training.get("config"))
    own = kind.score_names if kind is not None else {}  # a classifier's accuracy is not of pixels
    for key, name in {**OVERALL_NAMES, **{k: v for k, v in own.items() if k in OVERALL_NAMES}}.items():
        if key in overall:
            row[name] = _round(overall[key])
    label_names = {**LABEL_NAMES, **{k: v for k, v in own.items() if k in LABEL_NAMES}}
    for per_label in metrics.get("per_label") or []:
        name = per_label.get("label")
        for key, shown in label_names.items():
            if name is not None and key in per_label:
                row[f"{name} {shown}"] = _round(per_label[key])
    return row


def _round(value: object) -> object:
    return round(value, DIGITS) if isinstance(value, float) else value


def _images(ids: Sequence[int], names: dict[int, str]) -> str:
    shown = [names.get(i, f"#{i}") for i in sorted(ids)]
    more = len(shown) - _NAMED_IMAGES
    listed = ", ".join(shown[:_NAMED_IMAGES]) + (f" and {more} more" if more > 0 else "")
    return f"{len(shown)}: {listed}" if shown else "0"


def _ordered(keys: Any) -> list[str]:
    unique = list(dict.fromkeys(keys))
    known = [k for k in SETTING_NAMES if k in unique]
    return known + sorted(k for k in unique if k not in SETTING_NAMES)


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    start = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
    end = end if end.tzinfo else end.replace(tzinfo=timezone.utc)
    return max((end - start).total_seconds(), 0.0)


def _card(settings: Settings, training: Training) -> dict | None:
    """The training's model card (steps, device, seconds), or None without a usable package (read as its
    training type reads its packages)."""
    package = settings.data_dir / training.model_dir if training.model_dir else None
    kind = stored_type(training.config)
    if package is None or not package.is_dir():
        return None
    try:
        return (kind.package_card(package) if kind is not None else read_card(package)) or None
    except ModelPackageError:
        return None
