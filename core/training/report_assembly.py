"""Gather a training's report from the database, its work folder and its model, then build the ZIP."""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from core.activity import author_name
from core.config import Settings
from core.db import repo, session_scope
from core.db.models import Training
from core.imaging import auto_contrast, compose_rgb
from core.reports import BoxExample, ClassifiedExample, ReportData, ValidationExample, build_report_zip
from core.training.assessment import Sample
from core.training.start_words import start_reproducibility
from core.training.types import TRAINING_TYPES, stored_type
from core.training.types.steps import LOSS_BEFORE_CARDS

REPORT_NAME = "report.zip"
__all__ = ["LOSS_BEFORE_CARDS", "REPORT_NAME", "build_training_report", "display_rgb", "examples_from"]


def _hardware(device: str) -> str:
    return f"{device or 'CPU'} · {platform.processor() or platform.machine()} · {platform.system()}"


def _duration(t: Training) -> float | None:
    if t.started_at is None:
        return None
    end = t.finished_at or datetime.now(timezone.utc)
    start = t.started_at if t.started_at.tzinfo else t.started_at.replace(tzinfo=timezone.utc)
    end = end if end.tzinfo else end.replace(tzinfo=timezone.utc)
    return (end - start).total_seconds()


def display_rgb(pixels: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) picture of an image (C, H, W): RGB as is, otherwise an automatic-contrast composite."""
    is_rgb = pixels.shape[0] == 3 and pixels.dtype == np.uint8
    return compose_rgb(pixels, contrast=auto_contrast(pixels), is_rgb=is_rgb)


def examples_from(samples: list[Sample], assessment: Any) -> list[ValidationExample | BoxExample]:
    """The validation pictures of ``samples`` as their assessment (:func:`core.training.assessment.assess`)
    draws them: label images, or boxes for a type whose results are boxes."""
    out = []
    for sample in samples:
        example = assessment.example(sample, display_rgb(sample.pixels))
        if example is not None:
            out.append(example)
    return out


def build_training_report(
    settings: Settings,
    engine: Engine,
    training_id: int,
    *,
    status: str | None = None,
    error: str | None = None,
    examples: list[ValidationExample | BoxExample | ClassifiedExample] | None = None,
    pr_curves: list[dict] | None = None,
) -> Path:
    """Write ``trainings/<id>/report.zip`` and record it; a failed training gets the short report.
    ``examples`` and ``pr_curves`` come from the scoring of the validation images (the training type's
    :meth:`~core.training.types.base.TrainingType.score_validation`)."""
    with session_scope(engine) as session:
        t = repo.get_training(session, training_id)
        project = repo.get_project(session, t.project_id)
        curves = repo.epoch_records(session, training_id)
    workdir = settings.training_dir(training_id)
    dataset_file = workdir / "dataset.json"
    dataset = json.loads(dataset_file.read_text(encoding="utf-8")) if dataset_file.exists() else {}
    card: dict[str, Any] = {}
    model_dir = settings.data_dir / t.model_dir if t.model_dir else None
    kind = stored_type(t.config) or TRAINING_TYPES["semantic"]  # records naming no known type: a pixel type's
    if model_dir is not None:
        card = kind.package_card(model_dir)  # validated: a card edited by hand is refused, the field named
    train_config = t.config.get("train_config", {})
    info = card.get("training", {})
    card_metrics = card.get("metrics", {})
    images = [{**r, "set": "training", "objects": r.get("objects", {})} for r in dataset.get("training", [])]
    images += [{**r, "set": "validation"} for r in dataset.get("validation", [])]
    final_status = status or t.status
    versions = card.get("package_versions") or {}
    try:
        versions = {**versions, "segstudio": metadata.version("segstudio")}
    except metadata.PackageNotFoundError:
        versions = {**versions, "segstudio": "source checkout"}
    data = ReportData(
        training={
            "id": t.id, "name": t.name, "project": project.name, "status": final_status,
            "created": t.created_at, "started": t.started_at, "finished": t.finished_at or datetime.now(timezone.utc),
            "duration_s": _duration(t), "hardware": _hardware(info.get("device", "")),
            "error": error if error is not None else t.error, "best_epoch": card_metrics.get("best_epoch"),
            "weight_average": card_metrics.get("weight_average"),
            "start_model": card_metrics.get("start_model"),
        },
        dataset={"images": images, "labels": [{"name": lab["name"], "color": lab["color"]}
                                               for lab in train_config.get("labels", [])]},
        config={
            **kind.report_config(train_config, card),
            "split": t.config.get("wizard", {}).get("split_mode", "random"),
            "duration": t.config.get("wizard", {}).get("duration", train_config.get("duration")),
            "budget_seconds": t.config.get("budget_seconds"),
            "start": card.get("start"),  # the model it started from (core.training.transfer), or None
        },
        curves=curves,
        metrics={k: v for k, v in (t.metrics or {}).items()
                 if k in ("overall", "per_label", "per_image", "confusion")},
        examples=examples or [],
        pr_curves=pr_curves or [],
        reproducibility={"seed": train_config.get("seed"), **start_reproducibility(card.get("start")),
                         **({"started_by": author} if (author := author_name(engine, t.account_id)) else {}),
                         "package_versions": versions,
                         "data_hashes": {r["name"]: r.get("content_hash", "") for r in images}},
        model_dir=model_dir if final_status == "succeeded" and card else None,
    )
    out = build_report_zip(data, workdir / REPORT_NAME)
    with session_scope(engine) as session:
        repo.update_training(session, training_id, report_path=out.relative_to(settings.data_dir).as_posix())
    return out
