"""Tiny seeded detection data and a stored detection training for the report, page and CLI tests: bright and
dim squares on noise (two labels), trained for a few steps with the real engine."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.config import Settings
from core.db import repo, session_scope
from core.db.models import SUCCEEDED, Training, utcnow
from core.training.config import LabelSpec, TrainConfig
from core.training.sources import BoxImage, TrainingImage
from core.training.types import training_type

LABELS = (LabelSpec(1, "bright", "#e6194b"), LabelSpec(2, "dim", "#3cb44b"))


def squares(seed: int, size: int = 64, count: int = 5) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """(uint8 image (1, size, size), boxes (label, y0, x0, y1, x1)) of ``count`` squares, label 0 bright and
    label 1 dim, apart from each other."""
    rng = np.random.default_rng(seed)
    image = rng.normal(30, 5, (size, size))
    boxes: list[tuple[int, ...]] = []
    taken = np.zeros((size, size), dtype=bool)
    for _ in range(200):
        if len(boxes) == count:
            break
        side = int(rng.integers(7, 13))
        y, x = (int(v) for v in rng.integers(1, size - side - 1, size=2))
        if taken[max(y - 2, 0) : y + side + 2, max(x - 2, 0) : x + side + 2].any():
            continue
        label = len(boxes) % 2
        taken[y : y + side, x : x + side] = True
        image[y : y + side, x : x + side] += 170 if label == 0 else 90
        boxes.append((label, y, x, y + side, x + side))
    return np.clip(image, 0, 255).astype(np.uint8)[None], boxes


def box_images(n: int, start: int = 0) -> list[TrainingImage]:
    return [BoxImage(f"sq{start + i}.png", *squares(start + i), n_labels=len(LABELS)) for i in range(n)]


def box_config(**kw) -> TrainConfig:
    values = {"training_type": "detection", "labels": LABELS, "patch_size": 64, "batch_size": 2,
              "learning_rate": 3e-3, "seed": 0, "max_steps": 10, "steps_per_epoch": 5, "views": 1,
              **training_type("detection").config_defaults}
    values.update(kw)
    return TrainConfig(**values)


@dataclass
class StoredTraining:
    """A succeeded detection training as the worker leaves it (its epochs in the database, its metrics, model
    and report), with the samples it was assessed on."""

    settings: Settings
    engine: object
    training_id: int
    config: TrainConfig
    val_images: list[TrainingImage]
    samples: list
    assessment: object
    report: Path


def stored_detection_training(settings: Settings, engine, *, name: str = "boxes run") -> StoredTraining:
    """Train a tiny detection model and store it, its epochs, metrics and report as the training job does
    (without the project's images: the images are in memory)."""
    from core.projects import create_project
    from core.training.assessment import assess
    from core.training.job import extract_visualizations, metrics_summary, validation_samples
    from core.training.loop import train
    from core.training.package import load_model
    from core.training.report_assembly import build_training_report, examples_from

    project = create_project(settings, engine, f"project of {name}")
    cfg = box_config()
    with session_scope(engine) as s:
        for spec in LABELS:
            repo.add_label(s, project.id, spec.name, spec.color)
        t = repo.add_training(s, Training(
            project_id=project.id, name=name, status=SUCCEEDED, started_at=utcnow(),
            config={"train_config": cfg.to_dict(), "budget_seconds": 300,
                    "wizard": {"training_type": "detection", "split_mode": "random"}}))
    train_images, val_images = box_images(3), box_images(2, start=3)
    workdir = settings.training_dir(t.id)

    workdir.mkdir(parents=True)
    (workdir / "dataset.json").write_text(json.dumps({
        part: [_record(im) for im in images] for part, images in (("training", train_images),
                                                                  ("validation", val_images))}))

    def on_progress(p) -> None:
        if p.record:
            record = {"epoch": p.epoch, "step": p.step, **p.record}
            with session_scope(engine) as s:
                repo.add_epoch_metric(s, repo.epoch_metric(t.id, record))

    result = train(cfg, train_images, val_images, budget_seconds=300, workdir=workdir,
                   on_progress=on_progress, device="cpu")
    model, card = load_model(result.package_dir, "cpu")
    samples = validation_samples(val_images, cfg)
    assessment = assess(model, card, samples)
    metrics = metrics_summary(assessment, result.metrics)
    metrics["kept"] = {"epoch": result.best_epoch, "weight_average": False}
    with session_scope(engine) as s:
        repo.update_training(s, t.id, metrics=metrics, finished_at=utcnow(), progress=1.0,
                             model_dir=Path(result.package_dir).relative_to(settings.data_dir).as_posix())
    report = build_training_report(settings, engine, t.id, status=SUCCEEDED,
                                   examples=examples_from(samples, assessment),
                                   pr_curves=assessment.pr_curves())
    extract_visualizations(report, workdir / "validation_visualizations")
    return StoredTraining(settings, engine, t.id, cfg, val_images, samples, assessment, report)


def _record(image: TrainingImage) -> dict:
    """The image's entry of dataset.json, as the training job writes it."""
    objects = {spec.name: sum(1 for b in image.object_boxes if b[0] == k) for k, spec in enumerate(LABELS)}
    return {"id": 0, "name": image.key, "width": image.width, "height": image.height,
            "channels": image.channels, "dtype": image.dtype, "content_hash": image.content_hash,
            "objects": objects, "annotated_by": "hand"}
