"""Model packages and trainings made by a test: a valid card and a stand-in weights file (the catalog, the
Models page, rename, delete and export never load the weights)."""

from __future__ import annotations

import json
from pathlib import Path

from core.config import Settings
from core.db import repo, session_scope
from core.db.models import SUCCEEDED, EpochMetric, Training, utcnow
from core.predictions import MODELS_DIR
from core.training.package import CARD, WEIGHTS


def write_card(package: Path, *, name: str = "nuclei", training_type: str = "semantic",
               metrics: dict | None = None) -> Path:
    package.mkdir(parents=True, exist_ok=True)
    card = {"format_version": 1, "architecture": "smp.Unet", "encoder": "resnet18-compact", "in_channels": 1,
            "out_channels": 1 if training_type == "semantic" else 2, "training_type": training_type,
            "labels": [{"id": 1, "name": "nucleus", "color": "#e6194b"}], "distance_head": False,
            "normalization": {"method": "percentile", "low": [0.0], "high": [255.0]}, "name": name,
            "created_at": "2024-05-01T10:00:00+00:00",
            "training": {"steps": 120, "epochs": 3, "batch_size": 4, "device": "CPU (2 threads)",
                         "seconds": 61.0}}
    if metrics is not None:
        card["metrics"] = metrics
    (package / CARD).write_text(json.dumps(card), encoding="utf-8")
    (package / WEIGHTS).write_bytes(b"w" * 1000)
    return package


def imported_package(settings: Settings, folder: str, **card) -> Path:
    return write_card(settings.data_dir / MODELS_DIR / folder, **card)


def trained_model(settings: Settings, engine, project_id: int, name: str, *, config: dict | None = None,
                  overall: dict | None = None, curves: tuple[tuple[float, float], ...] = ()) -> Training:
    """A succeeded training with a package, its overall scores and one epoch row per
    (val_accuracy, val_iou)."""
    with session_scope(engine) as s:
        t = repo.add_training(s, Training(
            project_id=project_id, name=name, status=SUCCEEDED, config=config or {}, progress=1.0,
            started_at=utcnow(), finished_at=utcnow(),
            metrics={"overall": overall or {"iou": 0.8123, "accuracy": 0.9871},
                     "per_label": [{"label": "nucleus", "pixel_iou": (overall or {}).get("iou", 0.8123)}],
                     "kept": {"epoch": max(len(curves), 1), "weight_average": False}}))
        for epoch, (acc, iou) in enumerate(curves, start=1):
            repo.add_epoch_metric(s, EpochMetric(training_id=t.id, epoch=epoch, step=40 * epoch,
                                                 train_loss=1.0 / epoch, val_loss=1.1 / epoch,
                                                 val_accuracy=acc, val_iou=iou))
    package = write_card(settings.training_dir(t.id) / "model", name=name)
    with session_scope(engine) as s:
        return repo.update_training(s, t.id, model_dir=package.relative_to(settings.data_dir).as_posix())
